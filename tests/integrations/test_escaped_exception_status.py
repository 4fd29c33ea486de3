"""An exception that escapes c13's ASGI middleware before a response started: the server answers 500, and the span and
the RED metrics say so (status 500, ``error.type`` the exception's type)."""

from __future__ import annotations

from typing import Any

import httpx
from fastapi import FastAPI
from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry

from c13_middleware import InMemoryExporter, StatusCode
from c13_middleware.export.prometheus import PrometheusMetrics
from c13_middleware.integrations.starlette import C13Middleware
from tests.servers import uvicorn_server

DURATION_COUNT = "http_server_request_duration_seconds_count"


class PaymentDeclined(Exception):
    pass


def fastapi_app(options: dict[str, Any], metrics: PrometheusMetrics) -> FastAPI:
    app = FastAPI()

    @app.get("/pay/{order}")
    async def pay(order: int) -> None:
        raise PaymentDeclined(f"order {order}")

    app.add_middleware(C13Middleware, observers=[metrics], **options)
    return app


def assert_500(exporter: InMemoryExporter, registry: CollectorRegistry) -> None:
    (span,) = exporter.get_finished_spans()
    assert span.attributes["http.response.status_code"] == 500
    assert span.status.code is StatusCode.ERROR
    error_type = f"{__name__}.PaymentDeclined"
    assert span.attributes["error.type"] == error_type
    assert [event.attributes["exception.type"] for event in span.events] == [error_type]
    labels = {
        "http_request_method": "GET",
        "http_route": "/pay/{order}",
        "http_response_status_code": "500",
        "url_scheme": "http",
        "error_type": error_type,
    }
    assert registry.get_sample_value(DURATION_COUNT, labels) == 1


def test_escaped_exception_is_a_500_under_the_test_client(options: dict[str, Any], exporter: InMemoryExporter) -> None:
    registry = CollectorRegistry()
    client = TestClient(fastapi_app(options, PrometheusMetrics(registry)), raise_server_exceptions=False)
    assert client.get("/pay/7").status_code == 500
    assert_500(exporter, registry)


def test_escaped_exception_is_a_500_under_uvicorn(options: dict[str, Any], exporter: InMemoryExporter) -> None:
    registry = CollectorRegistry()
    with uvicorn_server(fastapi_app(options, PrometheusMetrics(registry))) as url:
        assert httpx.get(f"{url}/pay/7", timeout=10).status_code == 500
    assert_500(exporter, registry)
