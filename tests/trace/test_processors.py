from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from typing import Any

import pytest

from c13_middleware import (
    BatchSpanProcessor,
    ExportResult,
    InMemoryExporter,
    SimpleSpanProcessor,
    Span,
    SpanExporter,
    SpanLimits,
    SpanProcessor,
    Tracer,
)


class Blocking(SpanExporter):
    """Hangs in export until released: stands for a collector that stopped answering."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.entered = threading.Event()
        self.exported: list[Span] = []

    def export(self, spans: Sequence[Span]) -> ExportResult:
        self.entered.set()
        self.release.wait(10)
        self.exported.extend(spans)
        return ExportResult.SUCCESS


class Raising(SpanExporter):
    calls = 0

    def export(self, spans: Sequence[Span]) -> ExportResult:
        Raising.calls += 1
        raise RuntimeError("collector exploded")


def test_batch_exports_on_flush_from_a_background_thread() -> None:
    exporter = InMemoryExporter()
    processor = BatchSpanProcessor(exporter, schedule_delay_millis=60_000)
    tracer = Tracer(processors=[processor])
    for i in range(5):
        tracer.start_span(f"s{i}").end()
    assert exporter.get_finished_spans() == []  # nothing exported on the request thread
    assert processor.force_flush(5000)
    assert [s.name for s in exporter.get_finished_spans()] == [f"s{i}" for i in range(5)]
    assert processor.spans_exported == 5
    processor.shutdown()


def test_batch_exports_when_a_batch_fills() -> None:
    exporter = InMemoryExporter()
    processor = BatchSpanProcessor(exporter, schedule_delay_millis=60_000, max_export_batch_size=4)
    tracer = Tracer(processors=[processor])
    for _ in range(4):
        tracer.start_span("s").end()
    deadline = time.monotonic() + 5
    while len(exporter.get_finished_spans()) < 4 and time.monotonic() < deadline:
        time.sleep(0.005)
    assert len(exporter.get_finished_spans()) == 4
    processor.shutdown()


def test_full_queue_drops_and_counts_instead_of_blocking() -> None:
    exporter = Blocking()
    processor = BatchSpanProcessor(exporter, max_queue_size=4, max_export_batch_size=1, schedule_delay_millis=60_000)
    tracer = Tracer(processors=[processor])
    tracer.start_span("first").end()
    assert exporter.entered.wait(5)  # the worker is now stuck inside export
    started = time.perf_counter()
    for _ in range(20):
        tracer.start_span("s").end()
    elapsed = time.perf_counter() - started
    assert elapsed < 1.0, "a hung exporter must never slow span end"
    assert processor.queue_length == 4
    assert processor.spans_dropped == 16
    exporter.release.set()
    processor.shutdown()
    assert len(exporter.exported) == 5


def test_exporter_that_raises_is_logged_once_and_counted(caplog: pytest.LogCaptureFixture) -> None:
    processor = BatchSpanProcessor(Raising(), schedule_delay_millis=60_000)
    tracer = Tracer(processors=[processor])
    tracer.start_span("a").end()
    processor.force_flush(5000)
    tracer.start_span("b").end()
    processor.force_flush(5000)
    assert processor.spans_failed == 2
    assert sum("Raising.export raised" in r.getMessage() for r in caplog.records) == 1
    processor.shutdown()


def test_unsampled_spans_are_not_queued() -> None:
    exporter = InMemoryExporter()
    processor = BatchSpanProcessor(exporter)
    from c13_middleware import AlwaysOffSampler

    tracer = Tracer(processors=[processor], sampler=AlwaysOffSampler())
    tracer.start_span("s").end()
    assert processor.queue_length == 0
    processor.shutdown()


def test_shutdown_flushes_and_stops_accepting() -> None:
    exporter = InMemoryExporter()
    processor = BatchSpanProcessor(exporter, schedule_delay_millis=60_000)
    tracer = Tracer(processors=[processor])
    tracer.start_span("before").end()
    processor.shutdown()
    tracer.start_span("after").end()
    assert [s.name for s in exporter.get_finished_spans()] == ["before"]
    assert processor.spans_dropped == 1  # "after": counted, not silently lost
    processor.shutdown()  # twice is fine


def test_batch_processor_validates_sizes() -> None:
    with pytest.raises(ValueError):
        BatchSpanProcessor(InMemoryExporter(), max_queue_size=0)
    with pytest.raises(ValueError):
        BatchSpanProcessor(InMemoryExporter(), max_queue_size=10, max_export_batch_size=11)


def test_simple_processor_swallows_exporter_failures() -> None:
    tracer = Tracer(processors=[SimpleSpanProcessor(Raising())])
    tracer.start_span("s").end()  # must not raise


def test_multiple_processors_all_see_spans_and_failures_are_isolated() -> None:
    started: list[str] = []

    class OnStart(SpanProcessor):
        def on_start(self, span: Span) -> None:
            started.append(span.name)

    class Broken(SpanProcessor):
        def on_start(self, span: Span) -> None:
            raise RuntimeError("broken on_start")

        def on_end(self, span: Span) -> None:
            raise RuntimeError("broken on_end")

    exporter = InMemoryExporter()
    tracer = Tracer(processors=[Broken(), OnStart(), SimpleSpanProcessor(exporter)])
    tracer.start_span("s").end()
    assert started == ["s"]
    assert [s.name for s in exporter.get_finished_spans()] == ["s"]
    assert tracer.force_flush()
    tracer.shutdown()


def test_exporter_option_goes_behind_a_batch_processor_by_default() -> None:
    tracer = Tracer(exporter=InMemoryExporter())
    assert isinstance(tracer.processor, BatchSpanProcessor)
    tracer.shutdown()
    simple = Tracer(exporter=InMemoryExporter(), export_mode="simple")
    assert isinstance(simple.processor, SimpleSpanProcessor)


@pytest.mark.skipif(not hasattr(__import__("os"), "fork"), reason="needs os.fork")
def test_forked_child_exports_through_its_own_worker(tmp_path: Any) -> None:
    import os
    import warnings

    from c13_middleware import JSONLinesExporter

    path = tmp_path / "child.jsonl"
    processor = BatchSpanProcessor(JSONLinesExporter(path), schedule_delay_millis=60_000)
    tracer = Tracer(processors=[processor])
    tracer.start_span("parent-before-fork").end()  # starts the parent's worker, leaves a span queued
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # 3.12+ warns about fork with threads
        pid = os.fork()
    if pid == 0:  # child
        code = 1
        try:
            tracer.start_span("child").end()
            code = 0 if processor.force_flush(5000) else 2
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert processor.force_flush(5000)
    processor.shutdown()
    names = [line for line in path.read_text().splitlines()]
    assert sum('"name":"child"' in line for line in names) == 1
    assert sum('"name":"parent-before-fork"' in line for line in names) == 1  # not exported twice


def test_force_flush_before_any_worker_drains_inline() -> None:
    exporter = InMemoryExporter()
    processor = BatchSpanProcessor(exporter)
    processor._queue.append((Tracer().start_span("queued by hand"), 1000))
    assert processor.force_flush(1000)
    assert [s.name for s in exporter.get_finished_spans()] == ["queued by hand"]
    processor.shutdown()


def test_shutdown_tolerates_exporter_shutdown_failure(caplog: pytest.LogCaptureFixture) -> None:
    class BadShutdown(InMemoryExporter):
        def shutdown(self) -> None:
            raise RuntimeError("cannot close")

    processor = BatchSpanProcessor(BadShutdown())
    processor.shutdown()
    assert any("exporter shutdown raised" in r.getMessage() for r in caplog.records)


def test_export_result_failure_is_counted() -> None:
    class Refusing(SpanExporter):
        def export(self, spans: Sequence[Span]) -> ExportResult:
            return ExportResult.FAILURE

    processor = BatchSpanProcessor(Refusing(), schedule_delay_millis=60_000)
    tracer = Tracer(processors=[processor])
    tracer.start_span("s").end()
    processor.force_flush(5000)
    assert processor.spans_failed == 1 and processor.spans_exported == 0
    processor.shutdown()


def test_base_classes_are_no_ops() -> None:
    processor = SpanProcessor()
    span = Tracer().start_span("s")
    processor.on_start(span)
    processor.on_end(span)
    processor.shutdown()
    assert processor.force_flush()
    with pytest.raises(NotImplementedError):
        SpanExporter().export([span])
    assert SpanExporter().force_flush()
    span.end()


def test_after_fork_reset_forgets_the_parents_worker_and_queue() -> None:
    from c13_middleware.trace._processors import _reset_after_fork

    exporter = InMemoryExporter()
    processor = BatchSpanProcessor(exporter, schedule_delay_millis=60_000)
    Tracer(processors=[processor]).start_span("parent's").end()
    assert processor._thread is not None and processor.queue_length == 1
    parent_thread = processor._thread
    _reset_after_fork()  # what the child runs right after fork
    assert processor._thread is None and processor.queue_length == 0
    Tracer(processors=[processor]).start_span("child's").end()
    assert processor._thread is not parent_thread
    assert processor.force_flush(5000)
    assert [s.name for s in exporter.get_finished_spans()] == ["child's"]
    processor.shutdown()


UNCAPPED = SpanLimits(max_attribute_length=None)  # as with OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT raised


def test_queue_is_bounded_by_bytes_too() -> None:
    exporter = Blocking()
    processor = BatchSpanProcessor(exporter, max_queue_bytes=1_000_000, max_export_batch_size=1)
    tracer = Tracer(processors=[processor], span_limits=UNCAPPED)
    tracer.start_span("first").end()
    assert exporter.entered.wait(5)  # the worker is stuck inside export: everything else stays queued
    big = "x" * 100_000
    for i in range(50):
        tracer.start_span(f"big-{i}", attributes={"payload": big + str(i)}).end()
    assert 5 <= processor.queue_length <= 10  # about 1 MB of 100 KB values, not 50 of them
    assert processor.queued_bytes <= 1_000_000
    assert processor.spans_dropped == 50 - processor.queue_length
    tracer.start_span("small").end()  # a small span still fits
    exporter.release.set()
    processor.shutdown()
    assert processor.queued_bytes == 0  # what left the queue was taken off its size
    assert exporter.exported[-1].name == "small"


def test_queue_bytes_count_event_values_and_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("C13_SPAN_QUEUE_MAX_BYTES", "300000")
    exporter = Blocking()
    processor = BatchSpanProcessor(exporter, max_export_batch_size=1)
    assert processor.max_queue_bytes == 300_000
    tracer = Tracer(processors=[processor], span_limits=UNCAPPED)
    tracer.start_span("first").end()
    assert exporter.entered.wait(5)
    for _ in range(10):
        span = tracer.start_span("with event")
        span.add_event("log", {"message": "y" * 100_000})
        span.end()
    assert processor.queue_length == 2 and processor.spans_dropped == 8
    exporter.release.set()
    processor.shutdown()
    monkeypatch.setenv("C13_SPAN_QUEUE_MAX_BYTES", "lots")
    assert BatchSpanProcessor(InMemoryExporter()).max_queue_bytes == 32 * 1024 * 1024  # the default
    with pytest.raises(ValueError):
        BatchSpanProcessor(InMemoryExporter(), max_queue_bytes=0)
