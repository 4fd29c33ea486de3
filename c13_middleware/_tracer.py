"""The tracer: starts spans through one pipeline (sampler → span → processors → exporter)."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, Final

from ._config import Config
from ._context import _current_span, _suppressed, use_span
from ._ids import new_span_id, new_trace_id
from ._processors import BatchSpanProcessor, MultiSpanProcessor, SimpleSpanProcessor, SpanProcessor
from ._resource import Resource, build_resource
from ._sampling import SamplingDecision
from ._span import Link, Span, SpanKind
from ._span_context import RANDOM_FLAG, SAMPLED_FLAG, SpanContext


class _Current:
    def __repr__(self) -> str:
        return "CURRENT"


CURRENT: Final = _Current()
"""Default ``parent``: the span current in this context (pass ``parent=None`` to start a new trace)."""

_SAMPLE = SamplingDecision.RECORD_AND_SAMPLE
_DROP = SamplingDecision.DROP


def _build_processor(config: Config) -> SpanProcessor | None:
    processors = list(config.processors)
    if config.exporter is not None:
        wrap = BatchSpanProcessor if config.export_mode == "batch" else SimpleSpanProcessor
        processors.append(wrap(config.exporter))
    if not processors:
        return None
    return processors[0] if len(processors) == 1 else MultiSpanProcessor(processors)


class Tracer:
    """Starts spans. ``Tracer(**options)`` builds its own pipeline from the same options ``configure`` takes."""

    def __init__(self, config: Config | None = None, **options: Any) -> None:
        if config is None:
            config = Config.from_env(**options)
        elif options:
            config = config.replace(**options)
        self.config = config
        self.resource: Resource = build_resource(
            config.service_name, config.service_version, config.resource_attributes, {}
        )
        self.processor = _build_processor(config)
        self._limits = config.span_limits
        self._sampler = config.sampler
        self._disabled = config.disabled
        self._has_on_start = self.processor is not None and type(self.processor).on_start is not SpanProcessor.on_start
        processor = self.processor
        self.on_end = processor.on_end if processor is not None else _ignore

    def start_span(
        self,
        name: str,
        *,
        kind: SpanKind = SpanKind.INTERNAL,
        parent: Span | SpanContext | None | _Current = CURRENT,
        links: Sequence[Link] = (),
        attributes: Mapping[str, Any] | None = None,
        start_time: int | None = None,
    ) -> Span:
        """Start a span (not made current: see ``start_as_current_span``)."""
        if parent is CURRENT:
            current = _current_span.get()
            parent_ctx = current.context if current is not None else None
        elif isinstance(parent, Span):
            parent_ctx = parent.context
        else:
            parent_ctx = parent  # type: ignore[assignment]
        if parent_ctx is not None and not (parent_ctx.trace_id and parent_ctx.span_id):
            parent_ctx = None

        if parent_ctx is None:
            trace_id = new_trace_id()
            random_flag = RANDOM_FLAG
            trace_state = None
        else:
            trace_id = parent_ctx.trace_id
            random_flag = parent_ctx.trace_flags & RANDOM_FLAG  # Level 2: a continued trace keeps the caller's flag
            trace_state = parent_ctx.trace_state

        if self._disabled or _suppressed.get():
            decision = _DROP
            result_attributes = None
        else:
            result = self._sampler.should_sample(parent_ctx, trace_id, name, kind, attributes, links)
            decision = result.decision
            result_attributes = result.attributes
            if result.trace_state is not None:
                trace_state = result.trace_state

        flags = random_flag | SAMPLED_FLAG if decision is _SAMPLE else random_flag
        if trace_state is None:
            context = SpanContext(trace_id, new_span_id(), flags)
        else:
            context = SpanContext(trace_id, new_span_id(), flags, trace_state)
        if decision is _DROP:
            return Span(
                name, context, kind=kind, parent=parent_ctx, tracer=None, limits=self._limits,
                resource=self.resource, recording=False,
            )  # fmt: skip
        if result_attributes:
            attributes = {**(attributes or {}), **result_attributes}
        span = Span(
            name, context, kind=kind, parent=parent_ctx, tracer=self, limits=self._limits, resource=self.resource,
            attributes=attributes, links=links, start_time=start_time,
        )  # fmt: skip
        if self._has_on_start:
            self.processor.on_start(span)  # type: ignore[union-attr]
        return span

    def start_child_span(self, parent: Span, name: str, **kwargs: Any) -> Span:
        return self.start_span(name, parent=parent, **kwargs)

    @contextmanager
    def start_as_current_span(
        self,
        name: str,
        *,
        kind: SpanKind = SpanKind.INTERNAL,
        parent: Span | SpanContext | None | _Current = CURRENT,
        links: Sequence[Link] = (),
        attributes: Mapping[str, Any] | None = None,
        record_exception: bool = True,
    ) -> Iterator[Span]:
        """Start a span, make it current for the block, end it after; an exception is recorded and re-raised."""
        span = self.start_span(name, kind=kind, parent=parent, links=links, attributes=attributes)
        with use_span(span, end_on_exit=True, record_exception=record_exception):
            yield span

    span = start_as_current_span

    @staticmethod
    def current_span() -> Span | None:
        return _current_span.get()

    def force_flush(self, timeout_millis: float = 30_000) -> bool:
        return self.processor.force_flush(timeout_millis) if self.processor is not None else True

    def shutdown(self, timeout_millis: float = 30_000) -> None:
        if self.processor is not None:
            self.processor.shutdown(timeout_millis)


def _ignore(span: Span) -> None:
    return None


_default_lock = threading.Lock()
_default: Tracer | None = None


def configure(**options: Any) -> Tracer:
    """Set the process-wide default pipeline that adapters and clients use unless given their own options.

    Keyword options override OpenTelemetry's environment variables. Returns the new default tracer; spans started
    by the previous default still end through the previous pipeline.
    """
    global _default
    tracer = Tracer(Config.from_env(**options))
    with _default_lock:
        _default = tracer
    return tracer


def get_tracer() -> Tracer:
    """The process-wide default tracer, built from the environment on first use if ``configure`` was not called."""
    global _default
    tracer = _default
    if tracer is None:
        with _default_lock:
            if _default is None:
                _default = Tracer(Config.from_env())
            tracer = _default
    return tracer


def tracer_for(options: Mapping[str, Any]) -> Tracer:
    """The tracer an adapter uses: the default one, or its own when the options change the pipeline."""
    default = get_tracer()
    if not options:
        return default
    config = default.config.replace(**options)
    if config.pipeline_key == default.config.pipeline_key:
        return default
    return Tracer(config)


def _reset_default_for_tests() -> None:
    global _default
    with _default_lock:
        _default = None


__all__ = ["CURRENT", "Tracer", "configure", "get_tracer", "tracer_for"]
