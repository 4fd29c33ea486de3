"""OTLP requests (protobuf or JSON) decoded into store rows, whole or not at all.

A request with one malformed span or profile raises ``Malformed`` and nothing of it is stored: the receiver answers
400. Ids are lower-case hex (trace 32 digits, span 16); times are Unix nanoseconds; attribute maps are JSON objects
(bytes as base64, arrays as lists, key-value lists as objects).
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

INSTALL_HINT = "pip install 'c13-middleware[view]'"
ENTRY_KINDS = (2, 5)  # SERVER, CONSUMER: the spans a request or message enters a service with


class Malformed(ValueError):
    """The request is not valid OTLP; the message says where."""


def messages() -> Any:
    try:
        from google.protobuf import json_format
        from opentelemetry.proto.collector.profiles.v1development import profiles_service_pb2
        from opentelemetry.proto.collector.trace.v1 import trace_service_pb2
    except ImportError as exc:  # pragma: no cover - the view extra installs it
        raise ImportError(f"c13 view needs opentelemetry-proto: {INSTALL_HINT}") from exc
    return trace_service_pb2, profiles_service_pb2, json_format


def any_value(value: Any) -> Any:
    kind = value.WhichOneof("value")
    if kind == "string_value":
        return value.string_value
    if kind == "int_value":
        return value.int_value
    if kind == "bool_value":
        return value.bool_value
    if kind == "double_value":
        number = value.double_value
        return number if math.isfinite(number) else str(number)
    if kind == "array_value":
        return [any_value(item) for item in value.array_value.values]
    if kind == "kvlist_value":
        return attributes(value.kvlist_value.values)
    if kind == "bytes_value":
        return base64.b64encode(value.bytes_value).decode("ascii")
    return None


def attributes(pairs: Iterable[Any]) -> dict[str, Any]:
    return {kv.key: any_value(kv.value) for kv in pairs}


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _hex_id(raw: bytes, size: int, what: str, *, optional: bool = False) -> str:
    if not raw and optional:
        return ""
    if len(raw) != size or not any(raw):
        raise Malformed(f"{what} must be {size} bytes, not all zero")
    return raw.hex()


_ID_FIELDS = frozenset({"traceId", "spanId", "parentSpanId", "trace_id", "span_id", "parent_span_id", "profileId",
                        "profile_id"})  # fmt: skip


def _hex_to_base64(node: Any) -> Any:
    """OTLP JSON writes ids as hex where protobuf's JSON mapping expects base64: convert them, in place."""
    if isinstance(node, dict):
        for key, item in node.items():
            if key in _ID_FIELDS and isinstance(item, str):
                try:
                    node[key] = base64.b64encode(bytes.fromhex(item)).decode("ascii")
                except ValueError:
                    raise Malformed(f"{key} {item[:40]!r} is not hex") from None
            else:
                _hex_to_base64(item)
    elif isinstance(node, list):
        for item in node:
            _hex_to_base64(item)
    return node


def parse(message_type: Any, body: bytes, is_json: bool) -> Any:
    json_format = messages()[2]
    try:
        if is_json:
            return json_format.ParseDict(_hex_to_base64(json.loads(body)), message_type(), ignore_unknown_fields=True)
        return message_type.FromString(body)
    except Malformed:
        raise
    except Exception as exc:  # DecodeError, ParseError, JSONDecodeError, RecursionError...
        raise Malformed(f"not a valid {message_type.DESCRIPTOR.name}: {type(exc).__name__}") from None


@dataclass
class SpanBatch:
    """One request's spans as rows for ``spans``, and the resources they reference (key → (service, JSON))."""

    rows: list[tuple[Any, ...]] = field(default_factory=list)
    resources: dict[str, tuple[str, str]] = field(default_factory=dict)


def decode_traces(body: bytes, is_json: bool) -> SpanBatch:
    request = parse(messages()[0].ExportTraceServiceRequest, body, is_json)
    batch = SpanBatch()
    rows = batch.rows
    for resource_spans in request.resource_spans:
        resource = attributes(resource_spans.resource.attributes)
        service = str(resource.get("service.name") or "unknown_service")
        resource_json = _dumps(resource)
        key = hashlib.blake2b(resource_json.encode(), digest_size=8).hexdigest()  # stable across restarts
        batch.resources[key] = (service, resource_json)
        for scope_spans in resource_spans.scope_spans:
            scope, version = scope_spans.scope.name, scope_spans.scope.version
            for span in scope_spans.spans:
                attrs = attributes(span.attributes)
                start, end = span.start_time_unix_nano, span.end_time_unix_nano
                parent = _hex_id(span.parent_span_id, 8, "parent_span_id", optional=True)
                kind = span.kind
                route = attrs.get("http.route")
                events = [{"time": e.time_unix_nano, "name": e.name, "attributes": attributes(e.attributes)}
                          for e in span.events]  # fmt: skip
                links = [{"traceId": _hex_id(link.trace_id, 16, "link trace_id"),
                          "spanId": _hex_id(link.span_id, 8, "link span_id"),
                          "attributes": attributes(link.attributes)} for link in span.links]  # fmt: skip
                rows.append((
                    _hex_id(span.trace_id, 16, "trace_id"), _hex_id(span.span_id, 8, "span_id"), parent, service,
                    span.name, kind, start, max(0, end - start), span.status.code, span.status.message,
                    route if isinstance(route, str) else span.name, 1 if (kind in ENTRY_KINDS or not parent) else 0,
                    _dumps(attrs), _dumps(events) if events else "", _dumps(links) if links else "", key, scope,
                    version, span.flags, span.trace_state,
                ))  # fmt: skip
    return batch


@dataclass
class ProfileDoc:
    """One profile as the viewer keeps it: frames ``[name, file, line]`` and samples
    ``[stack (frame indexes, root first), wall_ns, cpu_ns, state, span_id, thread_id]``."""

    profile_id: str
    service: str
    name: str
    start_ns: int
    duration_ns: int
    trace_id: str
    span_id: str
    attributes: dict[str, Any]
    frames: list[list[Any]]
    samples: list[list[Any]]

    def as_json(self) -> dict[str, Any]:
        return {
            "profileId": self.profile_id, "service": self.service, "name": self.name, "startNs": self.start_ns,
            "durationNs": self.duration_ns, "traceId": self.trace_id, "spanId": self.span_id,
            "attributes": self.attributes, "frames": self.frames, "samples": self.samples,
        }  # fmt: skip


def _at(table: Any, index: int, what: str) -> Any:
    if not 0 <= index < len(table):
        raise Malformed(f"{what} index {index} out of range")
    return table[index]


def _attr_id(attrs: dict[str, Any], key: str, digits: int) -> str:
    """A hex id from a profile attribute (how c13 names the profiled span even without samples); anything that is
    not one is treated as absent."""
    value = attrs.get(key)
    if not isinstance(value, str) or len(value) != digits:
        return ""
    value = value.lower()
    return value if value.strip("0123456789abcdef") == "" and value.strip("0") else ""


def decode_profiles(body: bytes, is_json: bool) -> list[ProfileDoc]:
    request = parse(messages()[1].ExportProfilesServiceRequest, body, is_json)
    d = request.dictionary
    strings = list(d.string_table)

    def text(index: int) -> str:
        return str(_at(strings, index, "string"))

    def kv(index: int) -> tuple[str, Any]:
        item = _at(d.attribute_table, index, "attribute")
        return text(item.key_strindex), any_value(item.value)

    frame_index: dict[tuple[str, str, int], int] = {}
    docs: dict[str, ProfileDoc] = {}
    columns: dict[str, dict[tuple[Any, ...], list[int]]] = {}
    for resource_profiles in request.resource_profiles:
        service = str(attributes(resource_profiles.resource.attributes).get("service.name") or "unknown_service")
        for scope_profiles in resource_profiles.scope_profiles:
            for profile in scope_profiles.profiles:
                attrs = dict(kv(i) for i in profile.attribute_indices)
                pid = str(attrs.get("c13.profile.id") or profile.profile_id.hex() or "")
                if not pid:
                    raise Malformed("a profile has neither profile_id nor c13.profile.id")
                kind = text(profile.sample_type.type_strindex)
                column = 1 if kind == "cpu" else 0
                doc = docs.get(pid)
                if doc is None:
                    doc = docs[pid] = ProfileDoc(
                        pid, service, str(attrs.get("c13.profile.name") or ""), profile.time_unix_nano,
                        profile.duration_nano, _attr_id(attrs, "c13.profile.trace_id", 32),
                        _attr_id(attrs, "c13.profile.span_id", 16), attrs, [], [],
                    )  # fmt: skip
                    columns[pid] = {}
                merged = columns[pid]
                for sample in profile.samples:
                    stack = _at(d.stack_table, sample.stack_index, "stack")
                    frames = []
                    for location_index in reversed(stack.location_indices):  # leaf first on the wire
                        location = _at(d.location_table, location_index, "location")
                        for line in reversed(location.lines):  # inlined frames: the last is the caller
                            function = _at(d.function_table, line.function_index, "function")
                            key = (text(function.name_strindex), text(function.filename_strindex), line.line)
                            index = frame_index.get(key)
                            if index is None:
                                index = frame_index[key] = len(frame_index)
                            frames.append(index)
                    trace_id = span_id = ""
                    if sample.link_index:
                        link = _at(d.link_table, sample.link_index, "link")
                        trace_id = _hex_id(link.trace_id, 16, "link trace_id", optional=True)
                        span_id = _hex_id(link.span_id, 8, "link span_id", optional=True)
                        if trace_id and not doc.trace_id:
                            doc.trace_id = trace_id
                    sattrs = dict(kv(i) for i in sample.attribute_indices)
                    state = {"cpu": 0, "io": 1, "wait": 2}.get(str(sattrs.get("c13.sample.state", "cpu")), 0)
                    thread = sattrs.get("thread.id", 0)
                    mkey = (tuple(frames), span_id, state, thread if isinstance(thread, int) else 0)
                    values = merged.setdefault(mkey, [0, 0])
                    values[column] += sum(sample.values) if sample.values else len(sample.timestamps_unix_nano)
    frames_list = [[name, file, line] for (name, file, line) in frame_index]
    out = []
    for pid, doc in docs.items():
        doc.frames = frames_list
        doc.samples = [[list(k[0]), v[0], v[1], k[2], k[1], k[3]] for k, v in columns[pid].items()]
        if not doc.span_id and doc.samples:
            doc.span_id = str(doc.samples[0][4])
        out.append(doc)
    return out


__all__ = ["ENTRY_KINDS", "Malformed", "ProfileDoc", "SpanBatch", "decode_profiles", "decode_traces", "messages"]
