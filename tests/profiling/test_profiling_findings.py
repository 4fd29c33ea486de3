"""A profiled request's report lists the span findings of that request (N+1 queries here) among its
recommendations, and the text report shows them. Detection runs when the report is built, bounded by
``MAX_FINDING_SPANS``; its cost is measured below."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route
from starlette.testclient import TestClient

from c13_middleware import InMemoryExporter, SpanKind, Tracer, get_profile, mint_token
from c13_middleware.findings import FindingThresholds, detect_findings
from c13_middleware.integrations.sqlalchemy import instrument
from c13_middleware.profiling import render_text
from c13_middleware.profiling._report import _span_findings
from tests.conftest import traced_starlette

SECRET = "s3cret-key-for-tests-only"
ORDERS = 8
QUERY_S = 0.012  # each item query waits this long inside SQLite: 8 x 12 ms is over the N+1 threshold of 50 ms


def _pause(seconds: float) -> int:
    time.sleep(seconds)
    return 1


@pytest.fixture
def engine() -> Iterator[sqlalchemy.Engine]:
    engine = instrument(
        sqlalchemy.create_engine(
            "sqlite://", poolclass=sqlalchemy.pool.StaticPool, connect_args={"check_same_thread": False}
        )
    )

    @sqlalchemy.event.listens_for(engine, "connect")
    def _functions(connection: Any, record: Any) -> None:
        connection.create_function("pause", 1, _pause)

    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE items (order_id INTEGER, name TEXT)")
        conn.exec_driver_sql("INSERT INTO items VALUES " + ", ".join(f"({i}, 'item {i}')" for i in range(ORDERS)))
    yield engine
    engine.dispose()


def load_items(engine: sqlalchemy.Engine) -> list[str]:
    names = []
    with engine.connect() as conn:
        for order_id in range(ORDERS):  # the N+1 loop
            rows = conn.execute(
                sqlalchemy.text("SELECT name FROM items WHERE order_id = :id AND pause(:s)"),
                {"id": order_id, "s": QUERY_S},
            )
            names.extend(row[0] for row in rows)
    return names


def test_profiled_request_lists_its_n_plus_one_queries(
    engine: sqlalchemy.Engine, options: dict[str, Any], exporter: InMemoryExporter
) -> None:
    def orders(request: Request) -> Response:  # a sync endpoint: Starlette runs it in anyio's thread pool
        return PlainTextResponse(",".join(load_items(engine)))

    app = traced_starlette([Route("/orders", orders)], **options, profile_secret=SECRET)
    headers = {"x-c13-profile": "cpu", "x-c13-profile-token": mint_token(SECRET, "GET", "/orders", 60)}
    response = TestClient(app).get("/orders", headers=headers)
    assert response.status_code == 200 and response.text.count("item") == ORDERS
    report = get_profile(response.headers["x-c13-profile-id"])
    assert report is not None
    (finding,) = [r for r in report.recommendations if r.rule == "n_plus_one_db"]
    assert finding.value == ORDERS
    assert "N+1 queries: 8 sequential" in finding.message
    assert finding.function == "load_items"  # the query's code location: the loop in the user's function
    assert finding.location.rsplit(":", 1)[0].endswith("test_profiling_findings.py")
    assert f"- [n_plus_one_db] {finding.message}" in render_text(report)
    spans = exporter.get_finished_spans()
    assert sum(1 for s in spans if "db.system.name" in s.attributes) == ORDERS


def test_unprofiled_findings_are_not_in_other_reports(options: dict[str, Any]) -> None:
    """No spans, no span findings: a report built without spans lists only the profile's own advice."""
    assert _span_findings(()) == ()


def test_detection_cost_is_bounded(exporter: InMemoryExporter) -> None:
    """Detection over a request's spans (here 200 query spans) costs well under a millisecond per report (measured:
    see docs/profiling.md); the report of a huge request reads at most ``MAX_FINDING_SPANS`` spans."""
    tracer = Tracer(service_name="cost", exporter=exporter, export_mode="simple")
    with tracer.start_as_current_span("GET /orders"):
        for i in range(200):
            with tracer.start_as_current_span(f"SELECT {i % 5}", kind=SpanKind.CLIENT) as span:
                span.set_attribute("db.system.name", "sqlite")
                span.set_attribute("db.query.text", f"SELECT name FROM items WHERE id = ? -- {i % 5}")
    spans = tuple(s for s in exporter.get_finished_spans() if "db.system.name" in s.attributes)
    found = detect_findings(spans, FindingThresholds(n_plus_one_min_total_s=0.0))
    assert [f.kind for f in found] == ["n_plus_one_db"] * 5  # one run of 40 per query text
    rounds = 50
    started = time.perf_counter()
    for _ in range(rounds):
        _span_findings(spans)
    per_report = (time.perf_counter() - started) / rounds
    assert per_report < 0.005, per_report
