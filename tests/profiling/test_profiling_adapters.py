"""Per-request profiling through the adapters: triggers, headers, the span link, the store, slow IO."""

from __future__ import annotations

import asyncio
import re
import time
from typing import Any

import httpx
import pytest
from django.test import Client as DjangoClient, override_settings
from flask import Flask
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route
from starlette.testclient import TestClient

import tests.django_app  # noqa: F401  (configures Django settings)
from c13_middleware import InMemoryExporter, get_profile, mint_token
from c13_middleware.integrations.flask import C13
from c13_middleware.integrations.httpx import AsyncC13Transport
from c13_middleware.integrations.starlette import C13Middleware
from tests.conftest import traced_starlette
from tests.profiling.profiling_helpers import share

SECRET = "s3cret-key-for-tests-only"
# Server-Timing: metric *( "," metric ), metric = token *( ";" param ), param = token "=" ( token / quoted-string )
TOKEN = r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+"
PARAM = rf"\s*;\s*{TOKEN}\s*=\s*(?:{TOKEN}|\"(?:[^\"\\]|\\.)*\")"
SERVER_TIMING = re.compile(rf"^{TOKEN}(?:{PARAM})*(?:\s*,\s*{TOKEN}(?:{PARAM})*)*$")


def burn_cpu_in_handler(seconds: float) -> int:
    deadline = time.perf_counter() + seconds
    total = 0
    while time.perf_counter() < deadline:
        total += sum(range(200))
    return total


def profile_headers(method: str, path: str, kind: str = "cpu") -> dict[str, str]:
    return {"x-c13-profile": kind, "x-c13-profile-token": mint_token(SECRET, method, path, 60)}


def starlette_app(options: dict[str, Any], **extra: Any) -> Starlette:
    async def work(request: Request) -> Response:
        burn_cpu_in_handler(0.15)
        return PlainTextResponse("done")

    async def call_out(request: Request) -> Response:
        async def slow(request: httpx.Request) -> httpx.Response:
            await asyncio.sleep(0.08)
            return httpx.Response(200, content=b"ok")

        transport = AsyncC13Transport(httpx.MockTransport(slow))
        async with httpx.AsyncClient(transport=transport) as client:
            await client.get("http://inventory.internal/items/1")
        return PlainTextResponse("called")

    async def stream(request: Request) -> Response:
        async def chunks() -> Any:
            for i in range(3):
                burn_cpu_in_handler(0.02)
                yield f"{i}\n"

        return StreamingResponse(chunks())

    return traced_starlette(
        [Route("/work", work), Route("/call", call_out), Route("/stream", stream)], **options, **extra
    )


def test_token_triggered_profile_on_starlette(options: dict[str, Any], exporter: InMemoryExporter) -> None:
    client = TestClient(starlette_app(options, profile_secret=SECRET))
    response = client.get("/work", headers=profile_headers("GET", "/work"))
    assert response.text == "done"
    profile_id = response.headers["x-c13-profile-id"]
    timing = response.headers["server-timing"]
    assert SERVER_TIMING.match(timing), timing
    assert timing.startswith("total;dur=") and "cpu;dur=" in timing and "io-wait;dur=" in timing
    (span,) = exporter.get_finished_spans()
    assert span.attributes["c13.profile.id"] == profile_id
    report = get_profile(profile_id)
    assert report is not None and report.span_id == span.context.span_id
    assert report.name == span.name == "GET /work"  # named after the route, though it ended before the span
    assert report.wall_s >= 0.15
    assert any(f.name.endswith("burn_cpu_in_handler") for f in report.top_functions[:3])


@pytest.mark.parametrize(
    "headers",
    [
        {},  # absent
        {"x-c13-profile": "cpu"},  # no token
        {"x-c13-profile": "cpu", "x-c13-profile-token": "9999999999.forged"},  # forged
        {"x-c13-profile": "cpu", "x-c13-profile-token": mint_token(SECRET, "GET", "/other", 60)},  # other path
        {"x-c13-profile": "cpu", "x-c13-profile-token": mint_token("another-secret-1234", "GET", "/work", 60)},
    ],
)
def test_unauthorised_trigger_is_ignored_silently(
    headers: dict[str, str], options: dict[str, Any], exporter: InMemoryExporter
) -> None:
    response = TestClient(starlette_app(options, profile_secret=SECRET)).get("/work", headers=headers)
    assert response.status_code == 200 and response.text == "done"
    assert "x-c13-profile-id" not in response.headers and "server-timing" not in response.headers
    (span,) = exporter.get_finished_spans()
    assert "c13.profile.id" not in span.attributes


def test_without_a_secret_the_header_does_nothing(options: dict[str, Any], exporter: InMemoryExporter) -> None:
    response = TestClient(starlette_app(options)).get("/work", headers=profile_headers("GET", "/work"))
    assert "x-c13-profile-id" not in response.headers
    assert "c13.profile.id" not in exporter.get_finished_spans()[0].attributes


def test_sampled_profiles_are_stored_but_not_revealed(options: dict[str, Any], exporter: InMemoryExporter) -> None:
    response = TestClient(starlette_app(options, profile_sample_rate=1.0)).get("/work")
    assert "x-c13-profile-id" not in response.headers and "server-timing" not in response.headers
    (span,) = exporter.get_finished_spans()
    report = get_profile(str(span.attributes["c13.profile.id"]))
    assert report is not None and report.trace_id == span.context.trace_id


def test_slow_request_capture_keeps_only_slow_ones(options: dict[str, Any], exporter: InMemoryExporter) -> None:
    app = Starlette(
        routes=[
            Route("/fast", lambda request: PlainTextResponse("fast")),
            Route("/slow", lambda request: PlainTextResponse(str(burn_cpu_in_handler(0.12)))),
        ]
    )
    app.add_middleware(C13Middleware, profile_slow_threshold_s=0.1, **options)
    client = TestClient(app)
    client.get("/fast")
    client.get("/slow")
    fast, slow = exporter.get_finished_spans()
    assert "c13.profile.id" not in fast.attributes
    assert get_profile(str(slow.attributes["c13.profile.id"])) is not None


def test_slow_outgoing_calls_are_slow_io(options: dict[str, Any], exporter: InMemoryExporter) -> None:
    response = TestClient(starlette_app(options, profile_secret=SECRET)).get(
        "/call", headers=profile_headers("GET", "/call")
    )
    report = get_profile(response.headers["x-c13-profile-id"])
    assert report is not None
    assert any(event.name == "GET" and "inventory.internal" in event.where for event in report.slow_io)
    timing = response.headers["server-timing"]
    assert "GET_inventory.internal;dur=" in timing and 'desc="GET inventory.internal"' in timing  # with its peer


def test_streamed_response_gets_the_id_and_a_full_profile(options: dict[str, Any], exporter: InMemoryExporter) -> None:
    response = TestClient(starlette_app(options, profile_secret=SECRET)).get(
        "/stream", headers=profile_headers("GET", "/stream")
    )
    assert response.text == "0\n1\n2\n"
    assert "server-timing" not in response.headers  # the head left before the figures existed
    report = get_profile(response.headers["x-c13-profile-id"])
    assert report is not None and report.wall_s >= 0.06


def test_token_triggered_profile_on_flask(options: dict[str, Any], exporter: InMemoryExporter) -> None:
    app = Flask(__name__)

    @app.get("/work")
    def work() -> str:
        burn_cpu_in_handler(0.1)
        return "done"

    C13(app, profile_secret=SECRET, **options)
    with app.test_client().get("/work", headers=profile_headers("GET", "/work")) as response:
        assert response.text == "done"
        profile_id = response.headers["X-C13-Profile-Id"]
        assert SERVER_TIMING.match(response.headers["Server-Timing"])
    (span,) = exporter.get_finished_spans()
    assert span.attributes["c13.profile.id"] == profile_id
    report = get_profile(profile_id)
    assert report is not None and any(f.name.endswith("burn_cpu_in_handler") for f in report.top_functions[:3])
    assert report.name == "GET /work"


def test_token_triggered_profile_on_django(options: dict[str, Any], exporter: InMemoryExporter) -> None:
    with override_settings(C13={**options, "profile_secret": SECRET}):
        token = mint_token(SECRET, "GET", "/items/3/", 60)
        response = DjangoClient().get("/items/3/", HTTP_X_C13_PROFILE="cpu", HTTP_X_C13_PROFILE_TOKEN=token)
    assert response.content == b"item 3"
    assert SERVER_TIMING.match(response["Server-Timing"])
    (span,) = exporter.get_finished_spans()
    assert span.attributes["c13.profile.id"] == response["X-C13-Profile-Id"]
    assert get_profile(response["X-C13-Profile-Id"]) is not None


def test_profiling_options_are_validated() -> None:
    from c13_middleware import C13ASGIMiddleware, ConfigError
    from c13_middleware.integrations.starlette import RefusedStartup

    for bad in ({"profile_secret": "short"}, {"profile_sample_rate": 2}, {"profile_type": "gpu"}):
        # Starlette's adapter turns a wrong option into a refused start-up (docs/server.md), carrying the error
        refused = C13Middleware(lambda scope, receive, send: None, **bad)  # type: ignore[arg-type]
        assert isinstance(refused, RefusedStartup) and next(iter(bad)) in refused.message
        with pytest.raises(ConfigError):
            C13ASGIMiddleware(lambda scope, receive, send: None, **bad)  # type: ignore[arg-type]


def test_grpc_server_calls_are_profiled(exporter: InMemoryExporter) -> None:
    from concurrent.futures import ThreadPoolExecutor

    import grpc

    from c13_middleware.integrations.grpc import server_interceptor

    def handler(request: bytes, context: grpc.ServicerContext) -> bytes:
        burn_cpu_in_handler(0.1)
        context.set_trailing_metadata((("app-trailer", "kept"),))
        return request

    interceptor = server_interceptor(exporter=exporter, export_mode="simple", profile_secret=SECRET)
    server = grpc.server(ThreadPoolExecutor(max_workers=2), interceptors=[interceptor])
    server.add_generic_rpc_handlers(
        (grpc.method_handlers_generic_handler("demo.Work", {"Do": grpc.unary_unary_rpc_method_handler(handler)}),)
    )
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            metadata = list(profile_headers("POST", "/demo.Work/Do").items())
            response, call = channel.unary_unary("/demo.Work/Do").with_call(b"x", metadata=metadata, timeout=10)
            assert response == b"x"
            trailers = dict(call.trailing_metadata())
            _, plain_call = channel.unary_unary("/demo.Work/Do").with_call(b"y", timeout=10)  # no trigger
            plain_trailers = dict(plain_call.trailing_metadata())
    finally:
        server.stop(None)
    profiled, plain = exporter.get_finished_spans()
    assert "c13.profile.id" not in plain.attributes
    # The caller with a token gets the id and the figures as trailing metadata, after the handler's own.
    assert trailers["x-c13-profile-id"] == profiled.attributes["c13.profile.id"]
    assert SERVER_TIMING.match(trailers["server-timing"]) and trailers["app-trailer"] == "kept"
    assert plain_trailers == {"app-trailer": "kept"}
    report = get_profile(str(profiled.attributes["c13.profile.id"]))
    assert report is not None and any(f.name.endswith("burn_cpu_in_handler") for f in report.top_functions[:3])


def test_grpc_aio_server_calls_are_profiled(exporter: InMemoryExporter) -> None:
    import grpc

    from c13_middleware.integrations.grpc import aio_server_interceptor

    async def handler(request: bytes, context: grpc.aio.ServicerContext) -> bytes:  # type: ignore[type-arg]
        await asyncio.sleep(0.01)
        burn_cpu_in_handler(0.1)
        return request

    async def main() -> None:
        interceptor = aio_server_interceptor(
            exporter=exporter, export_mode="simple", profile_sample_rate=1.0, profile_secret=SECRET
        )
        server = grpc.aio.server(interceptors=[interceptor])
        server.add_generic_rpc_handlers(
            (grpc.method_handlers_generic_handler("demo.Work", {"Do": grpc.unary_unary_rpc_method_handler(handler)}),)
        )
        port = server.add_insecure_port("127.0.0.1:0")
        await server.start()
        try:
            async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
                call = channel.unary_unary("/demo.Work/Do")(b"x", timeout=10)
                assert await call == b"x"
                trailers.append(dict(await call.trailing_metadata()))
                metadata = list(profile_headers("POST", "/demo.Work/Do").items())
                call = channel.unary_unary("/demo.Work/Do")(b"y", metadata=metadata, timeout=10)
                assert await call == b"y"
                trailers.append(dict(await call.trailing_metadata()))
        finally:
            await server.stop(None)

    trailers: list[dict[str, Any]] = []
    asyncio.run(main())
    span, with_token = exporter.get_finished_spans()
    assert "x-c13-profile-id" not in trailers[0]  # sampled, not asked for: nothing revealed
    assert trailers[1]["x-c13-profile-id"] == with_token.attributes["c13.profile.id"]
    assert SERVER_TIMING.match(trailers[1]["server-timing"])
    report = get_profile(str(span.attributes["c13.profile.id"]))
    assert report is not None and any(f.name.endswith("burn_cpu_in_handler") for f in report.top_functions[:3])


def test_profiled_response_sent_with_pathsend_keeps_its_head(
    options: dict[str, Any], exporter: InMemoryExporter
) -> None:
    from c13_middleware import C13ASGIMiddleware

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
        await send({"type": "http.response.pathsend", "path": "/etc/hostname"})

    sent: list[dict[str, Any]] = []

    async def main() -> None:
        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        scope = {
            "type": "http",
            "method": "GET",
            "path": "/file",
            "headers": [
                (b"x-c13-profile", b"cpu"),
                (b"x-c13-profile-token", mint_token(SECRET, "GET", "/file", 60).encode()),
            ],
        }
        await C13ASGIMiddleware(app, profile_secret=SECRET, **options)(scope, receive, send)

    asyncio.run(main())
    assert [m["type"] for m in sent] == ["http.response.start", "http.response.pathsend"]
    assert any(name == b"x-c13-profile-id" for name, _ in sent[0]["headers"])
    (span,) = exporter.get_finished_spans()
    assert "c13.profile.id" in span.attributes


def test_profiled_generator_wsgi_app_still_gets_its_head(options: dict[str, Any], exporter: InMemoryExporter) -> None:
    from werkzeug.test import Client

    from c13_middleware import C13WSGIMiddleware

    def app(environ: dict[str, Any], start_response: Any) -> Any:
        start_response("200 OK", [("Content-Type", "text/plain")])  # runs on the first next(), after app() returned
        yield b"lazy"

    headers = profile_headers("GET", "/gen")
    response = Client(C13WSGIMiddleware(app, profile_secret=SECRET, **options)).get("/gen", headers=headers)
    assert response.status_code == 200 and response.get_data() == b"lazy"
    response.close()
    (span,) = exporter.get_finished_spans()
    assert "c13.profile.id" in span.attributes


def burn_while_streaming(seconds: float) -> int:
    return burn_cpu_in_handler(seconds)


def test_streamed_flask_body_is_profiled_to_its_last_chunk(options: dict[str, Any], exporter: InMemoryExporter) -> None:
    from flask import stream_with_context

    app = Flask(__name__)

    @app.get("/stream")
    def stream() -> Any:
        def chunks() -> Any:
            for i in range(3):
                burn_while_streaming(0.04)
                yield f"{i}\n"

        return app.response_class(stream_with_context(chunks()))

    @app.get("/plain")
    def plain() -> str:
        return "plain"

    C13(app, profile_secret=SECRET, **options)
    client = app.test_client()
    with client.get("/stream", headers=profile_headers("GET", "/stream")) as response:
        assert response.text == "0\n1\n2\n"
        assert "Server-Timing" not in response.headers  # the head left before the figures existed
        profile_id = response.headers["X-C13-Profile-Id"]
    with client.get("/plain", headers=profile_headers("GET", "/plain")) as response:
        assert SERVER_TIMING.match(response.headers["Server-Timing"])  # a whole body: figures in the head
    streamed = next(s for s in exporter.get_finished_spans() if s.name == "GET /stream")
    assert streamed.attributes["c13.profile.id"] == profile_id
    report = get_profile(profile_id)
    assert report is not None and report.wall_s >= 0.1
    assert share(report, "burn_while_streaming") >= 0.5  # runs only while the body streams


def test_generator_wsgi_app_is_profiled_while_it_streams(options: dict[str, Any], exporter: InMemoryExporter) -> None:
    from werkzeug.test import Client as WerkzeugClient

    from c13_middleware import C13WSGIMiddleware

    def app(environ: dict[str, Any], start_response: Any) -> Any:
        start_response("200 OK", [("content-type", "text/plain")])
        for i in range(3):
            burn_while_streaming(0.04)
            yield f"{i}\n".encode()

    client = WerkzeugClient(C13WSGIMiddleware(app, profile_secret=SECRET, **options))
    response = client.get("/gen", headers=profile_headers("GET", "/gen"))
    assert response.get_data() == b"0\n1\n2\n"
    response.close()
    assert "Server-Timing" not in response.headers
    report = get_profile(response.headers["X-C13-Profile-Id"])
    assert report is not None and report.wall_s >= 0.1
    assert share(report, "burn_while_streaming") >= 0.5  # runs only while the body streams


def test_streamed_django_body_is_profiled_to_its_last_chunk(
    options: dict[str, Any], exporter: InMemoryExporter
) -> None:
    with override_settings(C13={**options, "profile_secret": SECRET}):
        token = mint_token(SECRET, "GET", "/stream/", 60)
        response = DjangoClient().get("/stream/", HTTP_X_C13_PROFILE="cpu", HTTP_X_C13_PROFILE_TOKEN=token)
        assert not response.has_header("Server-Timing")
        profile_id = response["X-C13-Profile-Id"]
        assert get_profile(profile_id) is None  # still running: the body has not been sent
        assert b"".join(response.streaming_content) == b"0\n1\n2\n"  # type: ignore[attr-defined]
    (span,) = exporter.get_finished_spans()
    assert span.attributes["c13.profile.id"] == profile_id
    report = get_profile(profile_id)
    assert report is not None and report.wall_s >= 0.08  # the view's chunks sleep 30 ms each
