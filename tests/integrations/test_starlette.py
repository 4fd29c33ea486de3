from __future__ import annotations

import asyncio
import random
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.testclient import TestClient
from starlette.websockets import WebSocket

from c13_middleware import InMemoryExporter, SpanKind, StatusCode, Tracer, current_span
from c13_middleware.integrations.starlette import C13Middleware
from tests.conftest import traced_starlette


async def item(request: Request) -> Response:
    return PlainTextResponse(f"item {request.path_params['item_id']}")


async def boom(request: Request) -> Response:
    raise RuntimeError("kaboom")


async def stream(request: Request) -> Response:
    async def chunks() -> Any:
        for i in range(3):
            await asyncio.sleep(0.03)
            yield f"data: {i}\n\n"

    return StreamingResponse(chunks(), media_type="text/event-stream")


async def echo(websocket: WebSocket) -> None:
    await websocket.accept()
    text = await websocket.receive_text()
    await websocket.send_text(text.upper())
    await websocket.close(code=4001)


def make_app(options: dict[str, Any], **extra: Any) -> Starlette:
    routes = [
        Route("/items/{item_id:int}", item),
        Route("/boom", boom),
        Route("/stream", stream),
        Mount("/v{version}", routes=[Route("/items/{item_id:int}", item)]),
        WebSocketRoute("/ws", echo),
    ]
    return traced_starlette(routes, **options, **extra)


def test_route_template_names_the_span(options: dict[str, Any], exporter: InMemoryExporter) -> None:
    client = TestClient(make_app(options))
    assert client.get("/items/42").text == "item 42"
    assert client.get("/v2/items/5").status_code == 200
    assert client.get("/missing").status_code == 404
    spans = exporter.get_finished_spans()
    assert [s.name for s in spans] == ["GET /items/{item_id:int}", "GET /v{version}/items/{item_id:int}", "GET"]
    assert spans[0].attributes["http.route"] == "/items/{item_id:int}"
    assert spans[1].attributes["http.route"] == "/v{version}/items/{item_id:int}"
    assert "http.route" not in spans[2].attributes
    assert spans[2].attributes["http.response.status_code"] == 404


def test_exception_marks_span_and_is_reraised(options: dict[str, Any], exporter: InMemoryExporter) -> None:
    client = TestClient(make_app(options))
    with pytest.raises(RuntimeError, match="kaboom"):
        client.get("/boom")
    (span,) = exporter.get_finished_spans()
    assert span.name == "GET /boom"
    assert span.status.code is StatusCode.ERROR and span.attributes["error.type"] == "RuntimeError"
    assert [e.name for e in span.events] == ["exception"]


def test_server_sent_events_are_timed_fully(options: dict[str, Any], exporter: InMemoryExporter) -> None:
    client = TestClient(make_app(options))
    assert client.get("/stream").text.count("data:") == 3
    (span,) = exporter.get_finished_spans()
    assert (span.duration_ns or 0) >= 80_000_000


def test_websocket_is_one_span_with_close_code(options: dict[str, Any], exporter: InMemoryExporter) -> None:
    client = TestClient(make_app(options))
    with client.websocket_connect("/ws") as ws:
        ws.send_text("hi")
        assert ws.receive_text() == "HI"
    (span,) = exporter.get_finished_spans()
    assert span.kind is SpanKind.SERVER
    assert span.name == "GET /ws"
    assert span.attributes["url.scheme"] == "ws"
    assert span.attributes["websocket.close.code"] == 4001
    assert span.attributes["http.response.status_code"] == 101


def test_fastapi_routes_and_sync_endpoints_in_threadpool(options: dict[str, Any], exporter: InMemoryExporter) -> None:
    app = FastAPI()
    tracer = Tracer(exporter=exporter, export_mode="simple")

    @app.get("/users/{user_id}")
    def user(user_id: int) -> dict[str, int]:  # sync: FastAPI runs it in a worker thread
        with tracer.start_as_current_span("load user"):
            return {"id": user_id}

    app.add_middleware(C13Middleware, **options)
    client = TestClient(app)
    assert client.get("/users/3").json() == {"id": 3}
    child, server = exporter.get_finished_spans()
    assert server.name == "GET /users/{user_id}"
    assert child.parent == server.context


def test_concurrent_requests_do_not_leak_context(options: dict[str, Any], exporter: InMemoryExporter) -> None:
    tracer = Tracer(exporter=exporter, export_mode="simple")

    async def work(request: Request) -> Response:
        mine = current_span()
        for _ in range(2):
            await asyncio.sleep(random.random() / 100)
            with tracer.start_as_current_span("step") as step:
                await asyncio.sleep(random.random() / 100)
                assert step.parent == mine.context if mine else False
        return JSONResponse({"span": f"{mine.context.span_id:016x}" if mine else None})

    app = Starlette(routes=[Route("/work/{n}", work)])
    app.add_middleware(C13Middleware, **options)

    async def main() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            return await asyncio.gather(*(client.get(f"/work/{i}") for i in range(1000)))

    responses = asyncio.run(main())
    assert all(r.status_code == 200 for r in responses)
    spans = exporter.get_finished_spans()
    servers = {s.context.span_id: s for s in spans if s.kind is SpanKind.SERVER}
    steps = [s for s in spans if s.name == "step"]
    assert len(servers) == 1000 and len(steps) == 2000
    for step in steps:
        assert step.parent is not None and step.parent.span_id in servers
        assert servers[step.parent.span_id].context.trace_id == step.context.trace_id
    # each response reports its own server span, and each server span has exactly its two steps
    reported = {int(r.json()["span"], 16) for r in responses}
    assert reported == set(servers)
    per_server: dict[int, int] = {}
    for step in steps:
        assert step.parent is not None
        per_server[step.parent.span_id] = per_server.get(step.parent.span_id, 0) + 1
    assert set(per_server.values()) == {2}
