"""Bounds on what one request can put in its span, and numbers read from request and response data (docs/security.md,
"Input bounds"): through the ASGI and WSGI middleware, never an exception into the app."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pytest
from werkzeug.test import Client

from c13_middleware import InMemoryExporter, Span, SpanLimits
from c13_middleware.server._core import MAX_CAPTURED_CHARS
from c13_middleware.server.asgi import C13ASGIMiddleware, Message, Receive, Scope, Send
from c13_middleware.server.wsgi import C13WSGIMiddleware
from tests.server.test_asgi import call, http_scope, run, text_app, ws_call
from tests.server.test_wsgi import hello

LIMIT = 100
BIG = "v" * 12_000


def captured(span: Span, prefix: str) -> dict[str, Any]:
    return {key: value for key, value in span.attributes.items() if key.startswith(prefix)}


def captured_size(span: Span, prefix: str) -> int:
    return sum(len(key) - len(prefix) + sum(map(len, value)) for key, value in captured(span, prefix).items())


def test_asgi_server_address_is_bounded(options: dict[str, Any], exporter: InMemoryExporter) -> None:
    app = C13ASGIMiddleware(text_app(), span_limits=SpanLimits(max_attribute_length=LIMIT), **options)
    run(call(app, http_scope(headers=[(b"host", ("h" * 12_000 + ":8080").encode())])))
    (span,) = exporter.get_finished_spans()
    assert span.attributes["server.address"] == "h" * LIMIT and span.attributes["server.port"] == 8080


def test_wsgi_server_address_is_bounded(options: dict[str, Any], exporter: InMemoryExporter) -> None:
    app = C13WSGIMiddleware(hello, **options)  # the default limit
    assert Client(app).get("/", headers={"Host": "h" * 12_000}).get_data() == b"hello"
    (span,) = exporter.get_finished_spans()
    assert span.attributes["server.address"] == "h" * SpanLimits().max_attribute_length  # type: ignore[operator]


def test_asgi_captured_headers_are_bounded(options: dict[str, Any], exporter: InMemoryExporter) -> None:
    limits = SpanLimits(max_attribute_length=LIMIT)
    response_headers = [(f"x-out-{i}".encode(), BIG.encode()) for i in range(200)]
    app = C13ASGIMiddleware(
        text_app(headers=response_headers),
        capture_request_headers=[".*"],
        capture_response_headers=[".*"],
        span_limits=limits,
        **options,
    )
    headers = [(f"x-in-{i % 50}".encode(), BIG.encode()) for i in range(2_000)] + [(b"x" * 300, b"long name")]
    sent = run(call(app, http_scope(headers=headers)))
    assert sent[0]["headers"] == response_headers  # the response passes through unchanged
    (span,) = exporter.get_finished_spans()
    for prefix in ("http.request.header.", "http.response.header."):
        values = [v for value in captured(span, prefix).values() for v in value]
        assert values and all(len(v) <= LIMIT for v in values)
        assert captured_size(span, prefix) <= MAX_CAPTURED_CHARS
    assert "http.request.header." + "x" * 300 not in span.attributes


def test_wsgi_captured_headers_are_bounded(options: dict[str, Any], exporter: InMemoryExporter) -> None:
    def app(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        start_response("200 OK", [(f"X-Out-{i}", BIG) for i in range(200)])
        return [b"ok"]

    traced = C13WSGIMiddleware(app, capture_request_headers=[".*"], capture_response_headers=[".*"], **options)
    headers = {f"X-In-{i}": BIG for i in range(300)}
    assert Client(traced).get("/", headers=headers).get_data() == b"ok"
    (span,) = exporter.get_finished_spans()
    limit = SpanLimits().max_attribute_length
    assert limit is not None
    for prefix in ("http.request.header.", "http.response.header."):
        values = [v for value in captured(span, prefix).values() for v in value]
        assert values and all(len(v) <= limit for v in values)
        assert captured_size(span, prefix) <= MAX_CAPTURED_CHARS


def test_unbounded_attribute_length_still_bounds_the_capture(
    options: dict[str, Any], exporter: InMemoryExporter
) -> None:
    app = C13ASGIMiddleware(
        text_app(), capture_request_headers=[".*"], span_limits=SpanLimits(max_attribute_length=None), **options
    )
    run(call(app, http_scope(headers=[(b"x-big", ("v" * 1_000_000).encode())] * 3)))
    (span,) = exporter.get_finished_spans()
    assert captured_size(span, "http.request.header.") <= MAX_CAPTURED_CHARS


# Numbers ------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("port", ["²", "8²", "٣٣", "80000000", "", "x"])
def test_wsgi_non_ascii_server_port_is_absent(options: dict[str, Any], exporter: InMemoryExporter, port: str) -> None:
    environ = {"REQUEST_METHOD": "GET", "PATH_INFO": "/", "SERVER_NAME": "srv", "SERVER_PORT": port}
    body = C13WSGIMiddleware(hello, **options)(environ, lambda *a: None)
    assert b"".join(body) == b"hello"
    (span,) = exporter.get_finished_spans()
    assert span.attributes["server.address"] == "srv" and "server.port" not in span.attributes


@pytest.mark.parametrize("status", ["²00 OK", "٢٠٠ OK", "abc", "20", "2000 OK", ""])
def test_wsgi_status_that_is_no_number_is_absent(
    options: dict[str, Any], exporter: InMemoryExporter, status: str
) -> None:
    statuses: list[str] = []

    def app(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        start_response(status, [])
        return [b"ok"]

    body = C13WSGIMiddleware(app, **options)(
        {"REQUEST_METHOD": "GET", "PATH_INFO": "/"}, lambda s, h, e=None: statuses.append(s)
    )
    assert b"".join(body) == b"ok" and statuses == [status]
    (span,) = exporter.get_finished_spans()
    assert "http.response.status_code" not in span.attributes


@pytest.mark.parametrize("status", ["200", "x", None, 2.5, True])
def test_asgi_status_that_is_no_int_passes_through(
    options: dict[str, Any], exporter: InMemoryExporter, status: object
) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": status, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    sent = run(call(C13ASGIMiddleware(app, **options), http_scope()))
    assert [m.get("status") for m in sent] == [status, None]
    (span,) = exporter.get_finished_spans()
    assert span.attributes.get("http.response.status_code") == (200 if status == "200" else None)


@pytest.mark.parametrize("code", ["1000", "x", "²", None, 10**30])
def test_websocket_close_code_that_is_no_number(
    options: dict[str, Any], exporter: InMemoryExporter, code: object
) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        assert (await receive())["type"] == "websocket.connect"
        await send({"type": "websocket.accept"})
        await send({"type": "websocket.close", "code": code})

    sent = run(ws_call(C13ASGIMiddleware(app, **options), [{"type": "websocket.connect"}]))
    assert sent[-1] == {"type": "websocket.close", "code": code}
    (span,) = exporter.get_finished_spans()
    assert span.attributes.get("websocket.close.code") == (1000 if code == "1000" else None)


def test_websocket_disconnect_code_that_is_no_number(options: dict[str, Any], exporter: InMemoryExporter) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        assert (await receive())["type"] == "websocket.connect"
        await send({"type": "websocket.accept"})
        message: Message = await receive()
        assert message == {"type": "websocket.disconnect", "code": "¹"}

    run(
        ws_call(
            C13ASGIMiddleware(app, **options),
            [{"type": "websocket.connect"}, {"type": "websocket.disconnect", "code": "¹"}],
        )
    )
    (span,) = exporter.get_finished_spans()
    assert "websocket.close.code" not in span.attributes


def test_wsgi_protocol_version_is_bounded(options: dict[str, Any], exporter: InMemoryExporter) -> None:
    app = C13WSGIMiddleware(hello, span_limits=SpanLimits(max_attribute_length=LIMIT), **options)
    environ = {"REQUEST_METHOD": "GET", "PATH_INFO": "/", "SERVER_PROTOCOL": "HTTP/" + "1" * 10_000}
    assert b"".join(app(environ, lambda *a: None)) == b"hello"
    (span,) = exporter.get_finished_spans()
    assert span.attributes["network.protocol.version"] == "1" * LIMIT
