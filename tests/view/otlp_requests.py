"""OTLP requests built with the official messages, for tests that send by hand."""

from __future__ import annotations

import os
import time
from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest


def span_request(
    service: str = "svc",
    spans: list[dict[str, Any]] | None = None,
    *,
    trace_id: bytes | None = None,
) -> ExportTraceServiceRequest:
    """One resource, one scope; each span dict may give name, span_id, parent, kind, start, duration, status,
    attributes (str/int/bool values)."""
    trace_id = trace_id or os.urandom(16)
    request = ExportTraceServiceRequest()
    resource_spans = request.resource_spans.add()
    resource_spans.resource.attributes.add(key="service.name").value.string_value = service
    scope_spans = resource_spans.scope_spans.add()
    scope_spans.scope.name = "tests"
    now = time.time_ns()
    for index, spec in enumerate(spans or [{}]):
        span = scope_spans.spans.add()
        span.trace_id = spec.get("trace_id", trace_id)
        span.span_id = spec.get("span_id", os.urandom(8))
        if spec.get("parent"):
            span.parent_span_id = spec["parent"]
        span.name = spec.get("name", f"span-{index}")
        span.kind = spec.get("kind", 2)
        start = spec.get("start", now - 10**9 + index)
        span.start_time_unix_nano = start
        span.end_time_unix_nano = start + spec.get("duration", 1_000_000)
        span.status.code = spec.get("status", 0)
        for key, value in spec.get("attributes", {}).items():
            target = span.attributes.add(key=key).value
            if isinstance(value, bool):
                target.bool_value = value
            elif isinstance(value, int):
                target.int_value = value
            else:
                target.string_value = str(value)
    return request


def n_plus_one_request(
    trace_id: bytes, query: str, *, queries: int = 6, each_ms: int = 12
) -> ExportTraceServiceRequest:
    """A SERVER span with ``queries`` sequential identical database CLIENT spans of ``each_ms`` under it, the first
    recording where in the code it was issued."""
    start = time.time_ns() - 10**9
    root = os.urandom(8)
    spans: list[dict[str, Any]] = [
        {"span_id": root, "name": "GET /orders", "kind": 2, "start": start, "duration": (queries + 1) * 20_000_000,
         "attributes": {"http.route": "/orders"}}
    ]  # fmt: skip
    for index in range(queries):
        attributes: dict[str, Any] = {"db.system.name": "postgresql", "db.query.text": query}
        if index == 0:
            attributes |= {"code.file.path": "/srv/app/shop/views.py", "code.line.number": 12,
                           "code.function.name": "order_customers"}  # fmt: skip
        spans.append({"name": "SELECT shop_customer", "kind": 3, "parent": root,
                      "start": start + 1_000_000 + index * (each_ms + 1) * 1_000_000, "duration": each_ms * 1_000_000,
                      "attributes": attributes})  # fmt: skip
    return span_request("shop", spans, trace_id=trace_id)
