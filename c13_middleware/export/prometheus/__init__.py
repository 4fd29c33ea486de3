"""Metrics for traced requests and calls, and for c13 itself; ``prometheus_client`` is imported on first use.

See the "Prometheus metrics" section of docs/export.md.
"""

from __future__ import annotations

from .hooks import record_http_client_call, record_rpc_call, register_profiler_stats
from .prometheus import PrometheusMetrics, metrics_asgi_app, metrics_wsgi_app

__all__ = [
    "PrometheusMetrics",
    "metrics_asgi_app",
    "metrics_wsgi_app",
    "record_http_client_call",
    "record_rpc_call",
    "register_profiler_stats",
]
