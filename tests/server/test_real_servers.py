from __future__ import annotations

import time
from typing import Any

import httpx
from django.core.handlers.asgi import ASGIHandler
from django.test import override_settings
from flask import Flask
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

import tests.django_app  # noqa: F401  (configures Django settings)
from c13_middleware import InMemoryExporter, SpanKind
from c13_middleware.integrations.flask import C13
from c13_middleware.integrations.starlette import C13Middleware
from tests.servers import uvicorn_server, werkzeug_server

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT_ID = "00f067aa0ba902b7"
TRACEPARENT = f"00-{TRACE_ID}-{PARENT_ID}-01"


def wait_for_spans(exporter: InMemoryExporter, count: int) -> list[Any]:
    deadline = time.monotonic() + 5
    while len(exporter.get_finished_spans()) < count and time.monotonic() < deadline:
        time.sleep(0.01)
    return exporter.get_finished_spans()


def assert_continues(span: Any) -> None:
    assert span.kind is SpanKind.SERVER
    assert f"{span.context.trace_id:032x}" == TRACE_ID
    assert span.parent is not None and f"{span.parent.span_id:016x}" == PARENT_ID and span.parent.is_remote
    assert span.attributes["client.address"] == "127.0.0.1"
    assert span.attributes["server.address"] == "127.0.0.1"


def test_starlette_under_uvicorn_continues_trace(options: dict[str, Any], exporter: InMemoryExporter) -> None:
    async def hello(request: Request) -> PlainTextResponse:
        return PlainTextResponse("hello")

    app = Starlette(routes=[Route("/hello/{name}", hello)])
    app.add_middleware(C13Middleware, **options)
    with uvicorn_server(app) as base:
        response = httpx.get(f"{base}/hello/x", headers={"traceparent": TRACEPARENT})
    assert response.text == "hello"
    (span,) = wait_for_spans(exporter, 1)
    assert_continues(span)
    assert span.name == "GET /hello/{name}"
    assert span.attributes["network.protocol.version"] == "1.1"


def test_django_asgi_under_uvicorn_continues_trace(options: dict[str, Any], exporter: InMemoryExporter) -> None:
    with override_settings(C13=options), uvicorn_server(ASGIHandler()) as base:
        response = httpx.get(f"{base}/async/items/9/", headers={"traceparent": TRACEPARENT})
    assert response.json()["id"] == 9
    (span,) = wait_for_spans(exporter, 1)
    assert_continues(span)
    assert span.name == "GET /async/items/<int:item_id>/"


def test_flask_under_werkzeug_continues_trace(options: dict[str, Any], exporter: InMemoryExporter) -> None:
    app = Flask(__name__)

    @app.get("/hello/<name>")
    def hello(name: str) -> str:
        return f"hello {name}"

    C13(app, **options)
    with werkzeug_server(app) as base:
        response = httpx.get(f"{base}/hello/x", headers={"traceparent": TRACEPARENT})
    assert response.text == "hello x"
    (span,) = wait_for_spans(exporter, 1)
    assert_continues(span)
    assert span.name == "GET /hello/<name>"
