from __future__ import annotations

import asyncio
import inspect
import sqlite3
from collections.abc import Iterator
from typing import Any

import pytest
from django.db import connections
from django.test import AsyncClient, Client, override_settings

import tests.django_app  # noqa: F401  (configures Django settings for this module)
from c13_middleware import FindingsProcessor, InMemoryExporter, Span, SpanKind, StatusCode, detect_findings
from c13_middleware.integrations._django_db import install_database_spans
from tests.integrations.django_shop import views
from tests.integrations.django_shop.models import SCHEMA


@pytest.fixture
def shop_db() -> Iterator[None]:
    """The shop tables in the shared in-memory database, kept alive by this connection for the test."""
    keeper = sqlite3.connect("file:c13tests?mode=memory&cache=shared", uri=True)
    try:
        for statement in SCHEMA:
            keeper.execute(statement)
        keeper.commit()
        yield
    finally:
        connections.close_all()
        for name in ("VIEW shop_customer", "TABLE shop_customer_data", "TABLE shop_order"):
            keeper.execute(f"DROP {name}")
        keeper.commit()
        keeper.close()


@pytest.fixture
def processor() -> Iterator[FindingsProcessor]:
    processor = FindingsProcessor()
    yield processor
    processor.shutdown()


@pytest.fixture
def c13_settings(options: dict[str, Any], processor: FindingsProcessor) -> Iterator[None]:
    with override_settings(C13={**options, "processors": [processor]}):
        yield


def _queries(spans: list[Span]) -> list[Span]:
    return [s for s in spans if "db.system.name" in s.attributes]


def test_n_plus_one_loop_in_a_view_is_found_at_its_line(
    shop_db: None, c13_settings: None, exporter: InMemoryExporter, processor: FindingsProcessor
) -> None:
    response = Client().get("/shop/orders/customers/")
    assert response.json() == {"customers": ["ada", "bob", "cy", "di", "ed", "fay"]}
    spans = list(exporter.get_finished_spans())
    (server,) = [s for s in spans if s.kind is SpanKind.SERVER]
    queries = _queries(spans)
    assert len(queries) == 7  # the orders, then one customer per order
    assert all(q.kind is SpanKind.CLIENT and q.parent.span_id == server.context.span_id for q in queries)  # type: ignore[union-attr]
    orders, customer = queries[0], queries[1]
    assert orders.name == "SELECT shop_order" and orders.attributes["db.system.name"] == "sqlite"
    assert orders.attributes["db.namespace"] == "file:c13tests?mode=memory&cache=shared"
    assert customer.name == "SELECT shop_customer"
    assert str(customer.attributes["db.query.text"]).startswith(
        'SELECT "shop_customer"."id", "shop_customer"."name" FROM "shop_customer" WHERE "shop_customer"."id" = %s'
    )
    loop_line = next(
        number for number, line in enumerate(inspect.getsource(views).splitlines(), 1) if "order.customer.name" in line
    )
    assert processor.force_flush(5000)
    ((trace_id, findings),) = list(processor.recent)
    assert trace_id == server.context.trace_id
    assert findings == detect_findings(spans)  # the processor's thread and a reader of the trace agree
    (finding,) = findings
    assert finding.kind == "n_plus_one_db" and len(finding.span_ids) == 6
    assert finding.location is not None
    assert (finding.location.file, finding.location.line) == (views.__file__, loop_line)
    assert finding.location.function == "order_customers"
    assert f"views.py:{loop_line}" in finding.summary


def test_async_view_queries_run_in_threads_and_stay_in_the_trace(
    shop_db: None, c13_settings: None, exporter: InMemoryExporter
) -> None:
    async def main() -> Any:
        return (await AsyncClient().get("/shop/async/orders/")).json()

    assert asyncio.run(main()) == {"orders": 6, "customers": 6}
    spans = list(exporter.get_finished_spans())
    (server,) = [s for s in spans if s.kind is SpanKind.SERVER]
    queries = _queries(spans)
    assert [q.name for q in queries] == ["SELECT shop_order", "SELECT shop_customer"]
    assert all(q.parent is not None and q.parent.span_id == server.context.span_id for q in queries)
    assert queries[1].attributes["db.query.text"].endswith('"shop_customer"."id" IN (?)')  # type: ignore[union-attr]


def test_failed_query_and_turning_spans_off(shop_db: None, c13_settings: None, exporter: InMemoryExporter) -> None:
    from c13_middleware import Tracer, use_span

    tracer = Tracer(exporter=exporter, export_mode="simple")
    with use_span(tracer.start_span("job"), end_on_exit=True), connections["default"].cursor() as cursor:
        with pytest.raises(Exception, match="no such table"):
            cursor.execute("SELECT * FROM missing WHERE a = %s", ["secret"])
        install_database_spans(False)
        try:
            cursor.execute("SELECT 1")
        finally:
            install_database_spans(None)
        cursor.execute("SELECT 2")
    failed, after, _ = exporter.get_finished_spans()
    assert (
        failed.status.code is StatusCode.ERROR
        and failed.attributes["db.query.text"] == "SELECT * FROM missing WHERE a = %s"
    )
    assert after.attributes["db.query.text"] == "SELECT ?"  # "SELECT 1" left no span
