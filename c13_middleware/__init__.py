"""c13_middleware: distributed tracing and per-request profiling for Python web services.

Everything public is importable from here; the underscore modules are implementation.
"""

from __future__ import annotations

from ._version import __version__
from .client._messaging import consumer_span, extract_message, inject_message, producer_span
from .export._logs import DEFAULT_LOG_FORMAT, TraceContextFilter, add_trace_context, instrument_logging
from .export.otlp import Backoff, OTLPExporter, OTLPFileExporter
from .export.prometheus import PrometheusMetrics, metrics_asgi_app, metrics_wsgi_app
from .profiling import (
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
from .propagation._baggage import Baggage
from .propagation._propagators import (
    BaggagePropagator,
    CompositePropagator,
    Propagated,
    Propagator,
    TraceContextPropagator,
    extract,
    inject,
)
from .propagation._span_context import SpanContext
from .propagation._tracestate import TraceState
from .server.asgi import C13ASGIMiddleware
from .server.wsgi import C13WSGIMiddleware
from .trace._config import Config, ConfigError
from .trace._context import current_span, get_baggage, suppress_instrumentation, use_baggage, use_span
from .trace._exporters import ConsoleExporter, ExportResult, InMemoryExporter, JSONLinesExporter, SpanExporter
from .trace._limits import SpanLimits
from .trace._observe import RequestObserver
from .trace._processors import BatchSpanProcessor, SimpleSpanProcessor, SpanProcessor
from .trace._resource import Resource
from .trace._sampling import (
    AlwaysOffSampler,
    AlwaysOnSampler,
    ParentBasedSampler,
    RateLimitingSampler,
    Sampler,
    SamplingDecision,
    SamplingResult,
    TraceIdRatioSampler,
)
from .trace._span import Event, Link, Span, SpanKind, SpanStatus, StatusCode
from .trace._tracer import Tracer, configure, get_tracer

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


# --- composition: the server's per-request profiler -----------------------------------------------------------------
# The server layer sits below profiling and cannot import it: the profiler is registered here, and imported only when
# a middleware with profiling turned on is built (a service without profiling never loads it).
from typing import TYPE_CHECKING as _TYPE_CHECKING

from .server._extensions import set_request_profiler as _set_request_profiler

if _TYPE_CHECKING:
    from .profiling._server import RequestProfiler as _RequestProfiler


def _request_profiler(config: Config) -> _RequestProfiler:
    from .profiling._server import RequestProfiler

    return RequestProfiler(config)


_set_request_profiler(_request_profiler)
# --- end of the per-request profiler composition --------------------------------------------------------------------
