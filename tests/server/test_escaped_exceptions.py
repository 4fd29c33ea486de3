"""An exception that escapes the generic middleware: recorded once; a 500 if no response had started (the server
answers 500), else the started response's status stays (docs/server.md, "Exceptions")."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pytest

from c13_middleware import InMemoryExporter
from c13_middleware.server.asgi import C13ASGIMiddleware, Receive, Scope, Send
from c13_middleware.server.wsgi import C13WSGIMiddleware
from tests.server.test_asgi import call, http_scope, run


def test_wsgi_exception_before_the_response_is_a_500(options: dict[str, Any], exporter: InMemoryExporter) -> None:
    def app(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        raise LookupError("gone")

    with pytest.raises(LookupError):
        C13WSGIMiddleware(app, **options)({"REQUEST_METHOD": "GET", "PATH_INFO": "/"}, lambda *a: None)
    (span,) = exporter.get_finished_spans()
    assert span.attributes["http.response.status_code"] == 500 and span.attributes["error.type"] == "LookupError"
    assert len(span.events) == 1


def test_asgi_exception_after_the_response_started_keeps_its_status(
    options: dict[str, Any], exporter: InMemoryExporter
) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        raise LookupError("mid-body")

    with pytest.raises(LookupError):
        run(call(C13ASGIMiddleware(app, **options), http_scope()))
    (span,) = exporter.get_finished_spans()
    assert span.attributes["http.response.status_code"] == 200 and span.attributes["error.type"] == "LookupError"
    assert len(span.events) == 1
