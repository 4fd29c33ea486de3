from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import pytest
from werkzeug.test import Client

from c13_middleware import InMemoryExporter, StatusCode, Tracer, current_span
from c13_middleware.server.wsgi import C13WSGIMiddleware

TRACEPARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


def hello(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"hello"]


def test_wsgi_span_continues_trace(options: dict[str, Any], exporter: InMemoryExporter) -> None:
    client = Client(C13WSGIMiddleware(hello, **options))
    response = client.get("/a/b?x=1", headers={"traceparent": TRACEPARENT, "Host": "svc:81"})
    assert response.get_data() == b"hello"
    (span,) = exporter.get_finished_spans()
    assert span.name == "GET"
    assert span.parent is not None and span.parent.span_id == 0xB7AD6B7169203331
    assert span.attributes["url.path"] == "/a/b" and span.attributes["url.query"] == "x=1"
    assert span.attributes["server.address"] == "svc" and span.attributes["server.port"] == 81
    assert span.attributes["http.response.status_code"] == 200


def test_generator_body_runs_inside_span_and_ends_on_close(options: dict[str, Any], exporter: InMemoryExporter) -> None:
    seen: list[object] = []

    def app(environ: dict[str, Any], start_response: Any) -> Iterator[bytes]:
        start_response("200 OK", [])
        for _ in range(2):
            seen.append(current_span())
            yield b"x"

    middleware = C13WSGIMiddleware(app, **options)
    body = middleware({"REQUEST_METHOD": "GET", "PATH_INFO": "/", "wsgi.url_scheme": "http"}, lambda *a: None)
    assert exporter.get_finished_spans() == []
    assert next(body) == b"x"  # type: ignore[call-overload]
    assert exporter.get_finished_spans() == []  # mid-body: still open
    assert list(body) == [b"x"]
    (span,) = exporter.get_finished_spans()
    assert seen == [span, span]
    body.close()  # type: ignore[attr-defined]
    assert len(exporter.get_finished_spans()) == 1
    assert current_span() is None


def test_client_disconnect_mid_body_ends_span_on_close(options: dict[str, Any], exporter: InMemoryExporter) -> None:
    def app(environ: dict[str, Any], start_response: Any) -> Iterator[bytes]:
        start_response("200 OK", [])
        while True:
            yield b"x"

    body = C13WSGIMiddleware(app, **options)({"REQUEST_METHOD": "GET", "PATH_INFO": "/"}, lambda *a: None)
    next(iter(body))
    assert exporter.get_finished_spans() == []
    body.close()  # type: ignore[attr-defined]
    assert len(exporter.get_finished_spans()) == 1


def test_wsgi_exception_recorded_and_reraised(options: dict[str, Any], exporter: InMemoryExporter) -> None:
    def app(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        raise ValueError("bad")

    with pytest.raises(ValueError, match="bad"):
        C13WSGIMiddleware(app, **options)({"REQUEST_METHOD": "GET", "PATH_INFO": "/"}, lambda *a: None)
    (span,) = exporter.get_finished_spans()
    assert span.status.code is StatusCode.ERROR and span.attributes["error.type"] == "ValueError"


def test_wsgi_exception_during_iteration(options: dict[str, Any], exporter: InMemoryExporter) -> None:
    def app(environ: dict[str, Any], start_response: Any) -> Iterator[bytes]:
        start_response("200 OK", [])
        yield b"a"
        raise OSError("disk")

    body = C13WSGIMiddleware(app, **options)({"REQUEST_METHOD": "GET", "PATH_INFO": "/"}, lambda *a: None)
    with pytest.raises(OSError):
        list(body)
    body.close()  # type: ignore[attr-defined]
    (span,) = exporter.get_finished_spans()
    assert span.status.code is StatusCode.ERROR and span.attributes["error.type"] == "OSError"


def test_wsgi_server_timing_and_5xx(options: dict[str, Any], exporter: InMemoryExporter) -> None:
    def app(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        start_response("502 Bad Gateway", [])
        return [b""]

    response = Client(C13WSGIMiddleware(app, server_timing_trace=True, **options)).get("/")
    response.close()
    (span,) = exporter.get_finished_spans()
    assert (
        response.headers["Server-Timing"]
        == f"trace;desc=00-{span.context.trace_id:032x}-{span.context.span_id:016x}-03"
    )
    assert span.status.code is StatusCode.ERROR and span.attributes["error.type"] == "502"


def test_wsgi_child_spans(options: dict[str, Any], exporter: InMemoryExporter) -> None:
    tracer = Tracer(exporter=exporter, export_mode="simple")

    def app(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        with tracer.start_as_current_span("child"):
            start_response("200 OK", [])
        return [b""]

    Client(C13WSGIMiddleware(app, **options)).get("/").close()
    child, server = exporter.get_finished_spans()
    assert child.parent == server.context


def test_folded_traceparent_fields_are_invalid(options: dict[str, Any], exporter: InMemoryExporter) -> None:
    # Two traceparent fields folded by WSGI into one comma-joined value: the first alone would be a valid
    # higher-version header (extra data after a dash), but two fields make the header invalid.
    folded = "cc-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-extra," + TRACEPARENT
    Client(C13WSGIMiddleware(hello, **options)).get("/", headers={"traceparent": folded}).close()
    (span,) = exporter.get_finished_spans()
    assert span.parent is None


def test_wsgi_header_capture(options: dict[str, Any], exporter: InMemoryExporter) -> None:
    app = C13WSGIMiddleware(hello, capture_request_headers=["x-request-id", "content-type", "cookie"], **options)
    client = Client(app)
    client.post(
        "/", headers={"X-Request-Id": "r1", "Cookie": "s=1"}, data=b"{}", content_type="application/json"
    ).close()
    (span,) = exporter.get_finished_spans()
    assert span.attributes["http.request.header.x-request-id"] == ("r1",)
    assert span.attributes["http.request.header.content-type"] == ("application/json",)
    assert "http.request.header.cookie" not in span.attributes
