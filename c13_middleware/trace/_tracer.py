"""The tracer: starts spans through one pipeline (sampler → span → processors → exporter)."""

from __future__ import annotations

import threading
import time
import weakref
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, Final

from .._version import __version__
from ..propagation._span_context import RANDOM_FLAG, SAMPLED_FLAG, SpanContext
from ..propagation._tracestate import TraceState
from ._api_bridge import install_opentelemetry
from ._config import Config
from ._context import _current_span, _suppressed, use_span
from ._env_export import explain_unexported
from ._ids import _getrandbits, new_span_id, new_trace_id
from ._processors import BatchSpanProcessor, MultiSpanProcessor, SimpleSpanProcessor, SpanProcessor
from ._resource import SCHEMA_URL, Resource, build_resource
from ._sampling import AlwaysOffSampler, AlwaysOnSampler, ParentBasedSampler, Sampler, SamplingDecision
from ._shutdown import install_sigterm_handler
from ._span import InstrumentationScope, Link, Span, SpanKind, clean_attributes


class _Current:
    def __repr__(self) -> str:
        return "CURRENT"


CURRENT: Final = _Current()
"""Default ``parent``: the span current in this context (pass ``parent=None`` to start a new trace)."""

EMPTY_TRACE_STATE = TraceState.EMPTY
# SpanContext is a NamedTuple: building it through tuple.__new__ skips the generated __new__'s Python frame.
_new_context = tuple.__new__
_SAMPLE = SamplingDecision.RECORD_AND_SAMPLE
_DROP = SamplingDecision.DROP


def _build_processor(config: Config) -> SpanProcessor | None:
    processors = list(config.processors)
    if config.exporter is not None:
        wrap = BatchSpanProcessor if config.export_mode == "batch" else SimpleSpanProcessor
        processors.append(wrap(config.exporter))
    if not processors:
        return None
    if any(isinstance(processor, BatchSpanProcessor) for processor in processors):
        install_sigterm_handler()  # spans will wait in a queue: a SIGTERM must not lose them
    return processors[0] if len(processors) == 1 else MultiSpanProcessor(processors)


def _own_batch_processors(tracer: Tracer) -> list[BatchSpanProcessor]:
    """The batch processor the tracer built for its ``exporter`` option (not those the user passed in)."""
    processor = tracer.processor
    members = processor.processors if isinstance(processor, MultiSpanProcessor) else (processor,)
    return [p for p in members if isinstance(p, BatchSpanProcessor) and p not in tracer.config.processors]


# How long a replaced default pipeline keeps taking the spans that end through it when something still holds its
# tracer (a span kept by the application, an exporter that keeps finished spans).
REPLACED_PIPELINE_GRACE = 30.0


def _retire_replaced(tracer: Tracer) -> None:
    """Shut down the batch processor ``tracer`` built for its exporter (export what is left, end its thread, shut
    the exporter down unless another pipeline uses it): as soon as nothing can end a span through ``tracer`` any
    more (no open or kept span, no reference), and at the latest after ``REPLACED_PIPELINE_GRACE`` seconds."""
    processors = _own_batch_processors(tracer)
    if processors:
        deadline = time.monotonic() + REPLACED_PIPELINE_GRACE
        for processor in processors:
            processor.retire_at(deadline)
        weakref.finalize(tracer, _retire, processors)


def _retire(processors: list[BatchSpanProcessor]) -> None:
    for processor in processors:
        processor.retire()


class Tracer:
    """Starts spans. ``Tracer(**options)`` builds its own pipeline from the same options ``configure`` takes."""

    scope: InstrumentationScope | str = InstrumentationScope("c13_middleware", __version__, SCHEMA_URL)

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
        self.limits = config.span_limits
        self._sampler = config.sampler
        self._follows_parent = _is_default_sampler(config.sampler)
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
        if attributes:
            cleaned, dropped = clean_attributes(attributes, self.limits)
        else:
            cleaned, dropped = {}, 0
        span = self.start_trusted(name, kind, parent_ctx, cleaned, links, start_time)
        if dropped:
            span.dropped_attributes_count = dropped
        return span

    def start_trusted(
        self,
        name: str,
        kind: SpanKind,
        parent_ctx: SpanContext | None,
        attributes: dict[str, Any],
        links: Sequence[Link] = (),
        start_time: int | None = None,
        span_type: type[Span] = Span,
    ) -> Span:
        """The request path's entry: ``attributes`` are already valid and within limits, and the span owns them.
        ``span_type``: a ``Span`` subclass to build (the OpenTelemetry API bridge's spans)."""
        if parent_ctx is not None and parent_ctx[0] and parent_ctx[1]:
            trace_id = parent_ctx[0]
            random_flag = parent_ctx[2] & RANDOM_FLAG  # Level 2: a continued trace keeps the caller's flag
            trace_state = parent_ctx[3]
        else:
            parent_ctx = None
            trace_id = _getrandbits(128) or new_trace_id()
            random_flag = RANDOM_FLAG
            trace_state = EMPTY_TRACE_STATE

        if self._disabled or _suppressed.get():
            sampled = False
            recording = False
        elif self._follows_parent:
            # The default sampler, decided inline: new traces are sampled, continued ones follow the parent's flag.
            sampled = recording = parent_ctx is None or bool(parent_ctx[2] & SAMPLED_FLAG)
        else:
            result = self._sampler.should_sample(parent_ctx, trace_id, name, kind, attributes, links)
            decision = result[0]
            sampled = decision is _SAMPLE
            recording = decision is not _DROP
            if result[1]:
                attributes.update(result[1])
            if result[2] is not None:
                trace_state = result[2]

        context = _new_context(
            SpanContext,
            (
                trace_id,
                _getrandbits(64) or new_span_id(),
                random_flag | SAMPLED_FLAG if sampled else random_flag,
                trace_state,
                False,
            ),
        )
        if not recording:
            return span_type(name, context, kind, parent_ctx, self, {}, (), False, start_time)
        span = span_type(name, context, kind, parent_ctx, self, attributes, (), True, start_time)
        if links:
            max_links = self.limits.max_links
            span.links = list(links[:max_links])
            span.dropped_links_count = max(0, len(links) - max_links)
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


def _is_default_sampler(sampler: Sampler) -> bool:
    """``ParentBasedSampler(AlwaysOnSampler())`` with its default delegates (exact types: a subclass may decide
    otherwise)."""
    return (
        type(sampler) is ParentBasedSampler
        and type(sampler.root) is AlwaysOnSampler
        and type(sampler.remote_parent_sampled) is AlwaysOnSampler
        and type(sampler.local_parent_sampled) is AlwaysOnSampler
        and type(sampler.remote_parent_not_sampled) is AlwaysOffSampler
        and type(sampler.local_parent_not_sampled) is AlwaysOffSampler
    )


def _ignore(span: Span) -> None:
    return None


_default_lock = threading.Lock()
_default: Tracer | None = None


def configure(**options: Any) -> Tracer:
    """Set the process-wide default pipeline that adapters and clients use unless given their own options.

    Keyword options override OpenTelemetry's environment variables. Returns the new default tracer. Spans started
    by the previous default still end through the previous pipeline, which is then shut down (its export thread
    ends): once nothing refers to the previous tracer, and at the latest ``REPLACED_PIPELINE_GRACE`` seconds later.
    With ``opentelemetry`` (default: when ``opentelemetry-api`` is importable and no other tracer provider is set)
    c13 becomes OpenTelemetry's tracer provider (docs/opentelemetry.md).
    """
    global _default
    tracer = _announce(Tracer(Config.from_env(**options)))
    with _default_lock:
        previous, _default = _default, tracer
    if previous is not None:
        _retire_replaced(previous)
    install_opentelemetry(tracer.config.opentelemetry)
    return tracer


def _announce(tracer: Tracer) -> Tracer:
    if tracer.processor is None and not tracer.config.disabled:
        explain_unexported()
    return tracer


def get_tracer() -> Tracer:
    """The process-wide default tracer, built from the environment on first use if ``configure`` was not called."""
    global _default
    tracer = _default
    if tracer is None:
        with _default_lock:
            if _default is None:
                _default = _announce(Tracer(Config.from_env()))
            tracer = _default
    return tracer


def tracer_of(span: Span | None) -> Tracer:
    """The tracer ``span`` ends through, so that work done inside it reuses its pipeline; the process default when
    there is no span or it was not started by a ``Tracer``."""
    if span is not None:
        owner = span.tracer
        if isinstance(owner, Tracer):
            return owner
    return get_tracer()


def resolve(options: Mapping[str, Any] | None = None) -> tuple[Config, Tracer]:
    """The configuration and tracer an adapter or client uses: the process default with ``options`` applied, sharing
    the default tracer unless the options change the pipeline (service, sampler, exporter, processors, limits)."""
    default = get_tracer()
    if not options:
        return default.config, default
    config = default.config.replace(**options)
    if config.pipeline_key == default.config.pipeline_key:
        return config, default
    return config, Tracer(config)


def _reset_default_for_tests() -> None:
    global _default
    with _default_lock:
        previous, _default = _default, None
    if previous is not None:
        _retire_replaced(previous)


__all__ = ["CURRENT", "Tracer", "configure", "get_tracer", "resolve", "tracer_of"]
