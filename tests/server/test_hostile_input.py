"""Request data an attacker controls, through the ASGI and WSGI middleware: never an error, never a secret recorded."""

from __future__ import annotations

from typing import Any

import pytest
from werkzeug.test import Client

from c13_middleware import InMemoryExporter
from c13_middleware.server.asgi import C13ASGIMiddleware
from c13_middleware.server.wsgi import C13WSGIMiddleware
from tests.server.test_asgi import call, http_scope, run, text_app
from tests.server.test_wsgi import hello

QUERY = "%74oken=abc&q=a+b&Access%5Ftoken=x&X-Amz-Signature=s&api-key=k&code=c&state=s"
REDACTED = (
    "%74oken=REDACTED&q=a+b&Access%5Ftoken=REDACTED&X-Amz-Signature=REDACTED&api-key=REDACTED&code=REDACTED&state=s"
)


def test_asgi_redacts_encoded_sensitive_names(options: dict[str, Any], exporter: InMemoryExporter) -> None:
    run(call(C13ASGIMiddleware(text_app(), **options), http_scope(query_string=QUERY.encode())))
    (span,) = exporter.get_finished_spans()
    assert span.attributes["url.query"] == REDACTED


def test_wsgi_redacts_encoded_sensitive_names(options: dict[str, Any], exporter: InMemoryExporter) -> None:
    Client(C13WSGIMiddleware(hello, **options)).get("/p", query_string=QUERY).get_data()
    (span,) = exporter.get_finished_spans()
    assert span.attributes["url.query"] == REDACTED


@pytest.mark.parametrize("host", ["x:²", "x:¹²", "x:1³"])  # ASGI header values are latin-1
def test_asgi_non_ascii_port_is_absent(options: dict[str, Any], exporter: InMemoryExporter, host: str) -> None:
    headers = [(b"host", host.encode("latin-1"))]
    run(call(C13ASGIMiddleware(text_app(), **options), http_scope(headers=headers)))
    (span,) = exporter.get_finished_spans()  # tracing stays on
    assert span.attributes["server.address"] == "x" and "server.port" not in span.attributes


def test_wsgi_non_ascii_port_is_absent(options: dict[str, Any], exporter: InMemoryExporter) -> None:
    assert Client(C13WSGIMiddleware(hello, **options)).get("/", headers={"Host": "x:²"}).get_data() == b"hello"
    (span,) = exporter.get_finished_spans()
    assert span.attributes["server.address"] == "x" and "server.port" not in span.attributes


def test_the_profile_token_is_never_captured(options: dict[str, Any], exporter: InMemoryExporter) -> None:
    app = C13ASGIMiddleware(text_app(), capture_request_headers=[".*"], **options)
    headers = [(b"host", b"h"), (b"x-c13-profile", b"cpu"), (b"x-c13-profile-token", b"123.secretmac")]
    run(call(app, http_scope(headers=headers)))
    (span,) = exporter.get_finished_spans()
    assert span.attributes["http.request.header.x-c13-profile"] == ("cpu",)
    assert "secretmac" not in " ".join(f"{k}={v}" for k, v in span.attributes.items())
