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
