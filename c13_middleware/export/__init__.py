"""Where spans and measurements leave the process: OTLP, Prometheus metrics and log correlation."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._lazy import lazy_exports

if TYPE_CHECKING:
    from ._logs import DEFAULT_LOG_FORMAT, TraceContextFilter, add_trace_context, instrument_logging
    from .otlp.exporter import OTLPExporter
    from .otlp.file import OTLPFileExporter
    from .otlp.retry import Backoff
    from .prometheus.prometheus import PrometheusMetrics, metrics_asgi_app, metrics_wsgi_app

__all__ = [
    "DEFAULT_LOG_FORMAT",
    "Backoff",
    "OTLPExporter",
    "OTLPFileExporter",
    "PrometheusMetrics",
    "TraceContextFilter",
    "add_trace_context",
    "instrument_logging",
    "metrics_asgi_app",
    "metrics_wsgi_app",
]

_EXPORTS = {
    "._logs": ("DEFAULT_LOG_FORMAT", "TraceContextFilter", "add_trace_context", "instrument_logging"),
    ".otlp.exporter": ("OTLPExporter",),
    ".otlp.file": ("OTLPFileExporter",),
    ".otlp.retry": ("Backoff",),
    ".prometheus.prometheus": ("PrometheusMetrics", "metrics_asgi_app", "metrics_wsgi_app"),
}
__getattr__, __dir__ = lazy_exports(globals(), _EXPORTS)
