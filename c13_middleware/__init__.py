"""c13_middleware: distributed tracing and per-request profiling for Python web services.

Everything public is importable from here; the underscore modules are implementation.
"""

from __future__ import annotations

from ._asgi import C13ASGIMiddleware
from ._baggage import Baggage
from ._config import Config, ConfigError
from ._context import current_span, get_baggage, suppress_instrumentation, use_baggage, use_span
from ._exporters import ConsoleExporter, ExportResult, InMemoryExporter, JSONLinesExporter, SpanExporter
from ._limits import SpanLimits
from ._logs import DEFAULT_LOG_FORMAT, TraceContextFilter, add_trace_context, instrument_logging
from ._messaging import consumer_span, extract_message, inject_message, producer_span
from ._metrics import PrometheusMetrics, metrics_asgi_app, metrics_wsgi_app
from ._observe import RequestObserver
from ._otlp import Backoff, OTLPExporter, OTLPFileExporter
from ._processors import BatchSpanProcessor, SimpleSpanProcessor, SpanProcessor
from ._propagation import (
    BaggagePropagator,
    CompositePropagator,
    Propagated,
    Propagator,
    TraceContextPropagator,
    extract,
    inject,
)
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
from ._span import Event, Link, Span, SpanKind, SpanStatus, StatusCode
from ._span_context import SpanContext
from ._tracer import Tracer, configure, get_tracer
from ._tracestate import TraceState
from ._version import __version__
from ._wsgi import C13WSGIMiddleware

__all__ = [
    "AlwaysOffSampler",
    "AlwaysOnSampler",
    "Backoff",
    "Baggage",
    "BaggagePropagator",
    "BatchSpanProcessor",
    "C13ASGIMiddleware",
    "C13WSGIMiddleware",
    "CompositePropagator",
    "Config",
    "ConfigError",
    "ConsoleExporter",
    "DEFAULT_LOG_FORMAT",
    "Event",
    "ExportResult",
    "InMemoryExporter",
    "JSONLinesExporter",
    "Link",
    "OTLPExporter",
    "OTLPFileExporter",
    "ParentBasedSampler",
    "PrometheusMetrics",
    "Propagated",
    "Propagator",
    "RateLimitingSampler",
    "RequestObserver",
    "Resource",
    "Sampler",
    "SamplingDecision",
    "SamplingResult",
    "SimpleSpanProcessor",
    "Span",
    "SpanContext",
    "SpanExporter",
    "SpanKind",
    "SpanLimits",
    "SpanProcessor",
    "SpanStatus",
    "StatusCode",
    "TraceContextFilter",
    "TraceContextPropagator",
    "TraceIdRatioSampler",
    "TraceState",
    "Tracer",
    "__version__",
    "add_trace_context",
    "configure",
    "consumer_span",
    "current_span",
    "extract",
    "extract_message",
    "get_baggage",
    "get_tracer",
    "inject",
    "inject_message",
    "instrument_logging",
    "metrics_asgi_app",
    "metrics_wsgi_app",
    "producer_span",
    "suppress_instrumentation",
    "use_baggage",
    "use_span",
]
