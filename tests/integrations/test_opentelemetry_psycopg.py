"""psycopg 3 instrumented by OpenTelemetry's ``PsycopgInstrumentor`` against the real PostgreSQL (the session's
throwaway cluster, tests/integrations/conftest.py), recording through c13's OpenTelemetry API bridge, no SDK
provider: a traced request's query spans are children of c13's SERVER span, one trace, with the instrumentation's
scope. (c13's own SQLAlchemy instrumentation over psycopg is tested in test_sqlalchemy.py.)"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from fastapi import FastAPI
from opentelemetry import trace as otel_trace
from opentelemetry.instrumentation.psycopg import PsycopgInstrumentor
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.testclient import TestClient

from c13_middleware import InMemoryExporter, Span, SpanKind, Tracer
from c13_middleware.integrations import opentelemetry as bridge_module
from c13_middleware.integrations.starlette import C13Middleware
from tests.conftest import traced_starlette
from tests.integrations.otel_bridge import ancestors, is_child

SCOPE = "opentelemetry.instrumentation.psycopg"
TRACEPARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


@pytest.fixture
def instrumented(bridge: Tracer) -> Iterator[None]:
    PsycopgInstrumentor().instrument()  # after the bridge: the instrumentation takes its tracer now
    try:
        yield
    finally:
        PsycopgInstrumentor().uninstrument()


def app_for(postgres_url: str, **options: Any) -> Any:
    def sync_orders(request: Request) -> Response:  # Starlette runs it in its thread pool
        with psycopg.connect(postgres_url) as connection:
            total = connection.execute("SELECT sum(g) FROM generate_series(1, %s) g", (4,)).fetchone()
            name = connection.execute("SELECT current_database()").fetchone()
        return JSONResponse({"total": total[0] if total else None, "db": name[0] if name else None})

    async def async_orders(request: Request) -> Response:
        async with await psycopg.AsyncConnection.connect(postgres_url) as connection:
            cursor = await connection.execute("SELECT %s::int * 2", (21,))
            row = await cursor.fetchone()
        return JSONResponse({"n": row[0] if row else None})

    return traced_starlette([Route("/sync", sync_orders), Route("/async", async_orders)], **options)


def query_spans(spans: list[Span]) -> list[Span]:
    return [s for s in spans if s.scope.name == SCOPE]


@pytest.mark.parametrize("traceparent", [None, TRACEPARENT])
def test_psycopg_query_spans_are_children_of_c13s_server_span(
    instrumented: None,
    postgres_url: str,
    options: dict[str, Any],
    exporter: InMemoryExporter,
    traceparent: str | None,
) -> None:
    assert bridge_module.installed()
    headers = {"traceparent": traceparent} if traceparent else {}
    with TestClient(app_for(postgres_url, **options)) as client:
        assert client.get("/sync", headers=headers).json() == {"total": 10, "db": "postgres"}
        assert client.get("/async", headers=headers).json() == {"n": 42}
    spans = exporter.get_finished_spans()
    servers = [s for s in spans if s.kind is SpanKind.SERVER]
    assert [s.name for s in servers] == ["GET /sync", "GET /async"]
    queries = query_spans(spans)
    assert [[is_child(q, server) for q in queries] for server in servers] == [
        [True, True, False],  # the sync endpoint's two queries
        [False, False, True],  # the async endpoint's one
    ]
    if traceparent:
        assert {s.context.trace_id_hex for s in spans} == {traceparent.split("-")[1]}
    assert all(q.kind is SpanKind.CLIENT for q in queries)
    assert {q.name for q in queries} == {"SELECT"}
    first = queries[0]
    assert first.scope.version  # the instrumentation's version reaches the scope too
    assert first.attributes["db.system"] == "postgresql"
    assert first.attributes["db.statement"] == "SELECT sum(g) FROM generate_series(1, %s) g"
    assert otel_trace.get_tracer_provider() is bridge_module.PROVIDER  # no SDK provider recorded anything


def test_fastapi_with_its_own_telemetry_one_trace(
    instrumented: None, postgres_url: str, exporter: InMemoryExporter
) -> None:
    """``app.add_middleware(C13Middleware)`` with FastAPI's telemetry at its default: FastAPI's SERVER span outside,
    c13's inside it, FastAPI's endpoint span and the psycopg span under c13's."""
    app = FastAPI()

    @app.get("/orders/{order_id}")
    def order(order_id: int) -> dict[str, Any]:
        with psycopg.connect(postgres_url) as connection:
            row = connection.execute("SELECT %s::int + 1", (order_id,)).fetchone()
        return {"next": row[0] if row else None}

    app.add_middleware(C13Middleware)
    with TestClient(app) as client:
        assert client.get("/orders/6", headers={"traceparent": TRACEPARENT}).json() == {"next": 7}
    spans = exporter.get_finished_spans()
    (c13,) = [s for s in spans if s.kind is SpanKind.SERVER and s.scope.name == "c13_middleware"]
    (fastapi,) = [s for s in spans if s.kind is SpanKind.SERVER and s.scope.name == "fastapi"]
    (query,) = query_spans(spans)
    assert is_child(c13, fastapi) and [s.name for s in ancestors(query, spans)][:2] == ["fastapi.endpoint", c13.name]
    assert ancestors(query, spans)[1] is c13
    assert {s.context.trace_id_hex for s in spans} == {TRACEPARENT.split("-")[1]}
