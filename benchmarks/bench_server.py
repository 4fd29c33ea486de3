"""Per-request overhead of the server middleware, driven in process (no sockets): bare app, with c13, and with
OpenTelemetry's instrumentation for the same framework, in one run.

python -m benchmarks.bench_server
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from benchmarks._timing import NullExporter, machine, otel_provider, table
from c13_middleware import BatchSpanProcessor

N = 3000
ROUNDS = 7
HEADERS = [
    (b"host", b"example.com"),
    (b"user-agent", b"bench/1.0"),
    (b"accept", b"*/*"),
    (b"traceparent", b"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"),
]


def c13_options() -> dict[str, Any]:
    return {"processors": [BatchSpanProcessor(NullExporter(), max_queue_size=4096)]}


# --- ASGI ------------------------------------------------------------------------------------------------------


def starlette_app() -> Any:
    from starlette.applications import Starlette
    from starlette.responses import PlainTextResponse
    from starlette.routing import Route

    async def hello(request: Any) -> PlainTextResponse:
        return PlainTextResponse("hello")

    return Starlette(routes=[Route("/items/{item_id}", hello)])


def asgi_per_request_us(app: Any) -> float:
    scope_template = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": "/items/1",
        "raw_path": b"/items/1",
        "query_string": b"",
        "root_path": "",
        "headers": HEADERS,
        "client": ("127.0.0.1", 5000),
        "server": ("127.0.0.1", 8000),
    }
    request = {"type": "http.request", "body": b"", "more_body": False}

    async def receive() -> dict[str, Any]:
        return request

    async def send(message: dict[str, Any]) -> None:
        return None

    async def loop() -> float:
        start = time.perf_counter()
        for _ in range(N):
            await app(dict(scope_template), receive, send)
        return (time.perf_counter() - start) / N * 1e6

    return asyncio.run(loop())


def starlette_rows() -> list[tuple[str, ...]]:
    from c13_middleware.integrations.starlette import C13Middleware

    bare = starlette_app()
    ours = starlette_app()
    ours.add_middleware(C13Middleware, **c13_options())
    apps = {"bare": bare, "c13": ours}
    try:
        from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware

        theirs = starlette_app()
        theirs.add_middleware(OpenTelemetryMiddleware, tracer_provider=otel_provider()[0])
        apps["otel"] = theirs
    except ImportError:
        pass
    return [_row("Starlette hello (ASGI)", interleaved(apps, asgi_per_request_us), "≤ 10 µs")]


# --- WSGI ------------------------------------------------------------------------------------------------------


def flask_app() -> Any:
    from flask import Flask

    app = Flask("bench")

    @app.get("/items/<item_id>")
    def hello(item_id: str) -> str:
        return "hello"

    return app


def wsgi_per_request_us(app: Callable[..., Any]) -> float:
    environ_template = {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": "/items/1",
        "SCRIPT_NAME": "",
        "QUERY_STRING": "",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8000",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "HTTP_HOST": "example.com",
        "HTTP_USER_AGENT": "bench/1.0",
        "HTTP_ACCEPT": "*/*",
        "HTTP_TRACEPARENT": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
        "wsgi.url_scheme": "http",
        "wsgi.input": None,
        "wsgi.errors": None,
        "wsgi.multithread": False,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
        "wsgi.version": (1, 0),
    }

    def start_response(status: str, headers: Any, exc_info: Any = None) -> Any:
        return None

    start = time.perf_counter()
    for _ in range(N):
        body = app(dict(environ_template), start_response)
        for _chunk in body:
            pass
        close = getattr(body, "close", None)
        if close is not None:
            close()
    return (time.perf_counter() - start) / N * 1e6


def flask_rows() -> list[tuple[str, ...]]:
    from c13_middleware.integrations.flask import C13

    bare = flask_app()
    ours = flask_app()
    C13(ours, **c13_options())
    apps = {"bare": bare, "c13": ours}
    try:
        from opentelemetry.instrumentation.flask import FlaskInstrumentor

        theirs = flask_app()
        FlaskInstrumentor().instrument_app(theirs, tracer_provider=otel_provider()[0])
        apps["otel"] = theirs
    except ImportError:
        pass
    return [_row("Flask hello (WSGI)", interleaved(apps, wsgi_per_request_us), "≤ 12 µs")]


def interleaved(apps: dict[str, Any], measure: Callable[[Any], float]) -> dict[str, float]:
    """Best of ROUNDS per variant, the variants taking turns so drift and warm-up hit them alike."""
    for app in apps.values():
        measure(app)  # warm-up: caches, lazily built routing, the exporter thread
    best = dict.fromkeys(apps, float("inf"))
    for _ in range(ROUNDS):
        for name, app in apps.items():
            best[name] = min(best[name], measure(app))
    return best


def _row(name: str, results: dict[str, float], target: str) -> tuple[str, ...]:
    ours = results["c13"] - results["bare"]
    theirs = results["otel"] - results["bare"] if "otel" in results else None
    return (
        name,
        f"{results['bare']:.1f}",
        f"{ours:.1f}",
        f"{theirs:.1f}" if theirs is not None else "n/a",
        f"{ours / theirs:.3f}" if theirs else "n/a",
        target,
    )


def main() -> None:
    rows = starlette_rows() + flask_rows()
    header = ("app", "bare µs/req", "c13 adds µs", "OTel adds µs", "c13/OTel", "target")
    print(table(f"Server middleware, in process ({machine()})", header, rows))


if __name__ == "__main__":
    main()
