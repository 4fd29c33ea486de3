from __future__ import annotations

import c13_middleware

EXPECTED = {
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
    "Finding",
    "FindingThresholds",
    "FindingsProcessor",
    "ExportResult",
    "flush",
    "flush_and_shutdown",
    "set_shutdown_timeout",
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
}


def test_all_is_pinned_and_sorted() -> None:
    assert set(c13_middleware.__all__) == EXPECTED
    assert c13_middleware.__all__ == sorted(c13_middleware.__all__)


def test_every_exported_name_exists() -> None:
    for name in c13_middleware.__all__:
        assert getattr(c13_middleware, name) is not None, name


def test_core_imports_no_web_framework() -> None:
    import subprocess
    import sys

    code = (
        "import sys; from c13_middleware import *; "
        "frameworks = ('starlette', 'flask', 'django', 'httpx', 'grpc', 'werkzeug', 'fastapi'); "
        "bad = [m for m in frameworks if m in sys.modules]; "
        "print(bad); sys.exit(1 if bad else 0)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
