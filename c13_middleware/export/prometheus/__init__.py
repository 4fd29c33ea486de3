"""Metrics for traced requests and calls, and for c13 itself; ``prometheus_client`` is imported on first use.

See the "Prometheus metrics" section of docs/export.md.
"""

from __future__ import annotations

from ...trace._health import register_profiler_stats
from .prometheus import PrometheusMetrics, metrics_asgi_app, metrics_wsgi_app

__all__ = [
    "PrometheusMetrics",
    "metrics_asgi_app",
    "metrics_wsgi_app",
    "register_profiler_stats",
]
