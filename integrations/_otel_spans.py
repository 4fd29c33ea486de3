"""The OpenTelemetry API's view of c13 spans, and c13's view of OpenTelemetry spans.

* ``BridgeSpan``: a span started through an OpenTelemetry tracer. It *is* a c13 ``Span`` (the pipeline records,
  samples and exports it like any other) and an OpenTelemetry API ``Span``: no wrapper, no copy at the end.
* ``SpanView``: how a span c13 started itself (the request's SERVER span) looks to OpenTelemetry code.
* ``ForeignSpan``: how an OpenTelemetry span c13 did not start (a remote parent from a propagator, another
  provider's span) looks to c13 while it is current, so that c13 spans started inside it are its children.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from c13_middleware.propagation._span_context import INVALID_SPAN_CONTEXT, SpanContext
from c13_middleware.propagation._tracestate import TraceState
from c13_middleware.trace._limits import SpanLimits
from c13_middleware.trace._span import Link, Span, SpanKind, SpanStatus, StatusCode, clean_attributes

from ._require import require

require("opentelemetry.trace", "otel")

from opentelemetry import trace as otel_trace  # noqa: E402
from opentelemetry.trace import (  # noqa: E402
    INVALID_SPAN,
    Status as OtelStatus,
    StatusCode as OtelStatusCode,
    TraceFlags,
)
from opentelemetry.trace.span import (  # noqa: E402
    DEFAULT_TRACE_STATE,
    SpanContext as OtelSpanContext,
    TraceState as OtelTraceState,
)

_new = tuple.__new__
_FLAGS = [TraceFlags(flags) for flags in range(256)]
KINDS: dict[object, SpanKind] = {kind: SpanKind(kind.value + 1) for kind in otel_trace.SpanKind}
KINDS.update({kind: kind for kind in SpanKind})  # c13's own kinds are accepted as they are

# Flags kept on a BridgeSpan for an exception leaving a ``with`` block (start_span's two options).
RECORD_EXCEPTION = 1
SET_STATUS_ON_EXCEPTION = 2


def to_otel_context(ctx: SpanContext) -> OtelSpanContext:
    state = ctx.trace_state
    otel_state = OtelTraceState(list(state.items())) if state else DEFAULT_TRACE_STATE
    flags = _FLAGS[ctx.trace_flags & 0xFF]
    valid = ctx.trace_id != 0 and ctx.span_id != 0
    return _new(OtelSpanContext, (ctx.trace_id, ctx.span_id, ctx.is_remote, flags, otel_state, valid))


def from_otel_context(ctx: object) -> SpanContext | None:
    """c13's form of an OpenTelemetry ``SpanContext``; None when it is invalid or not one."""
    if not isinstance(ctx, OtelSpanContext) or not ctx.is_valid:
        return None
    state = ctx.trace_state
    c13_state = TraceState(tuple(state.items())) if state else TraceState.EMPTY
    return _new(SpanContext, (ctx.trace_id, ctx.span_id, int(ctx.trace_flags) & 0xFF, c13_state, bool(ctx.is_remote)))


def to_status(status: object, description: str | None) -> tuple[Any, str]:
    """``set_status`` arguments in c13's types; c13's own types pass through."""
    if isinstance(status, OtelStatus):
        return SpanStatus(StatusCode(status.status_code.value), status.description or ""), ""
    if isinstance(status, OtelStatusCode):
        return StatusCode(status.value), description or ""
    return status, description or ""


def to_link(context: object, attributes: Mapping[str, object] | None, limits: SpanLimits) -> Link | None:
    ctx = from_otel_context(context)
    kept, dropped = clean_attributes(attributes, limits)
    if ctx is None:  # the API lets an invalid context be dropped unless it carries something
        if not kept:
            return None
        ctx = INVALID_SPAN_CONTEXT
    return Link(ctx, kept, dropped)


def to_links(links: Sequence[otel_trace.Link] | None, limits: SpanLimits) -> list[Link]:
    """Something that is not a ``Link`` is treated as absent."""
    converted = (
        to_link(getattr(link, "context", None), getattr(link, "attributes", None), limits) for link in links or ()
    )
    return [link for link in converted if link is not None]


def add_link(span: Span, context: object, attributes: Mapping[str, object] | None) -> None:
    if not span.is_recording():
        return
    limits = span.limits
    link = to_link(context, attributes, limits)
    if link is None:
        return
    if len(span.links) >= limits.max_links:
        span.dropped_links_count += 1
        return
    if not isinstance(span.links, list):
        span.links = list(span.links)
    span.links.append(link)


def record_exception(
    span: Span, exception: BaseException, attributes: Mapping[str, object] | None, timestamp: int | None
) -> None:
    events = len(span.events)
    Span.record_exception(span, exception, attributes)
    if timestamp is not None and len(span.events) > events:
        span.events[-1] = span.events[-1]._replace(timestamp=timestamp)  # type: ignore[index]


def exception_left(span: Span, exception: BaseException, flags: int) -> None:
    """An exception left a span's ``with`` block: record it and set ERROR (unless the status was set), as the API
    documents. Only ``Exception``s: ``GeneratorExit`` and ``KeyboardInterrupt`` are not errors of the span."""
    if not isinstance(exception, Exception) or not span.is_recording():
        return
    if flags & RECORD_EXCEPTION:
        record_exception(span, exception, None, None)
    if flags & SET_STATUS_ON_EXCEPTION and span.status.code is StatusCode.UNSET:
        span.set_status(SpanStatus(StatusCode.ERROR, f"{type(exception).__name__}: {exception}"))


class BridgeSpan(Span, otel_trace.Span):  # type: ignore[misc]  # the bases' method types differ; ours take both
    """A c13 span started through the OpenTelemetry API. Each OpenTelemetry tracer makes a subclass whose class
    attribute ``scope`` is its instrumentation scope, so a span carries its scope at no cost."""

    __slots__ = ("_otel_context", "_on_exception")
    _otel_context: OtelSpanContext
    _on_exception: int  # RECORD_EXCEPTION | SET_STATUS_ON_EXCEPTION, set by the tracer

    def get_span_context(self) -> OtelSpanContext:
        try:
            return self._otel_context
        except AttributeError:
            self._otel_context = ctx = to_otel_context(self.context)
            return ctx

    def set_status(self, status: object, description: str | None = None) -> None:
        Span.set_status(self, *to_status(status, description))

    def record_exception(
        self,
        exception: BaseException,
        attributes: Mapping[str, object] | None = None,
        timestamp: int | None = None,
        escaped: bool = False,
    ) -> None:
        record_exception(self, exception, attributes, timestamp)

    def add_link(self, context: object, attributes: Mapping[str, object] | None = None) -> None:
        add_link(self, context, attributes)

    def __exit__(self, exc_type: object, exc: BaseException | None, tb: object) -> None:
        if exc is not None:
            exception_left(self, exc, getattr(self, "_on_exception", RECORD_EXCEPTION | SET_STATUS_ON_EXCEPTION))
        self.end()


class SpanView(otel_trace.Span):
    """A span c13 started itself, as OpenTelemetry code sees it while it is current."""

    __slots__ = ("span", "_otel_context")

    def __init__(self, span: Span) -> None:
        self.span = span
        self._otel_context: OtelSpanContext | None = None

    def __repr__(self) -> str:
        return f"<SpanView of {self.span!r}>"

    def get_span_context(self) -> OtelSpanContext:
        if self._otel_context is None:
            self._otel_context = to_otel_context(self.span.context)
        return self._otel_context

    def end(self, end_time: int | None = None) -> None:
        self.span.end(end_time)

    def set_attributes(self, attributes: Mapping[str, Any]) -> None:
        self.span.set_attributes(attributes)

    def set_attribute(self, key: str, value: Any) -> None:
        self.span.set_attribute(key, value)

    def add_event(
        self, name: str, attributes: Mapping[str, object] | None = None, timestamp: int | None = None
    ) -> None:
        self.span.add_event(name, attributes, timestamp)

    def add_link(self, context: object, attributes: Mapping[str, object] | None = None) -> None:
        add_link(self.span, context, attributes)

    def update_name(self, name: str) -> None:
        self.span.update_name(name)

    def is_recording(self) -> bool:
        return self.span.is_recording()

    def set_status(self, status: object, description: str | None = None) -> None:
        self.span.set_status(*to_status(status, description))

    def record_exception(
        self,
        exception: BaseException,
        attributes: Mapping[str, object] | None = None,
        timestamp: int | None = None,
        escaped: bool = False,
    ) -> None:
        record_exception(self.span, exception, attributes, timestamp)


class ForeignSpan(Span):
    """Stands for an OpenTelemetry span c13 did not start while it is current (never recording, never ended)."""

    __slots__ = ("otel_span",)
    otel_span: otel_trace.Span


def c13_span_of(otel_span: object, owner: Callable[[], Any]) -> Span | None:
    """The c13 span that stands for ``otel_span`` (``owner()``: the pipeline a ``ForeignSpan`` names); None for no
    span or an invalid one."""
    if isinstance(otel_span, Span):
        return otel_span
    if type(otel_span) is SpanView:
        return otel_span.span
    if otel_span is None or otel_span is INVALID_SPAN:
        return None
    try:
        ctx = from_otel_context(otel_span.get_span_context())  # type: ignore[attr-defined]
    except Exception:  # not a span after all: treated as absent
        return None
    if ctx is None:
        return None
    foreign = ForeignSpan("", ctx, SpanKind.INTERNAL, None, owner(), {}, (), False)
    foreign.otel_span = otel_span  # type: ignore[assignment]  # any object with get_span_context()
    return foreign


def otel_span_of(span: Span) -> otel_trace.Span:
    """The OpenTelemetry span that stands for c13's current ``span``."""
    either: object = span  # mypy cannot see that a class can be both kinds of span
    if isinstance(either, BridgeSpan):
        return either
    if type(span) is ForeignSpan:
        return span.otel_span
    return SpanView(span)


def parent_context(otel_span: object) -> tuple[Span | None, SpanContext | None]:
    """The c13 span behind ``otel_span`` (None for a foreign one) and the context a child continues."""
    if isinstance(otel_span, Span):
        return otel_span, otel_span.context
    if type(otel_span) is SpanView:
        return otel_span.span, otel_span.span.context
    if otel_span is INVALID_SPAN:
        return None, None
    try:
        return None, from_otel_context(otel_span.get_span_context())  # type: ignore[attr-defined]
    except Exception:  # not a span after all: treated as absent
        return None, None


__all__ = [
    "BridgeSpan",
    "ForeignSpan",
    "KINDS",
    "SpanView",
    "c13_span_of",
    "from_otel_context",
    "otel_span_of",
    "parent_context",
    "to_links",
    "to_otel_context",
]
