"""The findings of a stored trace: the span detectors (docs/findings.md) run over the viewer's OTLP spans.

The detectors read spans through ``findings.SpanLike``; a ``StoredSpan`` is a read-only view of one stored span
that gives them exactly that, so no c13 ``Span`` (with a tracer, a clock, a recording flag) is built for data
that only needs reading.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..findings._detect import detect_findings
from ..findings._types import Finding
from ..trace._span import SpanKind

__all__ = ["StoredSpan", "trace_findings"]

_log = logging.getLogger(__name__)
_KINDS = {kind.value: kind for kind in SpanKind}
_ERROR = 2  # OTLP's STATUS_CODE_ERROR
_failed_once = False


@dataclass(frozen=True, slots=True)
class _Ids:
    trace_id: int
    span_id: int


@dataclass(frozen=True, slots=True)
class _Status:
    is_error: bool


@dataclass(frozen=True, slots=True)
class StoredSpan:
    name: str
    kind: SpanKind
    context: _Ids
    parent: _Ids | None
    start_time: int
    end_time: int | None
    attributes: Mapping[str, object]
    status: _Status


def stored_span(span: Mapping[str, Any]) -> StoredSpan:
    """A span of ``Queries.trace_spans`` (hex ids, ns times, OTLP kind and status codes) as the detectors read it."""
    trace_id = int(span["traceId"], 16)
    parent = span["parentSpanId"]
    start = int(span["startNs"])
    return StoredSpan(
        str(span["name"]),
        _KINDS.get(span["kind"], SpanKind.INTERNAL),  # OTLP's UNSPECIFIED (0) is no kind a detector looks for
        _Ids(trace_id, int(span["spanId"], 16)),
        _Ids(trace_id, int(parent, 16)) if parent else None,
        start,
        start + int(span["durationNs"]),
        span["attributes"] if isinstance(span["attributes"], dict) else {},
        _Status(span["status"]["code"] == _ERROR),
    )


def _as_json(finding: Finding) -> dict[str, Any]:
    site = finding.location
    return {
        "kind": finding.kind,
        "summary": finding.summary,
        "spanIds": [f"{span_id:016x}" for span_id in finding.span_ids],
        "location": None if site is None else {"function": site.function, "file": site.file, "line": site.line},
        "value": finding.value,
        "threshold": finding.threshold,
    }


def trace_findings(spans: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The findings of one stored trace as the API answers them; a detector failure shows no findings (logged once)
    rather than no trace."""
    global _failed_once
    try:
        return [_as_json(finding) for finding in detect_findings(stored_span(span) for span in spans)]
    except Exception:
        if not _failed_once:
            _failed_once = True
            _log.exception("c13 view: finding detection failed; traces are served without findings")
        return []
