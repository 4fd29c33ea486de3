from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from prometheus_client import CollectorRegistry

from c13_middleware import Finding, FindingsProcessor, InMemoryExporter, PrometheusMetrics, SpanKind, Tracer
from c13_middleware.findings._hooks import add_listener, finding_counts, remove_listener
from c13_middleware.propagation._span_context import SpanContext

MS = 1_000_000
BASE = 1_700_000_000_000 * MS


@pytest.fixture
def processor() -> Iterator[FindingsProcessor]:
    processor = FindingsProcessor()
    yield processor
    processor.shutdown()


def _request_with_n_plus_one(tracer: Tracer, route: str, parent: SpanContext | None = None) -> int:
    root = tracer.start_span(f"GET {route}", kind=SpanKind.SERVER, parent=parent, start_time=BASE)
    root.set_attribute("http.route", route)
    for i in range(6):
        query = tracer.start_span(
            "SELECT items",
            kind=SpanKind.CLIENT,
            parent=root,
            start_time=BASE + i * 11 * MS,
            attributes={"db.system.name": "sqlite", "db.query.text": "SELECT * FROM items WHERE id = %s"},
        )
        query.end(BASE + (i * 11 + 10) * MS)
    root.end(BASE + 100 * MS)
    return root.context.trace_id


def test_findings_are_detected_off_the_request_thread_and_counted(processor: FindingsProcessor) -> None:
    registry = CollectorRegistry()
    PrometheusMetrics(registry)
    labels = {"kind": "n_plus_one_db", "http_route": "/orders/{id}"}
    before = registry.get_sample_value("c13_findings_total", labels) or 0.0
    seen: list[tuple[Finding, str, str]] = []

    def listener(finding: Finding, route: str) -> None:
        seen.append((finding, route, threading.current_thread().name))

    add_listener(listener)
    try:
        exporter = InMemoryExporter()
        tracer = Tracer(processors=[processor], exporter=exporter, export_mode="simple")
        trace_id = _request_with_n_plus_one(tracer, "/orders/{id}")
        assert processor.force_flush(5000)
    finally:
        remove_listener(listener)
    assert len(exporter.get_finished_spans()) == 7  # the spans still reach the exporter
    ((finding, route, thread),) = seen
    assert finding.kind == "n_plus_one_db" and route == "/orders/{id}" and thread == "c13-findings"
    assert processor.recent[-1] == (trace_id, [finding])
    assert registry.get_sample_value("c13_findings_total", labels) == before + 1
    assert finding_counts()[("n_plus_one_db", "/orders/{id}")] >= 1


def test_a_remote_parent_makes_the_local_root(processor: FindingsProcessor) -> None:
    tracer = Tracer(processors=[processor])
    remote = SpanContext(0x0AF7651916CD43DD8448EB211C80319C, 0xB7AD6B7169203331, 1, is_remote=True)
    trace_id = _request_with_n_plus_one(tracer, "/remote", parent=remote)
    assert processor.force_flush(5000)
    assert processor.recent[-1][0] == trace_id == remote.trace_id


def test_pending_traces_are_bounded(processor: FindingsProcessor) -> None:
    small = FindingsProcessor(max_traces=2, max_spans_per_trace=3)
    tracer = Tracer(processors=[small])
    roots = [tracer.start_span("root", parent=None) for _ in range(3)]
    for root in roots:
        for _ in range(4):
            tracer.start_span("child", parent=root).end()
    assert len(small._open) == 2  # the oldest trace waiting for its root was let go
    assert small.spans_dropped == 3 + 3  # the fourth child of each trace, and the 3 kept spans of the one let go
    for root in roots:
        root.end()
    assert small.force_flush(5000) and small._open == {}
    small.shutdown()
    small.shutdown()  # idempotent


def test_no_finding_no_report(processor: FindingsProcessor) -> None:
    tracer = Tracer(processors=[processor])
    with tracer.start_as_current_span("GET /"):
        pass
    assert processor.force_flush(5000)
    assert list(processor.recent) == []


def test_counts_are_bounded_and_a_failing_listener_is_contained(monkeypatch: pytest.MonkeyPatch) -> None:
    from c13_middleware.findings import _hooks

    monkeypatch.setattr(_hooks, "MAX_SERIES", len(finding_counts()) + 1)
    calls: list[str] = []

    def failing(finding: Finding, route: str) -> None:
        calls.append(route)
        raise RuntimeError("listener bug")

    add_listener(failing)
    add_listener(failing)  # once only
    try:
        finding = Finding("slow_db_query", "slow query")
        _hooks.report([finding], "/bounded/1")
        _hooks.report([finding], "/bounded/2")  # a new route past the bound: counted as _OTHER
        _hooks.report([], "/bounded/3")
    finally:
        remove_listener(failing)
        remove_listener(failing)
    counts = finding_counts()
    assert counts[("slow_db_query", "/bounded/1")] == 1
    assert ("slow_db_query", "/bounded/2") not in counts and counts[("slow_db_query", "_OTHER")] >= 1
    assert calls == ["/bounded/1", "/bounded/2"]


def test_route_comes_from_the_root_even_when_its_trace_was_cut() -> None:
    processor = FindingsProcessor(max_spans_per_trace=6)  # the six queries fill it: the root itself is not kept
    seen: list[str] = []

    def listener(finding: Finding, route: str) -> None:
        seen.append(route)

    add_listener(listener)
    try:
        _request_with_n_plus_one(Tracer(processors=[processor]), "/cut")
        assert processor.force_flush(5000)
    finally:
        remove_listener(listener)
        processor.shutdown()
    assert seen == ["/cut"] and processor.spans_dropped == 1
