"""Metrics for traced requests and calls, and for c13 itself; ``prometheus_client`` is imported on first use.

See the "Prometheus metrics" section of docs/export.md.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..._lazy import lazy_exports

if TYPE_CHECKING:
    from ...trace._health import register_profiler_stats
    from .prometheus import PrometheusMetrics, metrics_asgi_app, metrics_wsgi_app

__all__ = [
    "PrometheusMetrics",
    "metrics_asgi_app",
    "metrics_wsgi_app",
    "register_profiler_stats",
]

_EXPORTS = {
    "...trace._health": ("register_profiler_stats",),
    ".prometheus": ("PrometheusMetrics", "metrics_asgi_app", "metrics_wsgi_app"),
}
__getattr__, __dir__ = lazy_exports(globals(), _EXPORTS)
