"""Database and cache calls: one CLIENT span per query, command or pipeline, shared by the Django, SQLAlchemy and
redis adapters.

Attributes follow OpenTelemetry's stable database conventions: ``db.system.name``, ``db.namespace``,
``db.operation.name``, ``db.collection.name``, ``db.query.text`` (sanitized, ``_sql.sanitize_sql``),
``db.query.summary``, ``server.address``/``server.port``, ``error.type``, ``db.response.status_code`` (the
SQLSTATE of a failed PostgreSQL query); the span is named by the summary. Each span
also says where the application issued the call (``code.function.name``, ``code.file.path``, ``code.line.number``).
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from ..trace._context import _current_span, _suppressed
from ..trace._safety import log_once
from ..trace._semconv import exception_type_name
from ..trace._span import Span, SpanKind, finish_span
from ..trace._tracer import tracer_of
from ._code_location import CodeLocation, caller_location
from ._sql import sanitize_sql, summarize_sql

__all__ = ["DbCall", "DbOptions", "db_target", "start_db_call", "start_sql_call"]

_MAX_PARAMETERS = 32
_MAX_PARAMETER_LENGTH = 256
_MAX_SEEN = 4096
_perf_ns = time.perf_counter_ns
# (parent span id, query text) pairs seen lately: a query seen again under the same parent is "repeated".
_seen: dict[tuple[int, str], None] = {}


@dataclass(frozen=True, slots=True)
class DbOptions:
    """What database spans record.

    * ``query_text``: ``db.query.text``, sanitized (literals become ``?``). ``False`` keeps query text off entirely
      (the summary, operation and table are still recorded: they are read from the sanitized text).
    * ``parameters``: the bound parameters as ``db.query.parameter.<name or index>`` — explicit opt-in, never the
      default: parameters are where user data and secrets are.
    * ``code_location``: the ``code.*`` attributes (where the application issued the query). ``"auto"`` (default):
      only for a query that is slow (``slow_query_s`` or more) or repeated (the same text under the same parent
      span), found when it ends; ``"always"``: every query; ``"off"``: none. Finding the frame costs ~3 µs per query
      (docs/performance.md), more than the span itself, hence ``"auto"``.
    * ``only_in_traces``: record a span only inside a traced request or span; a query with no current span (start-up,
      migrations, management commands) is not traced.
    * ``max_query_length``: ``db.query.text`` is cut to this many characters.
    """

    query_text: bool = True
    parameters: bool = False
    code_location: Literal["auto", "always", "off"] = "auto"
    slow_query_s: float = 0.01
    only_in_traces: bool = True
    max_query_length: int = 2048

    @classmethod
    def from_mapping(cls, options: Mapping[str, Any] | DbOptions | None) -> DbOptions:
        if options is None:
            return DEFAULT_OPTIONS
        if isinstance(options, DbOptions):
            return options
        return cls(**dict(options))


DEFAULT_OPTIONS = DbOptions()


def db_target(
    system: str, namespace: str | None = None, address: str | None = None, port: int | None = None
) -> dict[str, Any]:
    """The attributes every call on one connection shares: computed once per connection, copied per span."""
    target: dict[str, Any] = {"db.system.name": system}
    if namespace:
        target["db.namespace"] = namespace
    if address:
        target["server.address"] = address
    if port is not None:
        target["server.port"] = port
    return target


class DbCall:
    """One call's span; ``finish`` ends it exactly once and never raises."""

    __slots__ = ("span", "_locate_after_ns")

    def __init__(self, span: Span, locate_after_ns: int | None = None) -> None:
        self.span = span
        # "auto" code location: take it at the end if the call took this long (0: repeated, take it anyway).
        self._locate_after_ns = locate_after_ns

    def finish(self, exc: BaseException | None = None, skip: int = 0) -> None:
        """End the span. The stack is still the one the call was issued from, so this is where a slow or repeated
        call's code location is taken; ``skip``: frames, from the caller's outwards, known to be library code."""
        span = self.span
        if span.end_time is not None:
            return
        after = self._locate_after_ns
        if after is not None and _perf_ns() - span._start_perf >= after:
            location = caller_location(skip + 1)
            if location is not None:
                span.set_attributes(_location_attributes(location))
        if exc is not None:
            try:
                if isinstance(exc, Exception):
                    span.record_exception(exc)
                span.set_error(exc, exception_type_name(exc))
                code = _status_code(exc)
                if code:
                    span.set_attribute("db.response.status_code", code)
            except Exception:
                log_once("db-error", "c13_middleware: recording a database error failed", exc_info=True)
        finish_span(span, "a database span")


def start_db_call(
    target: Mapping[str, Any],
    options: DbOptions,
    *,
    operation: str | None,
    collection: str | None = None,
    query_text: str | None = None,
    summary: str | None = None,
    extra: Mapping[str, Any] | None = None,
    skip: int = 0,
) -> DbCall | None:
    """Start a CLIENT span for one call (None when not traced). ``skip``: frames, from the caller's outwards, known to
    be library code (library frames are stepped over anyway: this only saves their look-up)."""
    try:
        current = _current_span.get()
        if (current is None and options.only_in_traces) or _suppressed.get():
            return None
        attributes = dict(target)
        if operation:
            attributes["db.operation.name"] = operation
        if collection:
            attributes["db.collection.name"] = collection
        if summary is None and operation:
            summary = f"{operation} {collection}" if collection else operation
        if summary:
            attributes["db.query.summary"] = summary
        if query_text is not None and options.query_text:
            attributes["db.query.text"] = query_text[: options.max_query_length]
        if extra:
            attributes.update(extra)
        mode = options.code_location
        locate_after: int | None = None
        if mode == "always":
            location = caller_location(skip + 1)
            if location is not None:
                attributes.update(_location_attributes(location))
        elif mode == "auto":
            locate_after = int(options.slow_query_s * 1e9)
            if current is not None and _repeated(current.context.span_id, query_text or summary or ""):
                locate_after = 0
        name = summary or str(target.get("db.system.name", "db"))
        span = tracer_of(current).start_span(name, kind=SpanKind.CLIENT, attributes=attributes)
        return DbCall(span, locate_after if span.is_recording() else None)
    except Exception:
        log_once("db-start", "c13_middleware: starting a database span failed", exc_info=True)
        return None


def _status_code(exc: BaseException) -> str | None:
    """The database's own error code: PostgreSQL's SQLSTATE (psycopg 3 and asyncpg ``sqlstate``, psycopg2
    ``pgcode``), read from the exception or the driver error an ORM wrapped (``__cause__``)."""
    for error in (exc, exc.__cause__):
        if error is not None:
            for name in ("sqlstate", "pgcode"):
                code = getattr(error, name, None)
                if isinstance(code, str) and code:
                    return code[:16]
    return None


def _repeated(parent_id: int, text: str) -> bool:
    key = (parent_id, text)
    if key in _seen:
        return True
    if len(_seen) >= _MAX_SEEN:
        _seen.clear()
    _seen[key] = None
    return False


def _location_attributes(location: CodeLocation) -> dict[str, Any]:
    return {
        "code.function.name": location.function,
        "code.file.path": location.file,
        "code.line.number": location.line,
    }


def start_sql_call(
    target: Mapping[str, Any],
    options: DbOptions,
    statement: object,
    parameters: object = None,
    *,
    batch_size: int | None = None,
    skip: int = 0,
) -> DbCall | None:
    """``start_db_call`` for one SQL statement: sanitized text, summary, operation and table read from it."""
    if _current_span.get() is None and options.only_in_traces:
        return None
    text = statement if isinstance(statement, str) else str(statement)
    sanitized = sanitize_sql(text)
    operation, collection = summarize_sql(sanitized)
    extra: dict[str, Any] = {}
    if batch_size is not None and batch_size != 1:
        extra["db.operation.batch.size"] = batch_size
        if operation:
            operation = f"BATCH {operation}"
    elif options.parameters and parameters is not None:
        _add_parameters(parameters, extra)
    return start_db_call(
        target,
        options,
        operation=operation,
        collection=collection,
        query_text=sanitized,
        extra=extra,
        skip=skip + 1,
    )


def _add_parameters(parameters: object, into: dict[str, Any]) -> None:
    """``db.query.parameter.<key>``: string forms, at most ``_MAX_PARAMETERS`` of them, each cut short."""
    items: Sequence[tuple[object, object]]
    if isinstance(parameters, Mapping):
        items = list(parameters.items())[:_MAX_PARAMETERS]
    elif isinstance(parameters, (list, tuple)):
        items = list(enumerate(parameters[:_MAX_PARAMETERS]))
    else:
        return
    for key, value in items:
        into[f"db.query.parameter.{key}"] = str(value)[:_MAX_PARAMETER_LENGTH]
