"""FastAPI's own OpenTelemetry spans (its telemetry left at its default) and c13's through the API bridge, with
``app.add_middleware(C13Middleware)``: FastAPI starts its SERVER span around its middleware stack, before c13's, and
c13's SERVER span joins it (docs/server.md, "A span already current"): one trace, SQLAlchemy's spans under c13's
SERVER span. OpenTelemetry's WSGI middleware outside c13's follows the same rule."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor
from opentelemetry.instrumentation.wsgi import OpenTelemetryMiddleware
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.pool import StaticPool
from werkzeug.test import Client as WerkzeugClient

from c13_middleware import C13WSGIMiddleware, InMemoryExporter, Span, SpanKind, Tracer
from c13_middleware.integrations.starlette import C13Middleware
from tests.integrations.otel_bridge import ancestors, is_child

CALLER_TRACE = "0af7651916cd43dd8448eb211c80319c"
CALLER_SPAN = "b7ad6b7169203331"
TRACEPARENT = f"00-{CALLER_TRACE}-{CALLER_SPAN}-01"


@pytest.fixture
def engine(bridge: Tracer) -> Iterator[Engine]:
    # One in-memory database shared by the thread pool's workers.
    engine = create_engine("sqlite://", poolclass=StaticPool, connect_args={"check_same_thread": False})
    SQLAlchemyInstrumentor().instrument(engine=engine)  # after the bridge: it takes its tracer now
    try:
        yield engine
    finally:
        SQLAlchemyInstrumentor().uninstrument()
        engine.dispose()


def shop(engine: Engine, **options: Any) -> FastAPI:
    app = FastAPI()  # FastAPI's own telemetry at its default: on, since a tracer provider (c13's) is set

    @app.get("/items/{item_id}")
    def item(item_id: int, pause: float = 0.0) -> dict[str, int]:
        time.sleep(pause)
        with engine.connect() as connection:
            return {"n": connection.execute(text("SELECT :n + 1"), {"n": item_id}).scalar_one()}

    app.add_middleware(C13Middleware, **options)
    return app


def servers(spans: list[Span]) -> tuple[list[Span], list[Span]]:
    """(c13's SERVER spans, the other SERVER spans: FastAPI's)."""
    found = [s for s in spans if s.kind is SpanKind.SERVER]
    return [s for s in found if s.scope.name == "c13_middleware"], [
        s for s in found if s.scope.name != "c13_middleware"
    ]


@pytest.mark.parametrize("traceparent", [None, TRACEPARENT])
def test_one_trace_with_fastapis_own_spans(engine: Engine, exporter: InMemoryExporter, traceparent: str | None) -> None:
    headers = {"traceparent": traceparent} if traceparent else {}
    with TestClient(shop(engine)) as client:
        assert client.get("/items/41", headers=headers).json() == {"n": 42}
    spans = exporter.get_finished_spans()
    (c13,), (fastapi,) = servers(spans)
    assert is_child(c13, fastapi)  # FastAPI's span is outside c13's middleware: c13's joins it
    assert {s.context.trace_id for s in spans} == {fastapi.context.trace_id}
    if traceparent:
        assert fastapi.context.trace_id_hex == CALLER_TRACE and fastapi.parent is not None
        assert f"{fastapi.parent.span_id:016x}" == CALLER_SPAN
    else:
        assert fastapi.parent is None
    queries = [s for s in spans if s.scope.name == "opentelemetry.instrumentation.sqlalchemy"]
    assert any(s.name.startswith("SELECT") and s.kind is SpanKind.CLIENT for s in queries)
    assert all(c13 in ancestors(s, spans) for s in queries)
    operations = [s for s in spans if s.scope.name == "fastapi" and s.kind is SpanKind.INTERNAL]
    assert operations and all(is_child(s, c13) for s in operations)


@pytest.mark.parametrize("traceparent", [None, TRACEPARENT])
def test_an_untrusted_caller_never_parents_c13s_span(
    engine: Engine, exporter: InMemoryExporter, traceparent: str | None
) -> None:
    headers = {"traceparent": traceparent} if traceparent else {}
    with TestClient(shop(engine, trust_incoming_context=False)) as client:
        assert client.get("/items/1", headers=headers).json() == {"n": 2}
    spans = exporter.get_finished_spans()
    (c13,), (fastapi,) = servers(spans)
    queries = [s for s in spans if s.scope.name == "opentelemetry.instrumentation.sqlalchemy"]
    assert queries and all(c13 in ancestors(s, spans) for s in queries)
    if traceparent:
        # FastAPI continued the caller (its own choice); c13's span does not join a span in the caller's trace:
        # it starts its own trace, linked to the caller.
        assert fastapi.context.trace_id_hex == CALLER_TRACE
        assert c13.parent is None and c13.context.trace_id_hex != CALLER_TRACE
        assert [f"{link.context.span_id:016x}" for link in c13.links] == [CALLER_SPAN]
    else:  # no caller's context: FastAPI's span is local, and c13's joins it
        assert is_child(c13, fastapi) and not c13.links


def test_no_cross_request_parenting_under_concurrency(engine: Engine, exporter: InMemoryExporter) -> None:
    """One TestClient shared by threads, requests overlapping (the handler sleeps in the thread pool), half with a
    caller's context: each c13 SERVER span is the child of its own request's FastAPI span, one trace per request."""
    errors: list[BaseException] = []
    start = threading.Barrier(6)

    def run(client: TestClient, worker: int) -> None:
        try:
            start.wait(10)
            for i in range(4):
                n = worker * 10 + i
                headers = {"traceparent": f"00-{n + 1:032x}-{n + 1:016x}-01"} if i % 2 else {}
                assert client.get(f"/items/{n}?pause=0.01", headers=headers).json() == {"n": n + 1}
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)

    with TestClient(shop(engine)) as client:
        threads = [threading.Thread(target=run, args=(client, worker)) for worker in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
    assert errors == [] and not any(thread.is_alive() for thread in threads)
    spans = exporter.get_finished_spans()
    c13_spans, fastapi_spans = servers(spans)
    assert len(c13_spans) == len(fastapi_spans) == 24
    fastapi_by_path = {s.attributes["url.path"]: s for s in fastapi_spans}
    assert len({s.context.trace_id for s in fastapi_spans}) == 24  # one trace per request
    for c13 in c13_spans:
        assert is_child(c13, fastapi_by_path[c13.attributes["url.path"]]), c13.attributes["url.path"]
    queries = [s for s in spans if s.name.startswith("SELECT")]
    assert len(queries) == 24
    for query in queries:
        (request,) = [s for s in ancestors(query, spans) if s in c13_spans]
        assert {query.context.trace_id} == {request.context.trace_id}


@pytest.mark.parametrize("traceparent", [None, TRACEPARENT])
def test_opentelemetrys_wsgi_middleware_outside_c13s(
    bridge: Tracer, options: dict[str, Any], exporter: InMemoryExporter, traceparent: str | None
) -> None:
    """The same rule for every adapter: OpenTelemetry's WSGI middleware around c13's, its SERVER span started through
    the bridge, c13's joins it."""

    def hello(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"hello"]

    app = OpenTelemetryMiddleware(C13WSGIMiddleware(hello, **options))
    response = WerkzeugClient(app).get("/", headers={"traceparent": traceparent} if traceparent else {})
    assert response.status_code == 200 and response.get_data() == b"hello"
    c13, other = servers(exporter.get_finished_spans())
    (otel,) = [s for s in other if s.scope.name == "opentelemetry.instrumentation.wsgi"]
    (c13_span,) = c13
    assert is_child(c13_span, otel)
    if traceparent:
        assert otel.context.trace_id_hex == CALLER_TRACE
