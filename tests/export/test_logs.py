"""Log correlation: trace ids on log records inside spans, none outside."""

from __future__ import annotations

import asyncio
import io
import logging
import threading
from collections.abc import Iterator

import pytest

from c13_middleware import AlwaysOffSampler, Tracer
from c13_middleware.export._logs import (
    DEFAULT_LOG_FORMAT,
    TraceContextFilter,
    add_trace_context,
    instrument_logging,
)


class ListHandler(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def logger() -> Iterator[tuple[logging.Logger, ListHandler]]:
    log = logging.getLogger("c13.test.logs")
    log.propagate = False
    log.setLevel(logging.INFO)
    handler = ListHandler()
    handler.addFilter(TraceContextFilter())
    log.addHandler(handler)
    yield log, handler
    log.removeHandler(handler)
    log.propagate = True


@pytest.fixture
def root_state() -> Iterator[None]:
    """instrument_logging() changes the root logger: put it back as it was."""
    root = logging.getLogger()
    handlers = list(root.handlers)
    filters = {h: list(h.filters) for h in handlers}
    formatters = {h: h.formatter for h in handlers}
    yield
    for handler in list(root.handlers):
        if handler not in handlers:
            root.removeHandler(handler)
    for handler in handlers:
        handler.filters[:] = filters[handler]
        handler.setFormatter(formatters[handler])


def test_ids_inside_a_span_match_its_context(tracer: Tracer, logger: tuple[logging.Logger, ListHandler]) -> None:
    log, handler = logger
    with tracer.start_as_current_span("outer") as outer:
        log.info("in outer")
        with tracer.start_as_current_span("inner") as inner:
            log.info("in inner")
    first, second = handler.records
    assert first.trace_id == f"{outer.context.trace_id:032x}"  # type: ignore[attr-defined]
    assert first.span_id == f"{outer.context.span_id:016x}"  # type: ignore[attr-defined]
    assert first.trace_flags == f"{outer.context.trace_flags:02x}" == "03"  # type: ignore[attr-defined]
    assert second.trace_id == first.trace_id  # type: ignore[attr-defined]
    assert second.span_id == f"{inner.context.span_id:016x}"  # type: ignore[attr-defined]
    assert len(first.trace_id) == 32 and len(first.span_id) == 16  # type: ignore[attr-defined]


def test_no_ids_outside_any_span(tracer: Tracer, logger: tuple[logging.Logger, ListHandler]) -> None:
    log, handler = logger
    log.info("before")
    with tracer.start_as_current_span("s"):
        pass
    log.info("after")
    for record in handler.records:
        assert (record.trace_id, record.span_id, record.trace_flags) == ("", "", "")  # type: ignore[attr-defined]


def test_placeholder_outside_spans() -> None:
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "msg", None, None)
    assert TraceContextFilter(placeholder="-").filter(record) is True
    assert (record.trace_id, record.span_id, record.trace_flags) == ("-", "-", "-")  # type: ignore[attr-defined]


def test_unsampled_span_still_correlates(logger: tuple[logging.Logger, ListHandler]) -> None:
    log, handler = logger
    unsampled = Tracer(sampler=AlwaysOffSampler())
    with unsampled.start_as_current_span("dropped") as span:
        log.info("x")
    (record,) = handler.records
    assert record.trace_id == f"{span.context.trace_id:032x}"  # type: ignore[attr-defined]
    assert record.trace_flags == f"{span.context.trace_flags:02x}" and not span.context.sampled  # type: ignore[attr-defined]


def test_default_format_never_fails(tracer: Tracer) -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter(DEFAULT_LOG_FORMAT))
    handler.addFilter(TraceContextFilter())
    log = logging.getLogger("c13.test.format")
    log.propagate = False
    log.addHandler(handler)
    try:
        log.warning("outside")
        with tracer.start_as_current_span("s") as span:
            log.warning("inside")
    finally:
        log.removeHandler(handler)
    outside, inside = stream.getvalue().splitlines()
    assert "trace_id= span_id= trace_flags=]" in outside and outside.endswith("outside")
    assert f"trace_id={span.context.trace_id:032x} span_id={span.context.span_id:016x} trace_flags=03]" in inside


def test_record_keeps_ids_from_where_it_was_logged(tracer: Tracer) -> None:
    """A record handled later on another thread (QueueHandler/QueueListener) keeps the ids it was made with."""
    trace_filter = TraceContextFilter()
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "msg", None, None)
    with tracer.start_as_current_span("s") as span:
        trace_filter.filter(record)
    seen: list[str] = []
    worker = threading.Thread(target=lambda: (trace_filter.filter(record), seen.append(record.trace_id)))  # type: ignore[attr-defined]
    worker.start()
    worker.join()
    assert seen == [f"{span.context.trace_id:032x}"]


def test_other_threads_and_tasks_see_their_own_span(tracer: Tracer, logger: tuple[logging.Logger, ListHandler]) -> None:
    log, handler = logger
    with tracer.start_as_current_span("main"):
        worker = threading.Thread(target=log.info, args=("plain thread",))  # no context copied: no span there
        worker.start()
        worker.join()

    async def task(name: str) -> str:
        with tracer.start_as_current_span(name) as span:
            await asyncio.sleep(0)
            log.info(name)
            return f"{span.context.span_id:016x}"

    async def both() -> list[str]:
        return list(await asyncio.gather(task("a"), task("b")))

    span_ids = asyncio.run(both())
    plain, a, b = handler.records
    assert plain.trace_id == ""  # type: ignore[attr-defined]
    assert [a.span_id, b.span_id] == span_ids  # type: ignore[attr-defined]


def test_instrument_logging_root_is_idempotent(tracer: Tracer, root_state: None) -> None:
    root = logging.getLogger()
    capture = ListHandler()
    root.addHandler(capture)
    first = instrument_logging()
    second = instrument_logging()
    assert first is second
    for handler in root.handlers:
        assert sum(isinstance(f, TraceContextFilter) for f in handler.filters) == 1
    child = logging.getLogger("c13.test.child.propagates")  # records from children reach the root's handlers
    with tracer.start_as_current_span("s") as span:
        child.warning("hello")
    (record,) = [r for r in capture.records if r.getMessage() == "hello"]
    assert record.span_id == f"{span.context.span_id:016x}"  # type: ignore[attr-defined]


def test_instrument_logging_named_logger_with_format(tracer: Tracer) -> None:
    log = logging.getLogger("c13.test.named")
    log.propagate = False
    stream = io.StringIO()
    log.addHandler(logging.StreamHandler(stream))
    try:
        instrument_logging("c13.test.named", fmt="%(trace_id)s|%(span_id)s|%(message)s")
        instrument_logging(log, fmt="%(trace_id)s|%(span_id)s|%(message)s")
        (handler,) = log.handlers
        assert sum(isinstance(f, TraceContextFilter) for f in handler.filters) == 1
        with tracer.start_as_current_span("s") as span:
            log.error("in")
        log.error("out")
    finally:
        log.handlers.clear()
        log.propagate = True
    assert stream.getvalue().splitlines() == [
        f"{span.context.trace_id:032x}|{span.context.span_id:016x}|in",
        "||out",
    ]


def test_instrument_logging_adds_a_handler_when_there_is_none() -> None:
    log = logging.getLogger("c13.test.bare")
    try:
        trace_filter = instrument_logging(log)
        (handler,) = log.handlers
        assert isinstance(handler, logging.StreamHandler) and trace_filter in handler.filters
        assert handler.formatter is not None and handler.formatter._fmt == DEFAULT_LOG_FORMAT
    finally:
        log.handlers.clear()


def test_structlog_style_processor(tracer: Tracer) -> None:
    assert add_trace_context(None, "info", {"event": "outside"}) == {"event": "outside"}
    with tracer.start_as_current_span("s") as span:
        event = add_trace_context(None, "info", {"event": "inside"})
    assert event == {
        "event": "inside",
        "trace_id": f"{span.context.trace_id:032x}",
        "span_id": f"{span.context.span_id:016x}",
        "trace_flags": "03",
    }


def test_structlog_integration(tracer: Tracer) -> None:
    import structlog  # a dev dependency

    captured: list[dict[str, object]] = []

    def capture(logger: object, method_name: str, event_dict: dict[str, object]) -> str:
        captured.append(dict(event_dict))
        return ""

    log = structlog.wrap_logger(structlog.PrintLogger(io.StringIO()), processors=[add_trace_context, capture])
    with tracer.start_as_current_span("s") as span:
        log.info("hi")
    log.info("bye")
    assert captured[0]["span_id"] == f"{span.context.span_id:016x}" and "span_id" not in captured[1]
