from __future__ import annotations

import asyncio
import re
import time
from typing import Any

import pytest

from c13_middleware import InMemoryExporter, SpanKind, StatusCode, Tracer, current_span
from c13_middleware.server.asgi import C13ASGIMiddleware, Message, Receive, Scope, Send

TRACEPARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


def http_scope(
    path: str = "/", method: str = "GET", headers: list[tuple[bytes, bytes]] | None = None, **extra: Any
) -> Scope:
    scope: Scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": headers if headers is not None else [(b"host", b"example.com:8080")],
        "client": ("10.0.0.9", 5555),
        "server": ("127.0.0.1", 8000),
    }
    scope.update(extra)
    return scope


async def call(app: Any, scope: Scope, body: bytes = b"") -> list[Message]:
    sent: list[Message] = []
    messages = [{"type": "http.request", "body": body, "more_body": False}]

    async def receive() -> Message:
        if messages:
            return messages.pop(0)
        await asyncio.sleep(3600)
        raise AssertionError("unreachable")

    async def send(message: Message) -> None:
        sent.append(message)

    await app(scope, receive, send)
    return sent


def text_app(status: int = 200, body: bytes = b"ok", headers: list[tuple[bytes, bytes]] | None = None) -> Any:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": status, "headers": headers or []})
        await send({"type": "http.response.body", "body": body})

    return app


def run(coro: Any) -> Any:
    return asyncio.run(coro)


def test_server_span_attributes_and_continued_trace(options: dict[str, Any], exporter: InMemoryExporter) -> None:
    headers = [
        (b"host", b"example.com:8080"),
        (b"traceparent", TRACEPARENT.encode()),
        (b"tracestate", b"congo=t61rcWkgMzE"),
        (b"user-agent", b"curl/8"),
    ]
    app = C13ASGIMiddleware(text_app(), **options)
    run(call(app, http_scope("/items/7", headers=headers, query_string=b"q=1&access_token=secret")))
    (span,) = exporter.get_finished_spans()
    assert span.kind is SpanKind.SERVER and span.name == "GET"
    assert span.context.trace_id == 0x0AF7651916CD43DD8448EB211C80319C
    assert span.parent is not None and span.parent.span_id == 0xB7AD6B7169203331 and span.parent.is_remote
    assert span.context.trace_state.get("congo") == "t61rcWkgMzE"
    assert span.attributes == {
        "http.request.method": "GET",
        "url.path": "/items/7",
        "url.scheme": "http",
        "url.query": "q=1&access_token=REDACTED",
        "server.address": "example.com",
        "server.port": 8080,
        "client.address": "10.0.0.9",
        "user_agent.original": "curl/8",
        "network.protocol.version": "1.1",
        "http.response.status_code": 200,
    }
    assert span.status.code is StatusCode.UNSET


def test_new_trace_without_traceparent_and_malformed_traceparent(
    options: dict[str, Any], exporter: InMemoryExporter
) -> None:
    app = C13ASGIMiddleware(text_app(), **options)
    run(call(app, http_scope()))
    run(call(app, http_scope(headers=[(b"traceparent", b"00-ZZZ-bad-01")])))
    first, second = exporter.get_finished_spans()
    assert first.parent is None and second.parent is None
    assert first.context.random and first.context.sampled


def test_unknown_method_is_other(options: dict[str, Any], exporter: InMemoryExporter) -> None:
    run(call(C13ASGIMiddleware(text_app(), **options), http_scope(method="PURGE")))
    (span,) = exporter.get_finished_spans()
    assert span.name == "HTTP"
    assert span.attributes["http.request.method"] == "_OTHER"
    assert span.attributes["http.request.method_original"] == "PURGE"


@pytest.mark.parametrize(
    ("status", "code"), [(200, StatusCode.UNSET), (404, StatusCode.UNSET), (503, StatusCode.ERROR)]
)
def test_status_from_response(
    status: int, code: StatusCode, options: dict[str, Any], exporter: InMemoryExporter
) -> None:
    run(call(C13ASGIMiddleware(text_app(status), **options), http_scope()))
    (span,) = exporter.get_finished_spans()
    assert span.attributes["http.response.status_code"] == status
    assert span.status.code is code
    assert span.attributes.get("error.type") == ("503" if status == 503 else None)


def test_exception_is_recorded_and_reraised_unchanged(options: dict[str, Any], exporter: InMemoryExporter) -> None:
    error = LookupError("gone")

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        raise error

    with pytest.raises(LookupError) as info:
        run(call(C13ASGIMiddleware(app, **options), http_scope()))
    assert info.value is error
    (span,) = exporter.get_finished_spans()
    assert span.status.code is StatusCode.ERROR
    assert span.attributes["error.type"] == "LookupError"
    assert span.events[0].name == "exception" and span.events[0].attributes["exception.message"] == "gone"


def test_streaming_response_span_ends_after_last_chunk(options: dict[str, Any], exporter: InMemoryExporter) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        for _ in range(3):
            await asyncio.sleep(0.05)
            await send({"type": "http.response.body", "body": b"chunk", "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})
        await asyncio.sleep(0.3)  # background work after the response is complete is not request time

    started = time.perf_counter()
    run(call(C13ASGIMiddleware(app, **options), http_scope()))
    total = time.perf_counter() - started
    (span,) = exporter.get_finished_spans()
    duration = (span.duration_ns or 0) / 1e9
    assert duration >= 0.15
    assert duration < total - 0.2


def test_handler_sees_span_as_current(options: dict[str, Any], exporter: InMemoryExporter) -> None:
    child_tracer = Tracer(exporter=exporter, export_mode="simple")

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        with child_tracer.start_as_current_span("child"):
            pass
        await text_app()(scope, receive, send)

    run(call(C13ASGIMiddleware(app, **options), http_scope()))
    child, server = exporter.get_finished_spans()
    assert child.parent == server.context
    assert current_span() is None


def test_cancelled_request_still_ends_span(options: dict[str, Any], exporter: InMemoryExporter) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await asyncio.sleep(3600)

    async def main() -> None:
        task = asyncio.create_task(call(C13ASGIMiddleware(app, **options), http_scope()))
        await asyncio.sleep(0.05)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    run(main())
    (span,) = exporter.get_finished_spans()
    assert span.ended and span.attributes["c13.request.cancelled"] is True


def test_lifespan_and_other_scopes_pass_through(options: dict[str, Any], exporter: InMemoryExporter) -> None:
    seen: list[str] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append(scope["type"])

    async def receive() -> Message:
        return {"type": "lifespan.startup"}

    async def send(message: Message) -> None:
        return None

    run(C13ASGIMiddleware(app, **options)({"type": "lifespan"}, receive, send))
    assert seen == ["lifespan"]
    assert exporter.get_finished_spans() == []


def test_excluded_paths_exact_and_regex(options: dict[str, Any], exporter: InMemoryExporter) -> None:
    app = C13ASGIMiddleware(text_app(), exclude_paths=["/health", re.compile(r"^/metrics")], **options)
    for path in ("/health", "/metrics", "/metrics/x", "/healthz"):
        run(call(app, http_scope(path)))
    assert [s.attributes["url.path"] for s in exporter.get_finished_spans()] == ["/healthz"]


def test_untrusted_incoming_context_restarts_with_link(options: dict[str, Any], exporter: InMemoryExporter) -> None:
    app = C13ASGIMiddleware(text_app(), trust_incoming_context=False, **options)
    run(call(app, http_scope(headers=[(b"traceparent", TRACEPARENT.encode()), (b"baggage", b"user=alice")])))
    (span,) = exporter.get_finished_spans()
    assert span.parent is None
    assert span.context.trace_id != 0x0AF7651916CD43DD8448EB211C80319C
    (link,) = span.links
    assert link.context.span_id == 0xB7AD6B7169203331


def test_server_timing_trace_header_is_opt_in(options: dict[str, Any], exporter: InMemoryExporter) -> None:
    sent = run(call(C13ASGIMiddleware(text_app(), **options), http_scope()))
    assert all(name != b"server-timing" for name, _ in sent[0]["headers"])
    sent = run(call(C13ASGIMiddleware(text_app(), server_timing_trace=True, **options), http_scope()))
    values = [v.decode() for n, v in sent[0]["headers"] if n == b"server-timing"]
    span = exporter.get_finished_spans()[-1]
    assert values == [f"trace;desc=00-{span.context.trace_id:032x}-{span.context.span_id:016x}-03"]


def test_header_capture_never_records_secrets(options: dict[str, Any], exporter: InMemoryExporter) -> None:
    app = C13ASGIMiddleware(
        text_app(headers=[(b"x-served-by", b"node-1"), (b"set-cookie", b"s=1")]),
        capture_request_headers=[".*"],
        capture_response_headers=["x-served-by", "set-cookie"],
        sanitize_fields=["x-api-.*"],
        **options,
    )
    headers = [
        (b"x-request-id", b"r1"),
        (b"x-request-id", b"r2"),
        (b"authorization", b"Bearer secret"),
        (b"cookie", b"session=secret"),
        (b"proxy-authorization", b"Basic x"),
        (b"x-api-key", b"k"),
    ]
    run(call(app, http_scope(headers=headers)))
    (span,) = exporter.get_finished_spans()
    assert span.attributes["http.request.header.x-request-id"] == ("r1", "r2")
    assert span.attributes["http.request.header.x-api-key"] == ("[REDACTED]",)
    assert span.attributes["http.response.header.x-served-by"] == ("node-1",)
    recorded = " ".join(f"{k}={v}" for k, v in span.attributes.items())
    assert "secret" not in recorded and "cookie" not in recorded and "authorization" not in recorded


def test_header_capture_from_environment(monkeypatch: pytest.MonkeyPatch, exporter: InMemoryExporter) -> None:
    monkeypatch.setenv("OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SERVER_REQUEST", "x-tenant")
    monkeypatch.setenv("OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SANITIZE_FIELDS", "x-tenant")
    from c13_middleware import configure

    configure(exporter=exporter, export_mode="simple")
    run(call(C13ASGIMiddleware(text_app()), http_scope(headers=[(b"x-tenant", b"acme")])))
    (span,) = exporter.get_finished_spans()
    assert span.attributes["http.request.header.x-tenant"] == ("[REDACTED]",)


def test_broken_instrumentation_never_breaks_the_request(options: dict[str, Any], exporter: InMemoryExporter) -> None:
    class BrokenPropagator:
        fields = ("traceparent",)

        def extract(self, get: Any, into: Any) -> Any:
            raise RuntimeError("bug in a propagator")

        def inject(self, set: Any, ctx: Any) -> None:
            raise RuntimeError("bug")

    sent = run(call(C13ASGIMiddleware(text_app(), propagator=BrokenPropagator(), **options), http_scope()))
    assert sent[0]["status"] == 200 and sent[1]["body"] == b"ok"


def test_wrong_option_fails_at_construction(options: dict[str, Any]) -> None:
    from c13_middleware import ConfigError

    with pytest.raises(ConfigError, match="exclude_path"):
        C13ASGIMiddleware(text_app(), exclude_path=["/x"])


def test_double_mount_yields_one_server_span(options: dict[str, Any], exporter: InMemoryExporter) -> None:
    inner = C13ASGIMiddleware(text_app(), **options)
    outer = C13ASGIMiddleware(inner, **options)
    run(call(outer, http_scope()))
    assert [s.kind for s in exporter.get_finished_spans()] == [SpanKind.SERVER]


def test_ipv6_host_header(options: dict[str, Any], exporter: InMemoryExporter) -> None:
    run(call(C13ASGIMiddleware(text_app(), **options), http_scope(headers=[(b"host", b"[::1]:9000")])))
    (span,) = exporter.get_finished_spans()
    assert span.attributes["server.address"] == "::1" and span.attributes["server.port"] == 9000


def test_no_host_header_uses_scope_server(options: dict[str, Any], exporter: InMemoryExporter) -> None:
    run(call(C13ASGIMiddleware(text_app(), **options), http_scope(headers=[])))
    (span,) = exporter.get_finished_spans()
    assert span.attributes["server.address"] == "127.0.0.1" and span.attributes["server.port"] == 8000


class Recorder:
    def __init__(self) -> None:
        self.events: list[tuple[Any, ...]] = []

    def request_started(self, request: Any) -> None:
        self.events.append(("start", request.method, request.scheme))

    def request_finished(self, request: Any, duration_s: float) -> None:
        self.events.append(("end", request.route, request.status, request.error_type, duration_s >= 0))


def test_observers_see_each_request(options: dict[str, Any], exporter: InMemoryExporter) -> None:
    class Broken:
        def request_started(self, request: Any) -> None:
            raise RuntimeError("observer bug")

        def request_finished(self, request: Any, duration_s: float) -> None:
            raise RuntimeError("observer bug")

    recorder = Recorder()
    app = C13ASGIMiddleware(text_app(503), observers=[Broken(), recorder], exclude_paths=["/health"], **options)
    run(call(app, http_scope("/x", method="PURGE")))
    run(call(app, http_scope("/health")))
    assert recorder.events == [("start", "_OTHER", "http"), ("end", None, 503, "503", True)]


def test_observer_option_is_validated() -> None:
    from c13_middleware import ConfigError

    with pytest.raises(ConfigError, match="request_started"):
        C13ASGIMiddleware(text_app(), observers=[object()])


def ws_scope(path: str = "/ws") -> Scope:
    return {
        "type": "websocket",
        "path": path,
        "query_string": b"",
        "headers": [(b"host", b"example.com")],
        "client": ("10.0.0.1", 1),
        "server": ("127.0.0.1", 8000),
    }


async def ws_call(app: Any, incoming: list[Message]) -> list[Message]:
    sent: list[Message] = []

    async def receive() -> Message:
        return incoming.pop(0)

    async def send(message: Message) -> None:
        sent.append(message)

    await app(ws_scope(), receive, send)
    return sent


def test_websocket_closed_by_client(options: dict[str, Any], exporter: InMemoryExporter) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        assert (await receive())["type"] == "websocket.connect"
        await send({"type": "websocket.accept"})
        while (await receive())["type"] != "websocket.disconnect":
            pass

    incoming = [{"type": "websocket.connect"}, {"type": "websocket.receive", "text": "x"}]
    incoming.append({"type": "websocket.disconnect", "code": 1001})
    run(ws_call(C13ASGIMiddleware(app, **options), incoming))
    (span,) = exporter.get_finished_spans()
    assert span.attributes["websocket.close.code"] == 1001
    assert span.attributes["url.scheme"] == "ws" and span.attributes["http.response.status_code"] == 101


def test_websocket_denial_response(options: dict[str, Any], exporter: InMemoryExporter) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()
        await send({"type": "websocket.http.response.start", "status": 403, "headers": []})
        await send({"type": "websocket.http.response.body", "body": b"no"})

    run(ws_call(C13ASGIMiddleware(app, **options), [{"type": "websocket.connect"}]))
    (span,) = exporter.get_finished_spans()
    assert span.attributes["http.response.status_code"] == 403


def test_websocket_handler_exception(options: dict[str, Any], exporter: InMemoryExporter) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()
        raise ValueError("ws bug")

    with pytest.raises(ValueError):
        run(ws_call(C13ASGIMiddleware(app, **options), [{"type": "websocket.connect"}]))
    (span,) = exporter.get_finished_spans()
    assert span.status.code is StatusCode.ERROR and span.attributes["error.type"] == "ValueError"


def test_failing_route_lookup_is_swallowed(options: dict[str, Any], exporter: InMemoryExporter) -> None:
    class Broken(C13ASGIMiddleware):
        def route_for(self, scope: Scope) -> str | None:
            raise RuntimeError("router bug")

    sent = run(call(Broken(text_app(), **options), http_scope()))
    assert sent[0]["status"] == 200
    (span,) = exporter.get_finished_spans()
    assert span.name == "GET" and span.ended


def test_two_traceparent_fields_are_invalid(options: dict[str, Any], exporter: InMemoryExporter) -> None:
    headers = [(b"host", b"a"), (b"traceparent", TRACEPARENT.encode()), (b"traceparent", TRACEPARENT.encode())]
    run(call(C13ASGIMiddleware(text_app(), **options), http_scope(headers=headers)))
    (span,) = exporter.get_finished_spans()
    assert span.parent is None and span.attributes["server.address"] == "a"
