"""The fixture suite: each detector's positives and near-misses, as traces built span by span with exact times."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from c13_middleware import (
    CodeSite,
    Finding,
    FindingThresholds,
    InMemoryExporter,
    Span,
    SpanKind,
    Tracer,
    detect_findings,
)
from c13_middleware.profiling._types import Recommendation

MS = 1_000_000
BASE = 1_700_000_000_000 * MS


class TraceBuilder:
    def __init__(self) -> None:
        self.exporter = InMemoryExporter()
        self.tracer = Tracer(exporter=self.exporter, export_mode="simple")
        self.root = self.tracer.start_span("GET /orders", kind=SpanKind.SERVER, parent=None, start_time=BASE)
        self.parents = {"root": self.root}

    def child(self, name: str) -> None:
        self.parents[name] = self.tracer.start_span(name, parent=self.root, start_time=BASE)

    def span(self, start_ms: float, duration_ms: float, attributes: dict[str, Any], parent: str = "root") -> Span:
        span = self.tracer.start_span(
            "q",
            kind=SpanKind.CLIENT,
            parent=self.parents[parent],
            attributes=attributes,
            start_time=BASE + int(start_ms * MS),
        )
        span.end(BASE + int((start_ms + duration_ms) * MS))
        return span

    def query(
        self, start_ms: float, duration_ms: float, text: str = "SELECT * FROM items WHERE id = %s", **kw: Any
    ) -> Span:
        attributes = {"db.system.name": "postgresql", "db.query.text": text, "code.file.path": "app/views.py",
                      "code.line.number": 42, "code.function.name": "list_orders"}  # fmt: skip
        return self.span(start_ms, duration_ms, attributes, **kw)

    def call(self, start_ms: float, duration_ms: float, url: str, method: str = "GET", status: int = 200) -> Span:
        host = url.split("/")[2]
        attributes = {"http.request.method": method, "url.full": url, "server.address": host,
                      "http.response.status_code": status}  # fmt: skip
        return self.span(start_ms, duration_ms, attributes)

    def spans(self) -> list[Span]:
        for span in self.parents.values():
            if span is not self.root:
                span.end(BASE + 10_000 * MS)
        self.root.end(BASE + 10_000 * MS)
        return list(self.exporter.get_finished_spans())


def n1_basic(t: TraceBuilder) -> None:
    for i in range(6):
        t.query(i * 11, 10)


def n1_at_thresholds(t: TraceBuilder) -> None:
    for i in range(5):
        t.query(i * 10, 10)  # exactly 5 queries, exactly 50 ms


def n1_interleaved(t: TraceBuilder) -> None:
    for i in range(5):
        t.query(i * 30, 12)
        t.query(i * 30 + 13, 5, text="SELECT * FROM owners WHERE id = %s") if i < 2 else None


def n1_redis(t: TraceBuilder) -> None:
    for i in range(8):
        t.span(i * 10, 9, {"db.system.name": "redis", "db.query.text": "GET ?"})


def slow_query(t: TraceBuilder) -> None:
    t.query(0, 600, text="SELECT * FROM orders ORDER BY total")


def slow_at_threshold(t: TraceBuilder) -> None:
    t.query(0, 500, text="SELECT * FROM orders ORDER BY total")


def sequential_calls(t: TraceBuilder) -> None:
    for i, host in enumerate(("a", "b", "c")):
        t.call(i * 160, 150, f"http://{host}.internal/price")


def sequential_at_thresholds(t: TraceBuilder) -> None:
    for i, host in enumerate(("a", "b", "c")):
        t.call(i * 600, 100, f"http://{host}.internal/price")  # 100 ms each, 500 ms gaps


def slow_and_n1(t: TraceBuilder) -> None:
    t.query(0, 700, text="SELECT count(*) FROM orders")
    for i in range(5):
        t.query(800 + i * 15, 14)


# near misses: no finding expected
def n1_four_queries(t: TraceBuilder) -> None:
    for i in range(4):
        t.query(i * 20, 15)


def n1_49_ms(t: TraceBuilder) -> None:
    for i in range(5):
        t.query(i * 10, 9.8)


def n1_overlapping(t: TraceBuilder) -> None:
    for i in range(6):
        t.query(i * 10, 20)  # each starts before the previous one ended: already concurrent


def n1_different_text(t: TraceBuilder) -> None:
    for i in range(6):
        t.query(i * 20, 15, text=f"SELECT * FROM table_{i} WHERE id = %s")


def n1_different_parents(t: TraceBuilder) -> None:
    t.child("task-a")
    t.child("task-b")
    for i in range(6):
        t.query(i * 20, 15, parent="task-a" if i % 2 else "task-b")


def slow_499_ms(t: TraceBuilder) -> None:
    t.query(0, 499)


def http_two_calls(t: TraceBuilder) -> None:
    t.call(0, 300, "http://a.internal/x")
    t.call(310, 300, "http://b.internal/x")


def http_one_short(t: TraceBuilder) -> None:
    t.call(0, 150, "http://a.internal/x")
    t.call(160, 99, "http://b.internal/x")
    t.call(270, 150, "http://c.internal/x")


def http_dependent_gap(t: TraceBuilder) -> None:
    t.call(0, 150, "http://a.internal/user")
    t.call(750, 150, "http://b.internal/orders")  # 600 ms of work on the first response before this call
    t.call(910, 150, "http://c.internal/prices")


def http_writes(t: TraceBuilder) -> None:
    for i, host in enumerate(("a", "b", "c")):
        t.call(i * 160, 150, f"http://{host}.internal/x", method="POST")


def http_retry(t: TraceBuilder) -> None:
    t.call(0, 150, "http://a.internal/x", status=503)
    t.call(160, 150, "http://a.internal/x")  # the retry depends on the failure
    t.call(320, 150, "http://b.internal/x")


def http_concurrent(t: TraceBuilder) -> None:
    for host in ("a", "b", "c"):
        t.call(0, 150, f"http://{host}.internal/x")


POSITIVES: dict[Callable[[TraceBuilder], None], list[str]] = {
    n1_basic: ["n_plus_one_db"],
    n1_at_thresholds: ["n_plus_one_db"],
    n1_interleaved: ["n_plus_one_db"],
    n1_redis: ["n_plus_one_db"],
    slow_query: ["slow_db_query"],
    slow_at_threshold: ["slow_db_query"],
    sequential_calls: ["sequential_http"],
    sequential_at_thresholds: ["sequential_http"],
    slow_and_n1: ["slow_db_query", "n_plus_one_db"],
}
NEAR_MISSES = [
    n1_four_queries, n1_49_ms, n1_overlapping, n1_different_text, n1_different_parents, slow_499_ms,
    http_two_calls, http_one_short, http_dependent_gap, http_writes, http_retry, http_concurrent,
]  # fmt: skip


def _kinds(case: Callable[[TraceBuilder], None]) -> list[str]:
    builder = TraceBuilder()
    case(builder)
    return [finding.kind for finding in detect_findings(builder.spans())]


def test_fixture_suite_full_recall_no_false_positive() -> None:
    expected = sum(len(kinds) for kinds in POSITIVES.values())
    hits = 0
    false_positives: list[tuple[str, str]] = []
    for case, kinds in POSITIVES.items():
        found = _kinds(case)
        hits += sum(1 for kind in kinds if kind in found)
        false_positives += [(case.__name__, kind) for kind in found if kind not in kinds]
    for case in NEAR_MISSES:
        false_positives += [(case.__name__, kind) for kind in _kinds(case)]
    assert hits / expected == 1.0
    assert false_positives == []


@pytest.mark.parametrize("case", list(POSITIVES))
def test_each_positive_is_found_exactly(case: Callable[[TraceBuilder], None]) -> None:
    assert sorted(_kinds(case)) == sorted(POSITIVES[case])


@pytest.mark.parametrize("case", NEAR_MISSES)
def test_each_near_miss_is_silent(case: Callable[[TraceBuilder], None]) -> None:
    assert _kinds(case) == []


def test_n_plus_one_finding_has_figures_spans_and_location() -> None:
    builder = TraceBuilder()
    queries = [builder.query(i * 11, 10) for i in range(6)]
    (finding,) = detect_findings(builder.spans())
    assert finding.span_ids == tuple(q.context.span_id for q in queries)
    assert finding.trace_id == builder.root.context.trace_id
    assert finding.location == CodeSite("list_orders", "app/views.py", 42)
    assert "6 sequential" in finding.summary and "60 ms in total" in finding.summary
    assert "app/views.py:42" in finding.summary


def test_sequential_finding_states_the_time_saved() -> None:
    builder = TraceBuilder()
    sequential_calls(builder)
    (finding,) = detect_findings(builder.spans())
    assert finding.value == pytest.approx(0.3)  # 450 ms in a row, 150 ms concurrently
    assert "saving 300 ms" in finding.summary and "GET a.internal" in finding.summary


def test_thresholds_are_configurable() -> None:
    builder = TraceBuilder()
    n1_four_queries(builder)
    spans = builder.spans()
    assert detect_findings(spans) == []
    loose = FindingThresholds(n_plus_one_min_queries=4, n_plus_one_min_total_s=0.05)
    assert [f.kind for f in detect_findings(spans, loose)] == ["n_plus_one_db"]
    with pytest.raises(ValueError):
        FindingThresholds(n_plus_one_min_queries=1)
    with pytest.raises(ValueError):
        FindingThresholds(slow_query_s=-1)


def test_unfinished_spans_are_ignored_and_findings_are_capped() -> None:
    builder = TraceBuilder()
    attributes = {"db.system.name": "sqlite", "db.query.text": "SELECT ?"}
    open_span = builder.tracer.start_span(
        "q", kind=SpanKind.CLIENT, parent=builder.root, start_time=BASE, attributes=attributes
    )
    for i in range(12):
        builder.query(i * 600, 550, text=f"SELECT * FROM t{i}")
    spans = [*builder.spans(), open_span]
    assert len(detect_findings(spans)) == 10
    assert len(detect_findings(spans, FindingThresholds(max_findings=3))) == 3


def test_profiler_recommendation_becomes_a_finding() -> None:
    recommendation = Recommendation(
        "blocking_io_in_event_loop",
        "time.sleep blocked the loop for 120 ms",
        "time.sleep",
        "app/main.py:17",
        0.12,
        0.05,
    )
    finding = Finding.from_recommendation(recommendation, trace_id=7)
    assert finding == Finding(
        "blocking_io_in_event_loop",
        "time.sleep blocked the loop for 120 ms",
        (),
        7,
        CodeSite("time.sleep", "app/main.py", 17),
        0.12,
        0.05,
    )
    odd = Recommendation("high_allocation_rate", "m", "unknown", "unknown", 1.0, 0.5)
    assert Finding.from_recommendation(odd).location is None


def test_profiler_adapter_round_trip() -> None:
    from c13_middleware.profiling._advice import as_findings, from_findings

    builder = TraceBuilder()
    n1_basic(builder)
    findings = detect_findings(builder.spans())
    (recommendation,) = from_findings(findings)
    assert recommendation.rule == "n_plus_one_db" and recommendation.location == "app/views.py:42"
    (back,) = as_findings([recommendation], trace_id=findings[0].trace_id)
    assert (back.kind, back.summary, back.location) == (findings[0].kind, findings[0].summary, findings[0].location)
