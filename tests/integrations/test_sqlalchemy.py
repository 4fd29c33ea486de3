from __future__ import annotations

import asyncio
import pathlib

import pytest
import sqlalchemy
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from c13_middleware import InMemoryExporter, SpanKind, StatusCode, Tracer, detect_findings
from c13_middleware.integrations.sqlalchemy import instrument, uninstrument


def _db_spans(exporter: InMemoryExporter) -> list:  # type: ignore[type-arg]
    return [s for s in exporter.get_finished_spans() if "db.system.name" in s.attributes]


def test_sync_engine_statements_are_child_spans(tracer: Tracer, exporter: InMemoryExporter) -> None:
    engine = instrument(sqlalchemy.create_engine("sqlite://"))
    with tracer.start_as_current_span("GET /items") as request, engine.begin() as connection:
        connection.execute(sqlalchemy.text("CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT)"))
        connection.execute(sqlalchemy.text("INSERT INTO items (name) VALUES ('secret name')"))
        connection.execute(sqlalchemy.text("INSERT INTO items (name) VALUES (:n)"), [{"n": "a"}, {"n": "b"}])
        rows = connection.execute(sqlalchemy.text("SELECT name FROM items WHERE id = :id"), {"id": 1}).all()
    assert rows == [("secret name",)]
    create, insert, batch, select = _db_spans(exporter)
    assert all(s.kind is SpanKind.CLIENT and s.parent.span_id == request.context.span_id for s in (create, select))
    assert create.name == "CREATE items"
    assert insert.attributes["db.query.text"] == "INSERT INTO items (name) VALUES (?)"
    assert batch.name == "BATCH INSERT items" and batch.attributes["db.operation.batch.size"] == 2
    assert select.name == "SELECT items"
    assert select.attributes["db.system.name"] == "sqlite"
    assert select.attributes["db.query.text"] == "SELECT name FROM items WHERE id = ?"
    assert isinstance(create.attributes["db.client.connection.wait_time"], float)
    assert "db.client.connection.wait_time" not in select.attributes  # once per checkout: on its first statement
    engine.dispose()


def test_errors_options_and_uninstrument(tracer: Tracer, exporter: InMemoryExporter) -> None:
    engine = instrument(sqlalchemy.create_engine("sqlite://"), {"query_text": False})
    assert instrument(engine, {"parameters": True}) is engine  # again: new options, no second set of listeners
    with tracer.start_as_current_span("GET /"), engine.connect() as connection:
        with pytest.raises(sqlalchemy.exc.OperationalError):
            connection.execute(sqlalchemy.text("SELECT * FROM missing"))
        connection.execute(sqlalchemy.text("SELECT :v"), {"v": "param"})
    failed, ok = _db_spans(exporter)
    assert failed.status.code is StatusCode.ERROR and failed.attributes["error.type"] == "sqlite3.OperationalError"
    assert ok.attributes["db.query.parameter.0"] == "param"  # as the driver gets it (sqlite: positional)
    uninstrument(engine)
    uninstrument(engine)
    with tracer.start_as_current_span("GET /"), engine.connect() as connection:
        connection.execute(sqlalchemy.text("SELECT 1"))
    assert len(_db_spans(exporter)) == 2
    engine.dispose()


def test_async_engine(tracer: Tracer, exporter: InMemoryExporter) -> None:
    async def main() -> int:
        engine = instrument(create_async_engine("sqlite+aiosqlite://"))
        try:
            with tracer.start_as_current_span("GET /async"):
                async with engine.connect() as connection:
                    result = await connection.execute(sqlalchemy.text("SELECT 41 + :n"), {"n": 1})
                    return int(result.scalar_one())
        finally:
            await engine.dispose()

    assert asyncio.run(main()) == 42
    (span,) = _db_spans(exporter)
    request = next(s for s in exporter.get_finished_spans() if s.name == "GET /async")
    assert span.parent is not None and span.parent.span_id == request.context.span_id
    assert span.attributes["db.query.text"] == "SELECT ? + ?"


def _orders_then_each_customer(engine: sqlalchemy.Engine) -> None:
    customer = sqlalchemy.text("SELECT name, pg_sleep(0.011) FROM customers WHERE id = :id")
    with engine.connect() as connection:
        ids = [row[0] for row in connection.execute(sqlalchemy.text("SELECT customer_id FROM orders"))]
        for customer_id in ids:
            connection.execute(customer, {"id": customer_id})  # the N+1 line


def test_postgresql_through_psycopg(tracer: Tracer, exporter: InMemoryExporter, postgres_url: str) -> None:
    engine = instrument(sqlalchemy.create_engine(postgres_url.replace("postgresql://", "postgresql+psycopg://")))
    with engine.begin() as connection:
        connection.execute(sqlalchemy.text("DROP TABLE IF EXISTS orders, customers"))
        connection.execute(sqlalchemy.text("CREATE TABLE customers (id int PRIMARY KEY, name text)"))
        connection.execute(sqlalchemy.text("CREATE TABLE orders (id serial PRIMARY KEY, customer_id int)"))
        connection.execute(sqlalchemy.text("INSERT INTO customers SELECT g, 'c' || g FROM generate_series(1, 6) g"))
        connection.execute(sqlalchemy.text("INSERT INTO orders (customer_id) SELECT g FROM generate_series(1, 6) g"))
    assert _db_spans(exporter) == []  # no current span: set-up queries are not traced
    with tracer.start_as_current_span("GET /orders"):
        _orders_then_each_customer(engine)
    spans = _db_spans(exporter)
    assert len(spans) == 7
    first = spans[0]
    assert first.attributes["db.system.name"] == "postgresql"
    assert first.attributes["db.namespace"] == "postgres"
    assert first.attributes["server.address"] == "127.0.0.1"
    assert first.attributes["server.port"] == int(postgres_url.rsplit(":", 1)[1].split("/")[0])
    assert spans[1].attributes["db.query.text"] == "SELECT name, pg_sleep(?) FROM customers WHERE id = %(id)s"
    (finding,) = detect_findings(exporter.get_finished_spans())
    assert finding.kind == "n_plus_one_db" and finding.location is not None
    assert finding.location.file == __file__ and finding.location.function == "_orders_then_each_customer"
    source = pathlib.Path(__file__).read_text().splitlines()
    assert source[finding.location.line - 1].endswith("# the N+1 line")
    engine.dispose()


def test_postgresql_error_code_and_async_psycopg(tracer: Tracer, exporter: InMemoryExporter, postgres_url: str) -> None:
    engine = instrument(sqlalchemy.create_engine(postgres_url.replace("postgresql://", "postgresql+psycopg://")))
    with tracer.start_as_current_span("GET /"), engine.connect() as connection:
        with pytest.raises(sqlalchemy.exc.ProgrammingError):
            connection.execute(sqlalchemy.text("SELECT * FROM no_such_table"))
    engine.dispose()
    (failed,) = _db_spans(exporter)
    assert failed.attributes["db.response.status_code"] == "42P01"  # undefined_table
    assert failed.attributes["error.type"] == "psycopg.errors.UndefinedTable"

    async def main(async_engine: AsyncEngine) -> int:
        try:
            with tracer.start_as_current_span("GET /async"):
                async with async_engine.connect() as connection:
                    return int((await connection.execute(sqlalchemy.text("SELECT 40 + :n"), {"n": 2})).scalar_one())
        finally:
            await async_engine.dispose()

    url = postgres_url.replace("postgresql://", "postgresql+psycopg_async://")
    assert asyncio.run(main(instrument(create_async_engine(url)))) == 42
    select = _db_spans(exporter)[-1]
    assert select.attributes["db.query.text"] == "SELECT ? + %(n)s"
    assert select.parent is not None and select.parent.span_id == exporter.get_finished_spans()[-1].context.span_id
