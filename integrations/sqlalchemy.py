"""SQLAlchemy: ``instrument(engine)`` records one CLIENT span per statement, for sync and async engines.

Through SQLAlchemy's event API (``before_cursor_execute``, ``after_cursor_execute``, ``handle_error``), so every
dialect and driver is covered. The time spent waiting for a pooled connection is measured around the engine's
checkout and recorded on the first statement of that checkout as ``db.client.connection.wait_time`` (seconds; the
name of OpenTelemetry's metric for the same figure: the conventions define no span attribute for it).
"""

from __future__ import annotations

import time
import weakref
from collections.abc import Mapping
from typing import Any

from c13_middleware.client._db import DbCall, DbOptions, db_target, start_sql_call
from c13_middleware.trace._safety import log_once

from ._require import require

require("sqlalchemy", "sqlalchemy")

from sqlalchemy import event  # noqa: E402
from sqlalchemy.engine import Engine  # noqa: E402

__all__ = ["instrument", "uninstrument"]

# SQLAlchemy dialect names → OpenTelemetry's db.system.name values.
_SYSTEMS = {"mssql": "microsoft.sql_server", "oracle": "oracle.db"}
_CALL = "_c13_db_call"
_WAIT = "c13.pool_wait_s"
_instrumented: weakref.WeakKeyDictionary[Engine, _Listeners] = weakref.WeakKeyDictionary()


def instrument(engine: Any, options: DbOptions | Mapping[str, Any] | None = None) -> Any:
    """Trace ``engine`` (an ``Engine`` or an ``AsyncEngine``); returns it. Again on the same engine: the new options
    replace the old ones. ``options``: a ``DbOptions`` or a mapping of its fields (docs/databases.md)."""
    sync: Engine = getattr(engine, "sync_engine", engine)
    settings = DbOptions.from_mapping(options)
    listeners = _instrumented.get(sync)
    if listeners is not None:
        listeners.options = settings
        return engine
    listeners = _instrumented[sync] = _Listeners(sync, settings)
    event.listen(sync, "before_cursor_execute", listeners.before)
    event.listen(sync, "after_cursor_execute", listeners.after)
    event.listen(sync, "handle_error", listeners.error)
    raw_connection = sync.raw_connection

    def timed_checkout() -> Any:
        start = time.perf_counter()
        connection = raw_connection()
        try:
            connection.info[_WAIT] = time.perf_counter() - start
        except Exception:  # pragma: no cover - a pool proxy without info
            pass
        return connection

    sync.raw_connection = timed_checkout  # type: ignore[method-assign]
    listeners.raw_connection = raw_connection
    return engine


def uninstrument(engine: Any) -> None:
    """Stop tracing ``engine``."""
    sync: Engine = getattr(engine, "sync_engine", engine)
    listeners = _instrumented.pop(sync, None)
    if listeners is None:
        return
    event.remove(sync, "before_cursor_execute", listeners.before)
    event.remove(sync, "after_cursor_execute", listeners.after)
    event.remove(sync, "handle_error", listeners.error)
    if "raw_connection" in vars(sync):
        del sync.raw_connection


class _Listeners:
    def __init__(self, engine: Engine, options: DbOptions) -> None:
        self.options = options
        self.raw_connection: Any = None
        url = engine.url
        system = engine.dialect.name
        self.target = db_target(_SYSTEMS.get(system, system), url.database, url.host, url.port)

    def before(self, conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool) -> None:
        try:
            batch = len(parameters) if executemany and isinstance(parameters, (list, tuple)) else None
            call = start_sql_call(self.target, self.options, statement, parameters, batch_size=batch)
            if call is None:
                return
            wait = conn.info.pop(_WAIT, None)
            if wait is not None:
                call.span.set_attribute("db.client.connection.wait_time", wait)
            _store(conn, context, call)
        except Exception:
            log_once("sqlalchemy-before", "c13_middleware: tracing a SQLAlchemy statement failed", exc_info=True)

    def after(self, conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool) -> None:
        call = _take(conn, context)
        if call is not None:
            call.finish()

    def error(self, exception_context: Any) -> None:
        call = _take(exception_context.connection, exception_context.execution_context)
        if call is not None:
            call.finish(exception_context.original_exception)


def _store(conn: Any, context: Any, call: DbCall) -> None:
    if context is not None:
        setattr(context, _CALL, call)
    else:
        conn.info[_CALL] = call


def _take(conn: Any, context: Any) -> DbCall | None:
    call: DbCall | None = None
    if context is not None:
        call = getattr(context, _CALL, None)
        if call is not None:
            setattr(context, _CALL, None)
    elif conn is not None:
        call = conn.info.pop(_CALL, None)
    return call
