"""Django: serve Prometheus metrics from a URL of the project.

    # urls.py
    from .django_metrics import metrics_view
    urlpatterns = [path("metrics", metrics_view), ...]

``metrics_view`` serves prometheus_client's global ``REGISTRY``; ``make_metrics_view(registry)`` another registry.
Exclude the path from tracing (``settings.C13 = {"exclude_paths": ["/metrics"], ...}``) so scrapes are not traced.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from ._require import require

require("django", "django")

from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed  # noqa: E402

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry

__all__ = ["make_metrics_view", "metrics_view"]


def make_metrics_view(registry: CollectorRegistry | None = None) -> Callable[[HttpRequest], HttpResponse]:
    """A GET view serving ``registry`` (default: the global ``REGISTRY``) in the format the scraper accepts."""
    from c13_middleware.export.prometheus.prometheus import _load, _registry

    exposition = _load("prometheus_client.exposition")
    source = _registry(registry)

    def view(request: HttpRequest) -> HttpResponse:
        if request.method not in ("GET", "HEAD"):
            return HttpResponseNotAllowed(["GET", "HEAD"])
        encoder, content_type = exposition.choose_encoder(request.headers.get("Accept", ""))
        names = request.GET.getlist("name[]")
        body: bytes = encoder(source.restricted_registry(names) if names else source)
        return HttpResponse(body, content_type=content_type)

    return view


def metrics_view(request: HttpRequest) -> HttpResponse:
    """The view serving prometheus_client's global ``REGISTRY``."""
    global _default_view
    if _default_view is None:
        _default_view = make_metrics_view()
    return _default_view(request)


_default_view: Callable[[HttpRequest], HttpResponse] | None = None
