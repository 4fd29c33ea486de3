"""c13_middleware: distributed tracing and per-request profiling for Python web services.

Everything public is importable from here; the underscore modules are implementation. Names are imported on first
use, so ``import c13_middleware`` stays cheap and an application that only adds the middleware never loads the
profiler, the exporters or the metrics.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from . import _compose  # noqa: F401  (wires the profiler, the OpenTelemetry bridge and the environment's exporters)
from ._lazy import lazy_exports
from ._version import __version__

if TYPE_CHECKING:
    from .client._messaging import consumer_span, extract_message, inject_message, producer_span
    from .export._logs import DEFAULT_LOG_FORMAT, TraceContextFilter, add_trace_context, instrument_logging
    from .export.otlp.exporter import OTLPExporter
    from .export.otlp.file import OTLPFileExporter
    from .export.otlp.retry import Backoff
    from .export.prometheus.prometheus import PrometheusMetrics, metrics_asgi_app, metrics_wsgi_app
    from .findings._detect import detect_findings
    from .findings._processor import FindingsProcessor
    from .findings._types import CodeSite, Finding, FindingThresholds
    from .profiling._api import Profiler, configure_sampler, finish_profile
    from .profiling._server_timing import profile_response_headers, server_timing_value
    from .profiling._session import ProfileSession
    from .profiling._store import ProfileStore, get_profile
    from .profiling._triggers import ProfileDecision, ProfilingPolicy, mint_token, verify_token
    from .profiling._types import (
        FunctionStats,
        IOEvent,
        ProfileReport,
        ProfileType,
        ProfilingThresholds,
        Recommendation,
    )
    from .profiling.renderers import render_collapsed, render_pprof, render_speedscope, render_svg, render_text
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
    from .trace._shutdown import flush, flush_and_shutdown, set_shutdown_timeout
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
    "CodeSite",
    "CompositePropagator",
    "Config",
    "ConfigError",
    "ConsoleExporter",
    "DEFAULT_LOG_FORMAT",
    "Event",
    "ExportResult",
    "Finding",
    "FindingThresholds",
    "FindingsProcessor",
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
    "detect_findings",
    "extract",
    "extract_message",
    "finish_profile",
    "flush",
    "flush_and_shutdown",
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
    "set_shutdown_timeout",
    "suppress_instrumentation",
    "use_baggage",
    "use_span",
    "verify_token",
]

# Where each public name is defined: the same modules and names as the imports above (tests/test_public_api.py
# checks that they agree).
_EXPORTS = {
    ".client._messaging": ("consumer_span", "extract_message", "inject_message", "producer_span"),
    ".export._logs": ("DEFAULT_LOG_FORMAT", "TraceContextFilter", "add_trace_context", "instrument_logging"),
    ".export.otlp.exporter": ("OTLPExporter",),
    ".export.otlp.file": ("OTLPFileExporter",),
    ".export.otlp.retry": ("Backoff",),
    ".export.prometheus.prometheus": ("PrometheusMetrics", "metrics_asgi_app", "metrics_wsgi_app"),
    ".findings._detect": ("detect_findings",),
    ".findings._processor": ("FindingsProcessor",),
    ".findings._types": ("CodeSite", "Finding", "FindingThresholds"),
    ".profiling._api": ("Profiler", "configure_sampler", "finish_profile"),
    ".profiling._server_timing": ("profile_response_headers", "server_timing_value"),
    ".profiling._session": ("ProfileSession",),
    ".profiling._store": ("ProfileStore", "get_profile"),
    ".profiling._triggers": ("ProfileDecision", "ProfilingPolicy", "mint_token", "verify_token"),
    ".profiling._types": (
        "FunctionStats",
        "IOEvent",
        "ProfileReport",
        "ProfileType",
        "ProfilingThresholds",
        "Recommendation",
    ),
    ".profiling.renderers": ("render_collapsed", "render_pprof", "render_speedscope", "render_svg", "render_text"),
    ".propagation._baggage": ("Baggage",),
    ".propagation._propagators": (
        "BaggagePropagator",
        "CompositePropagator",
        "Propagated",
        "Propagator",
        "TraceContextPropagator",
        "extract",
        "inject",
    ),
    ".propagation._span_context": ("SpanContext",),
    ".propagation._tracestate": ("TraceState",),
    ".server.asgi": ("C13ASGIMiddleware",),
    ".server.wsgi": ("C13WSGIMiddleware",),
    ".trace._config": ("Config", "ConfigError"),
    ".trace._context": ("current_span", "get_baggage", "suppress_instrumentation", "use_baggage", "use_span"),
    ".trace._exporters": ("ConsoleExporter", "ExportResult", "InMemoryExporter", "JSONLinesExporter", "SpanExporter"),
    ".trace._limits": ("SpanLimits",),
    ".trace._observe": ("RequestObserver",),
    ".trace._processors": ("BatchSpanProcessor", "SimpleSpanProcessor", "SpanProcessor"),
    ".trace._resource": ("Resource",),
    ".trace._sampling": (
        "AlwaysOffSampler",
        "AlwaysOnSampler",
        "ParentBasedSampler",
        "RateLimitingSampler",
        "Sampler",
        "SamplingDecision",
        "SamplingResult",
        "TraceIdRatioSampler",
    ),
    ".trace._shutdown": ("flush", "flush_and_shutdown", "set_shutdown_timeout"),
    ".trace._span": ("Event", "Link", "Span", "SpanKind", "SpanStatus", "StatusCode"),
    ".trace._tracer": ("Tracer", "configure", "get_tracer"),
}
__getattr__, __dir__ = lazy_exports(globals(), _EXPORTS)
