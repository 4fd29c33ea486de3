"""Context isolation under real-server concurrency: ~300 requests in flight at once on uvicorn (async and thread-pool
handlers) and gunicorn's threaded worker, each handler awaiting or sleeping between child spans. Every child's parent
is its own request's SERVER span, and every response echoes its own trace id."""

from __future__ import annotations

import asyncio
import os
import random
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path
from typing import Any

import httpx
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from c13_middleware import InMemoryExporter, SpanKind, Tracer, current_span
from tests.conftest import traced_starlette
from tests.servers import free_port, uvicorn_server

REQUESTS = 300
DEADLINE_S = 20.0


def traceparent(index: int) -> tuple[str, str, str]:
    """A distinct caller context per request: (header, trace id, parent span id)."""
    trace_id = f"{index + 1:08x}" + os.urandom(12).hex()
    parent_id = os.urandom(8).hex()
    return f"00-{trace_id}-{parent_id}-01", trace_id, parent_id


def echo(children: list[Any]) -> dict[str, Any]:
    span = current_span()
    assert span is not None
    return {
        "trace_id": f"{span.context.trace_id:032x}",
        "span_id": f"{span.context.span_id:016x}",
        "children": [f"{child.parent.span_id:016x}" for child in children],
    }


async def send_all(base: str, paths: list[str]) -> list[tuple[str, str, dict[str, Any]]]:
    """All requests at once (bounded by DEADLINE_S); each returns (trace id sent, parent id sent, body)."""
    limits = httpx.Limits(max_connections=REQUESTS, max_keepalive_connections=0)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=DEADLINE_S) as client:

        async def one(index: int, path: str) -> tuple[str, str, dict[str, Any]]:
            header, trace_id, parent_id = traceparent(index)
            response = await client.get(path, headers={"traceparent": header})
            assert response.status_code == 200, response.text
            return trace_id, parent_id, response.json()

        calls = [one(index, path) for index, path in enumerate(paths)]
        return await asyncio.wait_for(asyncio.gather(*calls), DEADLINE_S)


def check_echoes(results: list[tuple[str, str, dict[str, Any]]], children_per_request: int) -> None:
    for trace_id, _, body in results:
        assert body["trace_id"] == trace_id  # the handler saw its own request's span
        assert body["children"] == [body["span_id"]] * children_per_request


def test_uvicorn_300_concurrent_requests(exporter: InMemoryExporter, options: dict[str, Any]) -> None:
    tracer = Tracer(exporter=exporter, export_mode="simple")
    in_flight = peak = 0
    lock = threading.Lock()

    async def handler(request: Request) -> JSONResponse:
        nonlocal in_flight, peak
        with lock:
            in_flight += 1
            peak = max(peak, in_flight)
        children = []
        for step in range(2):
            await asyncio.sleep(0.2 if step == 0 else random.uniform(0, 0.02))  # all requests overlap here
            with tracer.start_as_current_span(f"async child {step}") as child:
                await asyncio.sleep(random.uniform(0, 0.01))
                children.append(child)
        with lock:
            in_flight -= 1
        return JSONResponse(echo(children))

    def sync_handler(request: Request) -> JSONResponse:  # Starlette runs it in its thread pool
        children = []
        for step in range(2):
            time.sleep(random.uniform(0, 0.01))
            with tracer.start_as_current_span(f"thread child {step}") as child:
                children.append(child)
        return JSONResponse(echo(children))

    app = traced_starlette([Route("/async", handler), Route("/sync", sync_handler)], **options)
    paths = ["/async" if index % 3 else "/sync" for index in range(REQUESTS)]
    started = time.monotonic()
    with uvicorn_server(app) as base:
        results = asyncio.run(send_all(base, paths))
    assert time.monotonic() - started < DEADLINE_S
    assert peak >= 100  # hundreds in flight at once, not a few
    check_echoes(results, 2)

    spans = exporter.get_finished_spans()
    servers = {span.context.trace_id: span for span in spans if span.kind is SpanKind.SERVER}
    assert len(servers) == REQUESTS
    for trace_id, parent_id, _ in results:
        server = servers[int(trace_id, 16)]
        assert server.parent is not None and f"{server.parent.span_id:016x}" == parent_id
    children = [span for span in spans if span.kind is SpanKind.INTERNAL]
    assert len(children) == 2 * REQUESTS
    for child in children:
        server = servers[child.context.trace_id]
        assert child.parent is not None and child.parent.span_id == server.context.span_id


GUNICORN_APP = """
import json
import time

from c13_middleware import InMemoryExporter, SpanKind, Tracer, current_span
from c13_middleware.server.wsgi import C13WSGIMiddleware

exporter = InMemoryExporter()
tracer = Tracer(exporter=exporter, export_mode="simple")


def app(environ, start_response):
    if environ["PATH_INFO"] == "/spans":
        spans = [
            [f"{s.context.trace_id:032x}", f"{s.context.span_id:016x}",
             f"{s.parent.span_id:016x}" if s.parent else None, s.kind is SpanKind.SERVER]
            for s in exporter.get_finished_spans()
        ]
        start_response("200 OK", [("content-type", "application/json")])
        return [json.dumps(spans).encode()]
    children = []
    for step in range(2):
        time.sleep(0.02)
        with tracer.start_as_current_span(f"child {step}") as child:
            time.sleep(0.005)
            children.append(child)
    span = current_span()
    body = {
        "trace_id": f"{span.context.trace_id:032x}",
        "span_id": f"{span.context.span_id:016x}",
        "children": [f"{child.parent.span_id:016x}" for child in children],
    }
    start_response("200 OK", [("content-type", "application/json")])
    return [json.dumps(body).encode()]


app = C13WSGIMiddleware(app, exporter=exporter, export_mode="simple", exclude_paths=["/spans"])
"""


def test_gunicorn_threads_300_concurrent_requests(tmp_path: Path) -> None:
    (tmp_path / "threaded_app.py").write_text(textwrap.dedent(GUNICORN_APP))
    port = free_port()
    command = [sys.executable, "-m", "gunicorn", "threaded_app:app", "--bind", f"127.0.0.1:{port}"]
    command += ["--workers", "1", "--threads", "64", "--worker-class", "gthread", "--log-level", "warning"]
    server = subprocess.Popen(command, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                httpx.get(f"{base}/spans", timeout=1)
                break
            except httpx.TransportError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError("gunicorn did not start") from None
                time.sleep(0.05)
        results = asyncio.run(send_all(base, ["/work"] * REQUESTS))
        spans = httpx.get(f"{base}/spans", timeout=10).json()
    finally:
        server.terminate()
        server.communicate(timeout=10)
    check_echoes(results, 2)
    servers = {trace_id: (span_id, parent) for trace_id, span_id, parent, is_server in spans if is_server}
    assert len(servers) == REQUESTS
    for trace_id, parent_id, _ in results:
        assert servers[trace_id][1] == parent_id
    children = [(trace_id, parent) for trace_id, _, parent, is_server in spans if not is_server]
    assert len(children) == 2 * REQUESTS
    assert all(parent == servers[trace_id][0] for trace_id, parent in children)
