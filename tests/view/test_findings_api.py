"""The findings of a stored trace, in ``/api/c13/traces/{id}`` of a real ``c13 view``: the span detectors run over
the spans the viewer received over OTLP."""

from __future__ import annotations

import os
from typing import Any

from c13_middleware.trace._span import SpanKind
from c13_middleware.view._findings import stored_span, trace_findings
from tests.view.conftest import View
from tests.view.otlp_requests import n_plus_one_request

PROTOBUF = {"Content-Type": "application/x-protobuf"}
QUERY = 'SELECT "shop_customer"."name" FROM "shop_customer" WHERE "shop_customer"."id" = ? LIMIT ?'


def _store(view: View, trace_id: bytes, **kwargs: int) -> Any:
    before = view.json("/api/c13/status")["counts"]["spans"]
    status = view.post("/v1/traces", n_plus_one_request(trace_id, QUERY, **kwargs).SerializeToString(), PROTOBUF)[0]
    assert status == 200
    view.wait_for_spans(before + 1 + kwargs.get("queries", 6))  # committed by the viewer's writer thread
    return view.json(f"/api/c13/traces/{trace_id.hex()}")


def test_six_sequential_identical_queries_are_an_n_plus_one_finding(view: View) -> None:
    trace_id = os.urandom(16)
    trace = _store(view, trace_id)
    spans = trace["spans"]
    assert len(spans) == 7
    queries = sorted((s for s in spans if s["kind"] == 3), key=lambda s: s["startNs"])
    findings = trace["findings"]
    assert [f["kind"] for f in findings] == ["n_plus_one_db"]
    finding = findings[0]
    assert finding["spanIds"] == [s["spanId"] for s in queries]
    assert finding["location"] == {"function": "order_customers", "file": "/srv/app/shop/views.py", "line": 12}
    assert "6 sequential" in finding["summary"] and "72 ms in total" in finding["summary"]
    assert "/srv/app/shop/views.py:12 (order_customers)" in finding["summary"]


def test_a_near_miss_has_no_finding(view: View) -> None:
    trace = _store(view, os.urandom(16), queries=5, each_ms=9)  # 5 queries, 45 ms together: under 50 ms
    assert trace["findings"] == []


def test_a_stored_span_reads_as_the_detectors_expect() -> None:
    stored = {"traceId": "0af7651916cd43dd8448eb211c80319c", "spanId": "b7ad6b7169203331", "parentSpanId": "",
              "name": "x", "kind": 0, "startNs": 5, "durationNs": 7, "status": {"code": 2, "message": "boom"},
              "attributes": {"a": 1}}  # fmt: skip
    span = stored_span(stored)
    assert span.kind is SpanKind.INTERNAL and span.parent is None and span.status.is_error
    assert (span.start_time, span.end_time) == (5, 12)
    assert span.context.trace_id == 0x0AF7651916CD43DD8448EB211C80319C and span.context.span_id == 0xB7AD6B7169203331
    assert trace_findings([stored]) == []


def test_a_span_the_detectors_cannot_read_leaves_the_trace_without_findings() -> None:
    assert trace_findings([{"traceId": "zz"}]) == []  # the trace is still served, without findings
