"""Database spans: the code-location walk, one SQL span, and a real SQLite query through SQLAlchemy with and without
``instrument(engine)``.

python -m benchmarks.bench_db
"""

from __future__ import annotations

from collections.abc import Callable

from benchmarks._timing import NullExporter, machine, per_call_us, table
from c13_middleware import BatchSpanProcessor, Tracer, use_span
from c13_middleware.client import _db
from c13_middleware.client._code_location import caller_location
from c13_middleware.client._db import DbOptions, db_target, start_sql_call

N = 20_000
QUERY = 'SELECT "items"."id", "items"."name" FROM "items" WHERE "items"."owner_id" = %s AND "items"."kind" = \'a\''


def _library_stack(depth: int, leaf: Callable[[], object]) -> Callable[[], object]:
    """``depth`` nested calls whose frames belong to a module named like an ORM (as a Django query's are)."""
    namespace: dict[str, object] = {"__name__": "sqlalchemy.bench", "leaf": leaf}
    source = "def f0():\n    return leaf()\n" + "".join(
        f"def f{i}():\n    return f{i - 1}()\n" for i in range(1, depth)
    )
    exec(source, namespace)
    func: Callable[[], object] = namespace[f"f{depth - 1}"]  # type: ignore[assignment]
    return func


def figures() -> dict[str, float]:
    processor = BatchSpanProcessor(NullExporter(), max_queue_size=N * 10, max_export_batch_size=512)
    tracer = Tracer(processors=[processor])
    target = db_target("postgresql", "shop", "db.internal", 5432)
    with_location = DbOptions(code_location="always")
    auto_location = DbOptions()
    without_location = DbOptions(code_location="off")
    request = tracer.start_span("GET /items")
    out: dict[str, float] = {}
    with use_span(request):
        out["location_depth_12"] = per_call_us(_library_stack(12, caller_location), N)
        out["location_depth_20"] = per_call_us(_library_stack(20, caller_location), N)
        out["location_depth_40"] = per_call_us(_library_stack(40, caller_location), N)

        def span(options: DbOptions, first: bool = False) -> Callable[[], None]:
            def run() -> None:
                if first:
                    _db._seen.clear()  # each call a first occurrence: no code location unless slow
                call = start_sql_call(target, options, QUERY, (1,))
                if call is not None:
                    call.finish()
                if len(processor._queue) > 10_000:
                    processor._queue.clear()

            return run

        out["span_with_location"] = per_call_us(_library_stack(20, span(with_location)), N)
        out["span_without_location"] = per_call_us(_library_stack(20, span(without_location)), N)
        out["span_auto_location"] = per_call_us(_library_stack(20, span(auto_location)), N)
        out["span_auto_first"] = per_call_us(_library_stack(20, span(auto_location, first=True)), N)
        out.update(_sqlalchemy(processor))
    processor.shutdown()
    return out


def _sqlalchemy(processor: BatchSpanProcessor) -> dict[str, float]:
    import sqlalchemy

    from c13_middleware.integrations.sqlalchemy import instrument

    engine = sqlalchemy.create_engine("sqlite://")
    statement = sqlalchemy.text("SELECT :value")
    with engine.connect() as connection:
        plain = per_call_us(lambda: connection.execute(statement, {"value": 1}).scalar(), N // 4)
    instrument(engine)
    with engine.connect() as connection:

        def traced() -> None:
            connection.execute(statement, {"value": 1}).scalar()
            if len(processor._queue) > 10_000:
                processor._queue.clear()

        instrumented = per_call_us(traced, N // 4)
    engine.dispose()
    return {"sqlalchemy_plain": plain, "sqlalchemy_instrumented": instrumented}


def main() -> None:
    f = figures()
    print(f"machine: {machine()}")
    rows = [
        ("code location, 12 library frames (Django ORM, SQLAlchemy ORM: 9-17)", f"{f['location_depth_12']:.2f}"),
        ("code location, 20 library frames", f"{f['location_depth_20']:.2f}"),
        ("code location, 40 library frames", f"{f['location_depth_40']:.2f}"),
        ("SQL span start+end, code location on", f"{f['span_with_location']:.2f}"),
        ("SQL span start+end, code location off", f"{f['span_without_location']:.2f}"),
        ("SQL span start+end, code location auto (repeated: taken)", f"{f['span_auto_location']:.2f}"),
        ("SQL span start+end, code location auto (first, fast: not taken)", f"{f['span_auto_first']:.2f}"),
        ("SQLAlchemy SQLite `SELECT :value`, not instrumented", f"{f['sqlalchemy_plain']:.2f}"),
        ("SQLAlchemy SQLite `SELECT :value`, instrumented", f"{f['sqlalchemy_instrumented']:.2f}"),
    ]
    print(table("Database spans", ("operation", "µs"), rows))


if __name__ == "__main__":
    main()
