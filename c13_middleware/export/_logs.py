"""Log correlation: put the current span's trace and span ids on log records, so logs and traces join up.

Standard logging::

    import c13_middleware
    c13_middleware.instrument_logging(fmt=c13_middleware.DEFAULT_LOG_FORMAT)

or, with ``logging.config.dictConfig``, a filter ``{"()": "c13_middleware.TraceContextFilter"}`` on each handler.
structlog: add ``c13_middleware.add_trace_context`` to the processor chain.
"""

from __future__ import annotations

import logging
from collections.abc import MutableMapping
from typing import Any, TypeVar

from ..trace._context import current_span

TRACE_FIELDS = ("trace_id", "span_id", "trace_flags")

DEFAULT_LOG_FORMAT = (
    "%(asctime)s %(levelname)s [%(name)s] [trace_id=%(trace_id)s span_id=%(span_id)s "
    "trace_flags=%(trace_flags)s] %(message)s"
)
"""A ``logging.Formatter`` format showing the ids; they are empty outside any span."""


def trace_context() -> tuple[str, str, str] | None:
    """``(trace_id, span_id, trace_flags)`` of the current span as lower-case hex (32, 16, 2 digits), or None."""
    span = current_span()
    if span is None:
        return None
    ctx = span.context
    if not (ctx.trace_id and ctx.span_id):
        return None
    return f"{ctx.trace_id:032x}", f"{ctx.span_id:016x}", f"{ctx.trace_flags & 0xFF:02x}"


class TraceContextFilter(logging.Filter):
    """Adds ``trace_id``, ``span_id`` and ``trace_flags`` to every record; outside a span they are ``placeholder``
    (empty by default), so a format string that names them never fails. Never drops a record.

    A record that already has a ``trace_id`` keeps its values: a record made inside a span and handled later on
    another thread (``QueueHandler``) keeps the ids of where it was logged.
    """

    def __init__(self, name: str = "", *, placeholder: str = "") -> None:
        super().__init__(name)
        self.placeholder = placeholder

    def filter(self, record: logging.LogRecord) -> bool:
        if "trace_id" in record.__dict__:
            return True
        ids = trace_context()
        if ids is None:
            record.trace_id = record.span_id = record.trace_flags = self.placeholder
        else:
            record.trace_id, record.span_id, record.trace_flags = ids
        return True


def instrument_logging(
    logger: logging.Logger | str | None = None, fmt: str | None = None, *, placeholder: str = ""
) -> TraceContextFilter:
    """Attach a ``TraceContextFilter`` to the handlers of ``logger`` (the root logger by default). Idempotent.

    Filters go on handlers rather than on the logger, because a logger's own filters do not see records
    propagated from its children. With ``fmt``, each handler also gets a ``logging.Formatter(fmt)``. A logger
    without handlers gets a stderr ``StreamHandler`` (formatted with ``fmt`` or ``DEFAULT_LOG_FORMAT``). Handlers
    added afterwards are not covered: call this after configuring logging. Returns the filter in use.
    """
    target = logger if isinstance(logger, logging.Logger) else logging.getLogger(logger)
    if not target.handlers:
        stream_handler = logging.StreamHandler()
        stream_handler.setFormatter(logging.Formatter(fmt or DEFAULT_LOG_FORMAT))
        target.addHandler(stream_handler)
    shared: TraceContextFilter | None = None
    for handler in target.handlers:
        shared = next((f for f in handler.filters if isinstance(f, TraceContextFilter)), None) or shared
    if shared is None:
        shared = TraceContextFilter(placeholder=placeholder)
    for handler in target.handlers:
        if not any(isinstance(f, TraceContextFilter) for f in handler.filters):
            handler.addFilter(shared)
        if fmt is not None:
            handler.setFormatter(logging.Formatter(fmt))
    return shared


EventDict = TypeVar("EventDict", bound=MutableMapping[str, Any])


def add_trace_context(logger: object, method_name: str, event_dict: EventDict) -> EventDict:
    """A structlog processor: adds ``trace_id``, ``span_id`` and ``trace_flags`` inside a span, nothing outside.

    Needs no structlog import: ``structlog.configure(processors=[..., add_trace_context, ...])``.
    """
    ids = trace_context()
    if ids is not None:
        event_dict["trace_id"], event_dict["span_id"], event_dict["trace_flags"] = ids
    return event_dict


__all__ = ["DEFAULT_LOG_FORMAT", "TraceContextFilter", "add_trace_context", "instrument_logging", "trace_context"]
