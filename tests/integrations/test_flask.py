from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask, Response, abort, stream_with_context

from c13_middleware import ConfigError, InMemoryExporter, SpanKind, StatusCode, Tracer, current_span
from c13_middleware.integrations.flask import C13


def make_app() -> Flask:
    app = Flask(__name__)

    @app.get("/items/<int:item_id>")
    def item(item_id: int) -> str:
        return f"item {item_id}"

    @app.get("/boom")
    def boom() -> str:
        raise RuntimeError("kaboom")

    @app.get("/handled")
    def handled() -> str:
        raise KeyError("nope")

    @app.errorhandler(KeyError)
    def on_key_error(exc: KeyError) -> tuple[str, int]:
        return "bad key", 400

    @app.get("/missing")
    def missing() -> str:
        abort(404)

    @app.get("/stream")
    def stream() -> Response:
        def chunks() -> Iterator[str]:
            for i in range(3):
                time.sleep(0.03)
                yield f"{i}\n"

        return Response(stream_with_context(chunks()))

    return app


def test_init_app_names_spans_from_url_rule(options: dict[str, Any], exporter: InMemoryExporter) -> None:
    app = make_app()
    ext = C13(**options)
    ext.init_app(app)
    assert app.extensions["c13"] is app.wsgi_app
    client = app.test_client()
    assert client.get("/items/3").text == "item 3"
    with client.get("/nowhere") as response:  # closing the response closes the WSGI body
        assert response.status_code == 404
    first, second = exporter.get_finished_spans()
    assert first.name == "GET /items/<int:item_id>" and first.kind is SpanKind.SERVER
    assert first.attributes["http.route"] == "/items/<int:item_id>"
    assert first.attributes["http.response.status_code"] == 200
    assert second.name == "GET" and second.status.code is StatusCode.UNSET


def test_double_registration_is_refused(options: dict[str, Any]) -> None:
    app = make_app()
    C13(app, **options)
    with pytest.raises(RuntimeError, match="already registered"):
        C13(app, **options)


def test_config_keys_override_constructor_options(exporter: InMemoryExporter) -> None:
    app = make_app()
    app.config.update(C13_SERVICE_NAME="from-config", C13_EXCLUDE_PATHS=["/items/1"])
    C13(app, service_name="from-code", exporter=exporter, export_mode="simple")
    client = app.test_client()
    client.get("/items/1").close()
    client.get("/items/2").close()
    (span,) = exporter.get_finished_spans()
    assert span.resource.attributes["service.name"] == "from-config"


def test_bad_config_key_fails_at_start_up() -> None:
    app = make_app()
    app.config["C13_SERVCE_NAME"] = "x"
    with pytest.raises(ConfigError, match="did you mean 'service_name'"):
        C13(app)


def test_unhandled_exception_gives_500_error_span(options: dict[str, Any], exporter: InMemoryExporter) -> None:
    app = make_app()
    C13(app, **options)
    with app.test_client().get("/boom") as response:
        assert response.status_code == 500
    (span,) = exporter.get_finished_spans()
    assert span.status.code is StatusCode.ERROR
    assert span.attributes["http.response.status_code"] == 500
    assert span.attributes["error.type"] == "RuntimeError"
    assert [e.attributes["exception.message"] for e in span.events] == ["kaboom"]


def test_exception_handled_by_error_handler_keeps_real_status(
    options: dict[str, Any], exporter: InMemoryExporter
) -> None:
    app = make_app()
    C13(app, **options)
    with app.test_client().get("/handled") as response:
        assert response.status_code == 400
    (span,) = exporter.get_finished_spans()
    assert span.attributes["http.response.status_code"] == 400
    assert span.status.code is StatusCode.UNSET  # a 4xx on a server span
    assert not span.events  # turned into a 4xx: the status says what happened (docs/server.md, "Exceptions")


def test_abort_is_not_an_exception_event(options: dict[str, Any], exporter: InMemoryExporter) -> None:
    app = make_app()
    C13(app, **options)
    with app.test_client().get("/missing") as response:
        assert response.status_code == 404
    (span,) = exporter.get_finished_spans()
    assert not span.events and span.name == "GET /missing"


def test_streaming_span_ends_when_body_is_closed(options: dict[str, Any], exporter: InMemoryExporter) -> None:
    app = make_app()
    C13(app, **options)
    response = app.test_client().get("/stream")
    assert response.text == "0\n1\n2\n"
    (span,) = exporter.get_finished_spans()
    assert (span.duration_ns or 0) >= 80_000_000


def test_child_spans_in_handler_and_threaded_requests(options: dict[str, Any], exporter: InMemoryExporter) -> None:
    app = Flask(__name__)
    tracer = Tracer(exporter=exporter, export_mode="simple")

    @app.get("/work/<int:n>")
    def work(n: int) -> str:
        server = current_span()
        for _ in range(2):
            time.sleep(0.001)
            with tracer.start_as_current_span("step"):
                pass
        return f"{server.context.span_id:016x}" if server else "none"

    C13(app, **options)
    results: list[str] = []
    lock = threading.Lock()

    def worker() -> None:
        client = app.test_client()
        for i in range(10):
            text = client.get(f"/work/{i}").text
            with lock:
                results.append(text)

    threads = [threading.Thread(target=worker) for _ in range(32)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    spans = exporter.get_finished_spans()
    servers = {s.context.span_id: s for s in spans if s.kind is SpanKind.SERVER}
    steps = [s for s in spans if s.name == "step"]
    assert len(servers) == 320 and len(steps) == 640
    assert {int(r, 16) for r in results} == set(servers)
    counts: dict[int, int] = {}
    for step in steps:
        assert step.parent is not None and step.parent.span_id in servers
        counts[step.parent.span_id] = counts.get(step.parent.span_id, 0) + 1
    assert set(counts.values()) == {2}
