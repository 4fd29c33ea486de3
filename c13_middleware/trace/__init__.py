"""Spans and the pipeline that records them: span, tracer, sampling, processors, exporters, resource, context,
limits and the shared configuration. Depends only on ``c13_middleware.propagation``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._lazy import lazy_exports

if TYPE_CHECKING:
    from ._config import Config, ConfigError
    from ._context import current_span, get_baggage, suppress_instrumentation, use_baggage, use_span
    from ._exporters import ConsoleExporter, ExportResult, InMemoryExporter, JSONLinesExporter, SpanExporter
    from ._limits import SpanLimits
    from ._observe import ObservedRequest, RequestObserver
    from ._processors import BatchSpanProcessor, SimpleSpanProcessor, SpanProcessor
    from ._resource import Resource
    from ._sampling import (
        AlwaysOffSampler,
        AlwaysOnSampler,
        ParentBasedSampler,
        RateLimitingSampler,
        Sampler,
        SamplingDecision,
        SamplingResult,
        TraceIdRatioSampler,
    )
    from ._shutdown import flush, flush_and_shutdown, set_shutdown_timeout
    from ._span import Event, Link, Span, SpanKind, SpanOwner, SpanStatus, StatusCode
    from ._tracer import Tracer, configure, get_tracer

__all__ = [
    "AlwaysOffSampler",
    "AlwaysOnSampler",
    "BatchSpanProcessor",
    "Config",
    "ConfigError",
    "ConsoleExporter",
    "Event",
    "ExportResult",
    "InMemoryExporter",
    "JSONLinesExporter",
    "Link",
    "ObservedRequest",
    "ParentBasedSampler",
    "RateLimitingSampler",
    "RequestObserver",
    "Resource",
    "Sampler",
    "SamplingDecision",
    "SamplingResult",
    "SimpleSpanProcessor",
    "Span",
    "SpanExporter",
    "SpanKind",
    "SpanLimits",
    "SpanOwner",
    "SpanProcessor",
    "SpanStatus",
    "StatusCode",
    "TraceIdRatioSampler",
    "Tracer",
    "configure",
    "flush",
    "flush_and_shutdown",
    "current_span",
    "get_baggage",
    "get_tracer",
    "set_shutdown_timeout",
    "suppress_instrumentation",
    "use_baggage",
    "use_span",
]

_EXPORTS = {
    "._config": ("Config", "ConfigError"),
    "._context": ("current_span", "get_baggage", "suppress_instrumentation", "use_baggage", "use_span"),
    "._exporters": ("ConsoleExporter", "ExportResult", "InMemoryExporter", "JSONLinesExporter", "SpanExporter"),
    "._limits": ("SpanLimits",),
    "._observe": ("ObservedRequest", "RequestObserver"),
    "._processors": ("BatchSpanProcessor", "SimpleSpanProcessor", "SpanProcessor"),
    "._resource": ("Resource",),
    "._sampling": (
        "AlwaysOffSampler",
        "AlwaysOnSampler",
        "ParentBasedSampler",
        "RateLimitingSampler",
        "Sampler",
        "SamplingDecision",
        "SamplingResult",
        "TraceIdRatioSampler",
    ),
    "._shutdown": ("flush", "flush_and_shutdown", "set_shutdown_timeout"),
    "._span": ("Event", "Link", "Span", "SpanKind", "SpanOwner", "SpanStatus", "StatusCode"),
    "._tracer": ("Tracer", "configure", "get_tracer"),
}
__getattr__, __dir__ = lazy_exports(globals(), _EXPORTS)
