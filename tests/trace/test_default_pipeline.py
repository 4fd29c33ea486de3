"""A default pipeline that ``configure`` replaced ends its spans, then shuts down: its export thread ends."""

from __future__ import annotations

import gc
import threading
import time
from collections.abc import Callable, Sequence

import pytest

from c13_middleware import ExportResult, InMemoryExporter, Span, SpanExporter, configure, get_tracer
from c13_middleware.trace import _tracer
from c13_middleware.trace._processors import BatchSpanProcessor, live_batch_processors


class Names(SpanExporter):
    """Keeps the names of the spans, not the spans (as a network exporter keeps nothing)."""

    def __init__(self) -> None:
        self.names: list[str] = []
        self.shutdowns = 0

    def export(self, spans: Sequence[Span]) -> ExportResult:
        self.names.extend(span.name for span in spans)
        return ExportResult.SUCCESS

    def shutdown(self) -> None:
        self.shutdowns += 1


def _exporter_threads() -> int:
    return sum(thread.name == "c13-span-exporter" and thread.is_alive() for thread in threading.enumerate())


def _wait_for(condition: Callable[[], bool], timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        gc.collect()
        time.sleep(0.01)
    return True


def _processor_of(exporter: SpanExporter) -> BatchSpanProcessor:
    (processor,) = [p for p in live_batch_processors() if p.exporter is exporter]
    return processor


def test_twenty_configures_leave_at_most_two_export_threads() -> None:
    before = _exporter_threads()
    exporters = [Names() for _ in range(20)]
    for i, exporter in enumerate(exporters):
        configure(exporter=exporter)
        get_tracer().start_span(f"span-{i}").end()  # starts the pipeline's export thread
    assert _wait_for(lambda: all(e.shutdowns == 1 for e in exporters[:-1]))  # each replaced pipeline shut down
    assert _wait_for(lambda: _exporter_threads() - before <= 2), f"{_exporter_threads() - before} threads"
    assert [e.names for e in exporters[:-1]] == [[f"span-{i}"] for i in range(19)]  # after exporting its span
    assert exporters[-1].shutdowns == 0


def test_a_span_of_the_previous_default_still_ends_through_it() -> None:
    first, second = Names(), Names()
    configure(exporter=first)
    open_span = get_tracer().start_span("started before")
    configure(exporter=second)
    get_tracer().start_span("after").end()
    old = _processor_of(first)
    time.sleep(0.05)
    assert first.shutdowns == 0  # the open span holds its pipeline
    open_span.end()
    del open_span
    assert _wait_for(lambda: first.shutdowns == 1)
    assert first.names == ["started before"]
    assert not old.is_running
    assert _processor_of(second).force_flush(5000) and second.names == ["after"]


def test_a_pipeline_whose_spans_are_kept_ends_after_the_grace_period(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_tracer, "REPLACED_PIPELINE_GRACE", 0.2)
    kept = InMemoryExporter()  # keeps the finished spans, and so their tracer
    configure(exporter=kept)
    get_tracer().start_span("kept").end()
    old = _processor_of(kept)
    configure(exporter=Names())
    assert _wait_for(lambda: old._thread is not None and not old._thread.is_alive(), timeout=3)
    assert [s.name for s in kept.get_finished_spans()] == ["kept"]


def test_a_shared_exporter_is_not_shut_down_with_the_replaced_pipeline() -> None:
    shared = Names()
    configure(exporter=shared)
    get_tracer().start_span("a").end()
    configure(exporter=shared, service_name="other")  # a new pipeline on the same exporter
    get_tracer().start_span("b").end()
    assert _wait_for(lambda: len([p for p in live_batch_processors() if p.exporter is shared and p.is_running]) == 1)
    assert shared.shutdowns == 0
    configure(exporter=Names())
    assert _wait_for(lambda: shared.shutdowns == 1)  # once the last pipeline using it is gone
    assert sorted(shared.names) == ["a", "b"]
