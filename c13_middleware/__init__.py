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
from ._profiling import (
    FunctionStats,
    IOEvent,
    ProfileDecision,
    Profiler,
    ProfileReport,
    ProfileSession,
    ProfileStore,
    ProfileType,
    ProfilingPolicy,
    ProfilingThresholds,
    Recommendation,
    configure_sampler,
    finish_profile,
    get_profile,
    mint_token,
    profile_response_headers,
    render_collapsed,
    render_pprof,
    render_speedscope,
    render_svg,
    render_text,
    server_timing_value,
    verify_token,
)
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
    "FunctionStats",
    "IOEvent",
    "InMemoryExporter",
    "JSONLinesExporter",
    "Link",
    "OTLPExporter",
    "OTLPFileExporter",
    "ParentBasedSampler",
    "ProfileDecision",
    "ProfileReport",
    "ProfileSession",
    "ProfileStore",
    "ProfileType",
    "Profiler",
    "ProfilingPolicy",
    "ProfilingThresholds",
    "PrometheusMetrics",
    "Propagated",
    "Propagator",
    "RateLimitingSampler",
    "Recommendation",
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
    "configure_sampler",
    "consumer_span",
    "current_span",
    "extract",
    "extract_message",
    "finish_profile",
    "get_baggage",
    "get_profile",
    "get_tracer",
    "inject",
    "inject_message",
    "instrument_logging",
    "metrics_asgi_app",
    "metrics_wsgi_app",
    "mint_token",
    "producer_span",
    "profile_response_headers",
    "render_collapsed",
    "render_pprof",
    "render_speedscope",
    "render_svg",
    "render_text",
    "server_timing_value",
    "suppress_instrumentation",
    "use_baggage",
    "use_span",
    "verify_token",
]
