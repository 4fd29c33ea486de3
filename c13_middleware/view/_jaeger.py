"""Stored spans in Jaeger's JSON model (the ``/api/traces`` answers of Jaeger's query service, which its UI and
Grafana's Jaeger data source read), and the query parameters of ``/api/traces`` in Jaeger's forms.

A trace is ``{"traceID", "spans", "processes", "warnings"}``; a span ``{"traceID", "spanID", "operationName",
"references", "startTime", "duration", "tags", "logs", "processID", "warnings", "flags"}`` with times in
microseconds; a tag ``{"key", "type", "value"}`` with type ``string``, ``bool``, ``int64``, ``float64`` or
``binary``. OTLP's span kind, status and scope become the tags ``span.kind``, ``otel.status_code``,
``otel.status_description``, ``error`` and ``otel.scope.name``/``otel.scope.version``, events become logs (the name
in an ``event`` field) and links ``FOLLOWS_FROM`` references, as Jaeger's own OTLP translation does.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from ._queries import Queries, TraceQuery

KINDS = {1: "internal", 2: "server", 3: "client", 4: "producer", 5: "consumer"}
STATUS = {1: "OK", 2: "ERROR"}
_DURATION = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)")
_UNIT_NS = {"ns": 1, "us": 1_000, "µs": 1_000, "ms": 1_000_000, "s": 10**9, "m": 60 * 10**9, "h": 3600 * 10**9}


class BadQuery(ValueError):
    pass


def parse_duration(text: str) -> int:
    """A Go duration (``1.5s``, ``200ms``, ``1h30m``) in nanoseconds."""
    text = text.strip()
    pos, total = 0, 0.0
    for match in _DURATION.finditer(text):
        if match.start() != pos:
            break
        total += float(match.group(1)) * _UNIT_NS[match.group(2)]
        pos = match.end()
    if not text or pos != len(text):
        raise BadQuery(f"cannot parse duration {text[:40]!r} (use e.g. 150ms, 1.5s)")
    return int(total)


def _int(params: Mapping[str, list[str]], name: str) -> int | None:
    values = params.get(name)
    if not values or not values[0].strip():
        return None
    try:
        return int(values[0])
    except ValueError:
        raise BadQuery(f"{name} must be an integer, got {values[0][:40]!r}") from None


def parse_trace_query(params: Mapping[str, list[str]]) -> TraceQuery:
    """``/api/traces`` parameters: service, operation, tags (a JSON object) and tag=key:value (repeated),
    minDuration/maxDuration (Go durations), start/end (Unix microseconds), limit; plus c13's route and error."""
    tags: dict[str, str] = {}
    for raw in params.get("tags", []):
        if not raw.strip():
            continue
        try:
            decoded = json.loads(raw)
        except ValueError:
            raise BadQuery("tags must be a JSON object of strings") from None
        if not isinstance(decoded, dict):
            raise BadQuery("tags must be a JSON object of strings")
        tags.update({str(k): _tag_text(v) for k, v in decoded.items()})
    for raw in params.get("tag", []):
        key, sep, value = raw.partition(":")
        if not sep or not key:
            raise BadQuery(f"tag must be key:value, got {raw[:40]!r}")
        tags[key] = value
    start, end = _int(params, "start"), _int(params, "end")
    limit = _int(params, "limit") or 20
    durations = {}
    for name in ("minDuration", "maxDuration"):
        values = params.get(name)
        durations[name] = parse_duration(values[0]) if values and values[0].strip() else None
    first = {name: (params.get(name) or [""])[0].strip() or None for name in ("service", "operation", "route")}
    return TraceQuery(
        service=first["service"], operation=first["operation"], route=first["route"], tags=tags,
        min_duration_ns=durations["minDuration"], max_duration_ns=durations["maxDuration"],
        start_ns=start * 1000 if start is not None else None, end_ns=end * 1000 if end is not None else None,
        errors_only=(params.get("error") or [""])[0] == "true", limit=limit,
    )  # fmt: skip


def _tag_text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def tag(key: str, value: Any) -> dict[str, Any]:
    if isinstance(value, bool):
        return {"key": key, "type": "bool", "value": value}
    if isinstance(value, int):
        return {"key": key, "type": "int64", "value": value}
    if isinstance(value, float):
        return {"key": key, "type": "float64", "value": value}
    if isinstance(value, str):
        return {"key": key, "type": "string", "value": value}
    return {"key": key, "type": "string", "value": json.dumps(value, separators=(",", ":"))}


def _span(span: dict[str, Any], process_id: str) -> dict[str, Any]:
    tags = [tag(k, v) for k, v in span["attributes"].items()]
    kind = KINDS.get(span["kind"])
    if kind and kind != "internal":
        tags.append(tag("span.kind", kind))
    status = span["status"]
    if status["code"] in STATUS:
        tags.append(tag("otel.status_code", STATUS[status["code"]]))
    if status["code"] == 2:
        tags.append(tag("error", True))
        if status["message"]:
            tags.append(tag("otel.status_description", status["message"]))
    if span["scope"]["name"]:
        tags.append(tag("otel.scope.name", span["scope"]["name"]))
        if span["scope"]["version"]:
            tags.append(tag("otel.scope.version", span["scope"]["version"]))
    references = []
    if span["parentSpanId"]:
        references.append({"refType": "CHILD_OF", "traceID": span["traceId"], "spanID": span["parentSpanId"]})
    for link in span["links"]:
        references.append({"refType": "FOLLOWS_FROM", "traceID": link["traceId"], "spanID": link["spanId"]})
    logs = [
        {"timestamp": event["time"] // 1000,
         "fields": [tag("event", event["name"]), *(tag(k, v) for k, v in event["attributes"].items())]}
        for event in span["events"]
    ]  # fmt: skip
    return {
        "traceID": span["traceId"], "spanID": span["spanId"], "operationName": span["name"],
        "references": references, "startTime": span["startNs"] // 1000, "duration": span["durationNs"] // 1000,
        "tags": tags, "logs": logs, "processID": process_id, "warnings": None, "flags": span["flags"] & 0xFF,
    }  # fmt: skip


def jaeger_trace(queries: Queries, trace_id: str) -> dict[str, Any] | None:
    spans = queries.trace_spans(trace_id)
    if not spans:
        return None
    resources = queries.resources({span["resource"] for span in spans})
    process_ids: dict[str, str] = {}
    processes = {}
    for key in sorted({span["resource"] for span in spans}):
        pid = process_ids[key] = f"p{len(process_ids) + 1}"
        resource = resources.get(key, {"service": "unknown_service", "attributes": {}})
        processes[pid] = {
            "serviceName": resource["service"],
            "tags": [tag(k, v) for k, v in resource["attributes"].items() if k != "service.name"],
        }
    return {
        "traceID": spans[0]["traceId"],
        "spans": [_span(span, process_ids[span["resource"]]) for span in spans],
        "processes": processes,
        "warnings": None,
    }


def envelope(data: Any, errors: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """Jaeger's response wrapper."""
    total = len(data) if isinstance(data, list) else 0
    return {"data": data, "total": total, "limit": 0, "offset": 0, "errors": errors}


__all__ = ["BadQuery", "envelope", "jaeger_trace", "parse_duration", "parse_trace_query", "tag"]
