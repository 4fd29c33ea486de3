from __future__ import annotations

import asyncio
import time

import pytest

from c13_middleware import InMemoryExporter, SpanKind, StatusCode, Tracer, suppress_instrumentation
from c13_middleware.client import _db
from c13_middleware.client._code_location import caller_location
from c13_middleware.client._db import DbOptions, db_target, start_db_call, start_sql_call

TARGET = db_target("postgresql", "shop", "db.internal", 5432)


def _one_query(tracer: Tracer, options: DbOptions, statement: str, parameters: object = None) -> None:
    with tracer.start_as_current_span("GET /orders"):
        call = start_sql_call(TARGET, options, statement, parameters)
        assert call is not None
        call.finish()


def test_sql_span_has_the_stable_database_attributes(tracer: Tracer, exporter: InMemoryExporter) -> None:
    _one_query(tracer, DbOptions(), "SELECT * FROM orders WHERE customer = 'alice' AND total > 100", ("alice",))
    query, request = exporter.get_finished_spans()
    assert query.kind is SpanKind.CLIENT and query.name == "SELECT orders"
    assert query.parent is not None and query.parent.span_id == request.context.span_id
    assert dict(query.attributes) == {
        "db.system.name": "postgresql",
        "db.namespace": "shop",
        "server.address": "db.internal",
        "server.port": 5432,
        "db.operation.name": "SELECT",
        "db.collection.name": "orders",
        "db.query.summary": "SELECT orders",
        "db.query.text": "SELECT * FROM orders WHERE customer = ? AND total > ?",
    }


def test_query_text_off_and_parameters_opt_in(tracer: Tracer, exporter: InMemoryExporter) -> None:
    _one_query(tracer, DbOptions(query_text=False), "SELECT a FROM t WHERE b = 'secret'")
    _one_query(tracer, DbOptions(parameters=True), "SELECT a FROM t WHERE b = %s AND c = %s", ("x" * 1000, 7))
    _one_query(tracer, DbOptions(parameters=True), "SELECT a FROM t WHERE b = %(b)s", {"b": "named"})
    off, _, positional, _, named, _ = exporter.get_finished_spans()
    assert "db.query.text" not in off.attributes and off.attributes["db.query.summary"] == "SELECT t"
    assert not any(key.startswith("db.query.parameter") for key in off.attributes)
    assert positional.attributes["db.query.parameter.0"] == "x" * 256  # cut short
    assert positional.attributes["db.query.parameter.1"] == "7"
    assert named.attributes["db.query.parameter.b"] == "named"


def test_batch_is_named_and_sized(tracer: Tracer, exporter: InMemoryExporter) -> None:
    with tracer.start_as_current_span("job"):
        call = start_sql_call(TARGET, DbOptions(), "INSERT INTO t (a) VALUES (%s)", [(1,), (2,), (3,)], batch_size=3)
        assert call is not None
        call.finish()
    span = exporter.get_finished_spans()[0]
    assert span.name == "BATCH INSERT t" and span.attributes["db.operation.batch.size"] == 3


def test_no_span_outside_a_trace_unless_asked(tracer: Tracer, exporter: InMemoryExporter) -> None:
    assert start_sql_call(TARGET, DbOptions(), "SELECT 1") is None
    with suppress_instrumentation(), tracer.start_as_current_span("suppressed"):
        assert start_sql_call(TARGET, DbOptions(), "SELECT 1") is None
    call = start_db_call(TARGET, DbOptions(only_in_traces=False), operation="PING")
    assert call is not None
    call.finish()


def test_error_is_recorded_once(tracer: Tracer, exporter: InMemoryExporter) -> None:
    with tracer.start_as_current_span("GET /"):
        call = start_sql_call(TARGET, DbOptions(), "SELECT nope")
        assert call is not None
        call.finish(LookupError("no such column"))
        call.finish()  # a second end is ignored
    span = exporter.get_finished_spans()[0]
    assert span.status.code is StatusCode.ERROR and span.attributes["error.type"] == "LookupError"
    assert span.events[0].name == "exception"


# A driver: its frames are library frames (by module name), as a real driver's are.
_DRIVER: dict[str, object] = {"__name__": "psycopg.fake", "start": start_sql_call, "TARGET": TARGET, "time": time}
exec(
    "def execute(options, sleep_s):\n"
    "    call = start(TARGET, options, 'SELECT a FROM t WHERE id = %s')\n"
    "    time.sleep(sleep_s)\n"
    "    call.finish()\n",
    _DRIVER,
)


def _issue(options: DbOptions, sleep_s: float = 0.0) -> None:
    _DRIVER["execute"](options, sleep_s)  # type: ignore[operator]  # the line the location must name


def test_code_location_modes(tracer: Tracer, exporter: InMemoryExporter) -> None:
    with tracer.start_as_current_span("GET /"):
        _issue(DbOptions(code_location="off"))
        _issue(DbOptions(code_location="always"))
    with tracer.start_as_current_span("GET /"):
        _issue(DbOptions())  # first of its text under this parent, fast: no location
        _issue(DbOptions())  # repeated: located
    with tracer.start_as_current_span("GET /"):
        _issue(DbOptions(slow_query_s=0.01), sleep_s=0.02)  # first, but slow: located
    off, always, _, first, repeated, _, slow, _ = exporter.get_finished_spans()
    assert "code.file.path" not in off.attributes and "code.file.path" not in first.attributes
    line = _issue.__code__.co_firstlineno + 1
    for span in (always, repeated, slow):
        assert span.attributes["code.file.path"] == __file__
        assert span.attributes["code.line.number"] == line
        assert span.attributes["code.function.name"] == "_issue"


def test_caller_location_skips_library_frames() -> None:
    namespace: dict[str, object] = {"__name__": "sqlalchemy.fake", "locate": caller_location}
    exec("def orm_call():\n    return locate()\n", namespace)
    location = namespace["orm_call"]()  # type: ignore[operator]
    assert location is not None and location.file == __file__ and location.function.endswith("library_frames")


@pytest.mark.parametrize("value", [{"query_text": False}, DbOptions(parameters=True), None])
def test_options_from_mapping(value: object) -> None:
    options = DbOptions.from_mapping(value)  # type: ignore[arg-type]
    assert isinstance(options, DbOptions)
    with pytest.raises(TypeError):
        DbOptions.from_mapping({"no_such_option": 1})


def test_a_cancelled_query_is_an_error_without_an_exception_event(tracer: Tracer, exporter: InMemoryExporter) -> None:
    with tracer.start_as_current_span("GET /"):
        call = start_sql_call(TARGET, DbOptions(), "SELECT pg_sleep(10)")
        assert call is not None
        call.finish(asyncio.CancelledError())  # the task was cancelled: not an exception of the query
    span = exporter.get_finished_spans()[0]
    assert span.status.code is StatusCode.ERROR
    assert span.attributes["error.type"] == "asyncio.exceptions.CancelledError"
    assert [event.name for event in span.events] == []


class _OddDriverError(Exception):
    @property
    def sqlstate(self) -> str:
        raise RuntimeError("the driver's error object is half-built")


def test_an_error_that_cannot_be_read_still_ends_the_span(
    tracer: Tracer, exporter: InMemoryExporter, caplog: pytest.LogCaptureFixture
) -> None:
    with tracer.start_as_current_span("GET /"):
        call = start_sql_call(TARGET, DbOptions(), "SELECT 1")
        assert call is not None
        call.finish(_OddDriverError("lost connection"))
    span = exporter.get_finished_spans()[0]
    assert span.end_time is not None and span.status.code is StatusCode.ERROR
    assert "db.response.status_code" not in span.attributes
    assert "recording a database error failed" in caplog.text


def test_statements_without_an_operation_are_named_by_the_system(tracer: Tracer, exporter: InMemoryExporter) -> None:
    with tracer.start_as_current_span("job"):
        for call in (
            start_db_call(TARGET, DbOptions(), operation=None),
            start_sql_call(TARGET, DbOptions(), "-- only a comment", batch_size=3),
        ):
            assert call is not None
            call.finish()
    plain, batch, _ = exporter.get_finished_spans()
    for span in (plain, batch):
        assert span.name == "postgresql"
        assert not {"db.operation.name", "db.collection.name", "db.query.summary"} & set(span.attributes)
    assert batch.attributes["db.operation.batch.size"] == 3


def test_parameters_of_another_shape_are_not_recorded(tracer: Tracer, exporter: InMemoryExporter) -> None:
    _one_query(tracer, DbOptions(parameters=True), "SELECT a FROM t WHERE b = %s", {"a set"})
    query, _ = exporter.get_finished_spans()
    assert not any(key.startswith("db.query.parameter") for key in query.attributes)


def test_a_target_that_is_not_a_mapping_is_not_traced(tracer: Tracer, caplog: pytest.LogCaptureFixture) -> None:
    with tracer.start_as_current_span("GET /"):
        assert start_db_call(42, DbOptions(), operation="PING") is None  # type: ignore[arg-type]
    assert "starting a database span failed" in caplog.text


def test_the_repeated_query_memory_is_bounded(
    tracer: Tracer, exporter: InMemoryExporter, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_db, "_MAX_SEEN", 2)
    monkeypatch.setattr(_db, "_seen", {})
    with tracer.start_as_current_span("GET /"):
        for statement in ("SELECT a FROM t", "SELECT b FROM t", "SELECT c FROM t", "SELECT a FROM t"):
            call = start_sql_call(TARGET, DbOptions(slow_query_s=60), statement)
            assert call is not None
            call.finish()
    assert len(_db._seen) <= 2
    last = exporter.get_finished_spans()[3]
    assert "code.file.path" not in last.attributes  # forgotten when the memory was full: not seen as repeated
