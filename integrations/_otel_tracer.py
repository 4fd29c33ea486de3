"""An OpenTelemetry API ``Tracer`` that starts c13 spans through the pipeline of the span it continues."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

from c13_middleware.trace._context import _Activation, _current_span
from c13_middleware.trace._span import InstrumentationScope, SpanKind, clean_attributes
from c13_middleware.trace._tracer import tracer_of

from ._require import require

require("opentelemetry.trace", "otel")

from opentelemetry import trace as otel_trace  # noqa: E402
from opentelemetry.context.context import Context  # noqa: E402

from ._otel_spans import (  # noqa: E402
    KINDS,
    RECORD_EXCEPTION,
    SET_STATUS_ON_EXCEPTION,
    BridgeSpan,
    exception_left,
    parent_context,
    to_links,
)

F = TypeVar("F", bound=Callable[..., Any])


class BridgeTracer(otel_trace.Tracer):
    """One instrumentation scope's tracer. The parent is the given context's span or c13's current span; the
    span ends through that parent's pipeline (the process default for a new trace), so a library's spans land
    wherever the request's spans go."""

    def __init__(self, scope: InstrumentationScope) -> None:
        self.scope = scope
        # Spans of this scope: a subclass whose class attribute is the scope (no per-span storage).
        self._span_type: type[BridgeSpan] = type("BridgeSpan", (BridgeSpan,), {"__slots__": (), "scope": scope})

    def __repr__(self) -> str:
        return f"<BridgeTracer {self.scope.name!r}>"

    def start_span(
        self,
        name: str,
        context: Context | None = None,
        kind: otel_trace.SpanKind = otel_trace.SpanKind.INTERNAL,
        attributes: Mapping[str, Any] | None = None,
        links: Sequence[otel_trace.Link] | None = None,
        start_time: int | None = None,
        record_exception: bool = True,
        set_status_on_exception: bool = True,
    ) -> BridgeSpan:
        if context is None:
            parent = _current_span.get()
            parent_ctx = parent.context if parent is not None else None
        else:
            parent, parent_ctx = parent_context(otel_trace.get_current_span(context))
        pipeline = tracer_of(parent)
        if attributes:
            kept, dropped = clean_attributes(attributes, pipeline.limits)
        else:
            kept, dropped = {}, 0
        span: BridgeSpan = pipeline.start_trusted(  # type: ignore[assignment]
            name,
            KINDS.get(kind, SpanKind.INTERNAL),
            parent_ctx,
            kept,
            to_links(links, pipeline.limits) if links else (),
            start_time,
            self._span_type,
        )
        if dropped:
            span.dropped_attributes_count = dropped
        span._on_exception = (RECORD_EXCEPTION if record_exception else 0) | (
            SET_STATUS_ON_EXCEPTION if set_status_on_exception else 0
        )
        return span

    def start_as_current_span(  # type: ignore[override]
        self,
        name: str,
        context: Context | None = None,
        kind: otel_trace.SpanKind = otel_trace.SpanKind.INTERNAL,
        attributes: Mapping[str, Any] | None = None,
        links: Sequence[otel_trace.Link] | None = None,
        start_time: int | None = None,
        record_exception: bool = True,
        set_status_on_exception: bool = True,
        end_on_exit: bool = True,
    ) -> CurrentSpan:
        args = (name, context, kind, attributes, links, start_time, record_exception, set_status_on_exception)
        return CurrentSpan(self, args, end_on_exit)


class CurrentSpan:
    """``start_as_current_span``'s result: a context manager (the span is c13's current span in the block), and a
    decorator for sync and async functions (each call gets its own span)."""

    __slots__ = ("_tracer", "_args", "_end_on_exit", "_span", "_activation")

    def __init__(self, tracer: BridgeTracer, args: tuple[Any, ...], end_on_exit: bool) -> None:
        self._tracer = tracer
        self._args = args
        self._end_on_exit = end_on_exit

    def __enter__(self) -> BridgeSpan:
        span = self._span = self._tracer.start_span(*self._args)
        self._activation = _Activation(span)
        return span

    def __exit__(self, exc_type: object, exc: BaseException | None, tb: object) -> None:
        span = self._span
        try:
            if exc is not None:
                exception_left(span, exc, span._on_exception)
        finally:
            self._activation.close()
            if self._end_on_exit:
                span.end()

    def _fresh(self) -> CurrentSpan:
        return CurrentSpan(self._tracer, self._args, self._end_on_exit)

    def __call__(self, func: F) -> F:
        fresh = self._fresh
        if inspect.iscoroutinefunction(func):

            @functools.wraps(func)
            async def run_async(*args: Any, **kwargs: Any) -> Any:
                with fresh():
                    return await func(*args, **kwargs)

            return run_async  # type: ignore[return-value]

        @functools.wraps(func)
        def run(*args: Any, **kwargs: Any) -> Any:
            with fresh():
                return func(*args, **kwargs)

        return run  # type: ignore[return-value]
