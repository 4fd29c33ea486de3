"""The ways to expose the metrics: prometheus_client's own server, the ASGI/WSGI apps, the Django view."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
from django.test import Client, RequestFactory, override_settings
from prometheus_client import CollectorRegistry, start_http_server

import tests.django_app  # noqa: F401  (tests/server: configures Django settings)
from c13_middleware.export.prometheus import PrometheusMetrics, metrics_asgi_app
from c13_middleware.integrations.django_metrics import make_metrics_view, metrics_view
from tests.servers import uvicorn_server

SERVER_COUNT = "http_server_request_duration_seconds_count"


def record_one(metrics: PrometheusMetrics) -> None:
    metrics.rpc_call("server", service="s.S", method="M", grpc_status_code=0, duration_s=0.01)


def test_prometheus_client_http_server(registry: CollectorRegistry, metrics: PrometheusMetrics) -> None:
    record_one(metrics)
    server, thread = start_http_server(0, addr="127.0.0.1", registry=registry)
    try:
        response = httpx.get(f"http://127.0.0.1:{server.server_port}/metrics", timeout=10)
        assert response.status_code == 200
        assert "rpc_server_call_duration_seconds_count{" in response.text and 'rpc_method="M"' in response.text
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)


def test_asgi_app_runs_alone_under_a_server(registry: CollectorRegistry, metrics: PrometheusMetrics) -> None:
    record_one(metrics)
    with uvicorn_server(metrics_asgi_app(registry)) as url:
        response = httpx.get(f"{url}/metrics", headers={"accept": "application/openmetrics-text"}, timeout=10)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/openmetrics-text")
    assert response.text.rstrip().endswith("# EOF")
    assert 'rpc_method="M"' in response.text


def test_asgi_app_answers_lifespan(registry: CollectorRegistry) -> None:
    app = metrics_asgi_app(registry)
    incoming = [{"type": "lifespan.startup"}, {"type": "lifespan.unknown"}, {"type": "lifespan.shutdown"}]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return incoming.pop(0)

    async def send(message: Any) -> None:
        sent.append(message)

    asyncio.run(app({"type": "lifespan"}, receive, send))  # type: ignore[arg-type]
    assert [m["type"] for m in sent] == ["lifespan.startup.complete", "lifespan.shutdown.complete"]
    asyncio.run(app({"type": "websocket"}, receive, send))  # type: ignore[arg-type]  # other scopes are ignored, not crashed on
    assert len(sent) == 2


def test_django_view_for_a_registry(registry: CollectorRegistry, metrics: PrometheusMetrics) -> None:
    record_one(metrics)
    view = make_metrics_view(registry)
    factory = RequestFactory()
    response = view(factory.get("/metrics"))
    assert response.status_code == 200 and response["Content-Type"].startswith("text/plain")
    assert b'rpc_method="M"' in response.content and b"c13_spans_exported" in response.content
    only = view(factory.get("/metrics", {"name[]": "rpc_server_call_duration_seconds_count"})).content
    assert b"rpc_server_call_duration_seconds_count{" in only and b"c13_spans_exported" not in only
    assert view(factory.post("/metrics")).status_code == 405


def test_django_default_view_and_adapter_observers(registry: CollectorRegistry, options: dict[str, Any]) -> None:
    metrics = PrometheusMetrics(registry)
    with override_settings(C13={**options, "observers": [metrics]}):
        assert Client().get("/items/7/").status_code == 200
        assert Client().get("/items/8/").status_code == 200
    labels = {
        "http_request_method": "GET",
        "http_route": "/items/<int:item_id>/",
        "http_response_status_code": "200",
        "url_scheme": "http",
        "error_type": "",
    }
    assert registry.get_sample_value(SERVER_COUNT, labels) == 2

    PrometheusMetrics()  # the global registry, which metrics_view serves
    response = metrics_view(RequestFactory().get("/metrics"))
    assert response.status_code == 200 and b"# TYPE http_server_request_duration_seconds histogram" in response.content
