"""What c13 sends as OTLP/HTTP JSON: the OTLP JSON rules (hex ids, int64 strings, enum numbers, camelCase)."""

from __future__ import annotations

import base64
import json
import math
import re
from collections.abc import Callable, Iterator
from typing import Any

from c13_middleware import ExportResult, InMemoryExporter, Link, SpanContext, SpanKind, StatusCode, Tracer, TraceState
from c13_middleware._version import __version__
from c13_middleware.export.otlp import OTLPExporter
from c13_middleware.export.otlp.encode_json import JsonEncoder
from tests.export.otlp.otlp_receiver import Receiver, json_attributes

REMOTE_PARENT = SpanContext(
    0x0AF7651916CD43DD8448EB211C80319C, 0xB7AD6B7169203331, 0x01, TraceState((("v", "1"),)), True
)
LINKED = SpanContext(0x0000000000000000000000000000ABCD, 0x00000000000000EF, 0x01)

ALL_TYPES: dict[str, Any] = {
    "str": 'quote " backslash \\ newline \n unicode é',
    "bool": False,
    "int": 9007199254740993,  # > 2**53: only a string keeps it exact
    "negative": -1,
    "float": 2.5,
    "str_array": ("x",),
    "int_array": (1, -2),
    "float_array": (0.5,),
    "bool_array": (True,),
    "empty_array": (),
}
CAMEL = re.compile(r"^[a-z][a-zA-Z0-9]*$")


def _keys(node: Any) -> Iterator[str]:
    """Every object key in a JSON document, except attribute keys (those are data, not field names)."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield key
            if key == "attributes":
                for kv in value:
                    yield from (k for k in kv if k != "key")
                    yield from _keys(kv["value"])
            else:
                yield from _keys(value)
    elif isinstance(node, list):
        for item in node:
            yield from _keys(item)


def test_json_request_field_by_field(
    tracer: Tracer, exporter: InMemoryExporter, receiver: Receiver, make_exporter: Callable[..., OTLPExporter]
) -> None:
    with tracer.start_as_current_span("GET /", kind=SpanKind.SERVER, parent=REMOTE_PARENT, attributes=ALL_TYPES) as s:
        s.add_event("ev", {"n": 3})
        with tracer.start_as_current_span("work", kind=SpanKind.CONSUMER, links=[Link(LINKED, {"why": "batch"})]) as w:
            w.set_status(StatusCode.ERROR, "failed")
    root = tracer.start_span("root", kind=SpanKind.PRODUCER, parent=None)
    root.end()
    spans = exporter.get_finished_spans()

    otlp = make_exporter(protocol="http/json")
    assert otlp.export(spans) is ExportResult.SUCCESS
    assert receiver.wait_for(1)
    request = receiver.received[0]
    assert request.headers["content-type"] == "application/json"
    document = request.json()

    assert all(CAMEL.match(key) for key in _keys(document)), sorted(set(_keys(document)))
    (resource_spans,) = document["resourceSpans"]
    resource = json_attributes(resource_spans["resource"]["attributes"])
    assert resource["service.name"] == "test-service" and resource["telemetry.sdk.version"] == __version__
    (scope_spans,) = resource_spans["scopeSpans"]
    assert scope_spans["scope"] == {"name": "c13_middleware", "version": __version__}
    got = {item["name"]: item for item in scope_spans["spans"]}
    by_name = {span.name: span for span in spans}

    for name, item in got.items():
        span = by_name[name]
        assert item["traceId"] == f"{span.context.trace_id:032x}"  # hex, not base64
        assert item["spanId"] == f"{span.context.span_id:016x}"
        assert re.fullmatch(r"[0-9a-f]{32}", item["traceId"]) and re.fullmatch(r"[0-9a-f]{16}", item["spanId"])
        assert item["startTimeUnixNano"] == str(span.start_time)  # fixed64: a decimal string
        assert item["endTimeUnixNano"] == str(span.end_time)
        assert isinstance(item["kind"], int) and isinstance(item["flags"], int)
        assert item["flags"] & 0xFF == span.context.trace_flags and item["flags"] & 0x100

    server, work, lone = got["GET /"], got["work"], got["root"]
    assert server["parentSpanId"] == "b7ad6b7169203331" and server["flags"] & 0x200
    assert server["traceState"] == "v=1"
    assert work["parentSpanId"] == server["spanId"] and not work["flags"] & 0x200
    assert (server["kind"], work["kind"], lone["kind"]) == (2, 5, 4)
    assert json_attributes(server["attributes"]) == ALL_TYPES
    assert {kv["key"]: kv["value"] for kv in server["attributes"]}["int"] == {"intValue": "9007199254740993"}
    assert {kv["key"]: kv["value"] for kv in server["attributes"]}["empty_array"] == {"arrayValue": {}}
    (event,) = server["events"]
    assert event == {"timeUnixNano": str(by_name["GET /"].events[0].timestamp), "name": "ev",
                     "attributes": [{"key": "n", "value": {"intValue": "3"}}]}  # fmt: skip
    (link,) = work["links"]
    assert link["traceId"] == "0000000000000000000000000000abcd" and link["spanId"] == "00000000000000ef"
    assert link["flags"] == 0x101 and "traceState" not in link
    assert json_attributes(link["attributes"]) == {"why": "batch"}
    assert work["status"] == {"code": 2, "message": "failed"}

    # Defaults are left out: a root span has no parent, no trace state, no status, no dropped counts, no events.
    for absent in ("parentSpanId", "traceState", "status", "droppedAttributesCount", "events", "links", "attributes"):
        assert absent not in lone, absent
    assert "status" not in server


def test_json_special_floats_and_big_ints(tracer: Tracer, exporter: InMemoryExporter) -> None:
    values = {"nan": math.nan, "inf": math.inf, "ninf": -math.inf, "big": 2**64, "tiny": 5e-324, "huge": 1e300}
    tracer.start_span("s", attributes=values).end()
    document = json.loads(JsonEncoder().encode(exporter.get_finished_spans()))
    raw = {kv["key"]: kv["value"] for kv in document["resourceSpans"][0]["scopeSpans"][0]["spans"][0]["attributes"]}
    assert raw["nan"] == {"doubleValue": "NaN"}
    assert raw["inf"] == {"doubleValue": "Infinity"} and raw["ninf"] == {"doubleValue": "-Infinity"}
    assert raw["big"] == {"stringValue": str(2**64)}  # outside int64: kept exact, as text
    assert raw["tiny"] == {"doubleValue": 5e-324} and raw["huge"] == {"doubleValue": 1e300}


def test_json_cache_keeps_types_and_values(tracer: Tracer, exporter: InMemoryExporter) -> None:
    encoder = JsonEncoder()
    values = [1, True, 1.0, "1", 0, False, 0.0]
    for _ in range(3):
        exporter.clear()
        for value in values:
            tracer.start_span("s", attributes={"k": value}).end()
        spans = json.loads(encoder.encode(exporter.get_finished_spans()))["resourceSpans"][0]["scopeSpans"][0]["spans"]
        assert [s["attributes"][0]["value"] for s in spans] == [
            {"intValue": "1"}, {"boolValue": True}, {"doubleValue": 1.0}, {"stringValue": "1"},
            {"intValue": "0"}, {"boolValue": False}, {"doubleValue": 0.0},
        ]  # fmt: skip


def test_json_lone_surrogate_does_not_fail_the_batch(tracer: Tracer, exporter: InMemoryExporter) -> None:
    tracer.start_span("bad \ud800").end()
    tracer.start_span("good").end()
    spans = json.loads(JsonEncoder().encode(exporter.get_finished_spans()))["resourceSpans"][0]["scopeSpans"][0][
        "spans"
    ]
    assert [s["name"] for s in spans] == ["bad ?", "good"]


def test_json_unhashable_link_attributes(tracer: Tracer, exporter: InMemoryExporter) -> None:
    """Link attributes are not cleaned by the span: a list value must still encode (as an array)."""
    tracer.start_span("s", links=[Link(LINKED, {"ids": [1, 2]})]).end()  # type: ignore[dict-item]
    (link,) = json.loads(JsonEncoder().encode(exporter.get_finished_spans()))["resourceSpans"][0]["scopeSpans"][0][
        "spans"
    ][0]["links"]
    assert json_attributes(link["attributes"]) == {"ids": (1, 2)}


def _hex_ids_to_base64(node: Any) -> None:
    """Turn OTLP JSON into protobuf's standard JSON mapping (base64 bytes), which json_format can parse."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("traceId", "spanId", "parentSpanId"):
                node[key] = base64.b64encode(bytes.fromhex(value)).decode()
            else:
                _hex_ids_to_base64(value)
    elif isinstance(node, list):
        for item in node:
            _hex_ids_to_base64(item)


def _sorted_attributes(message: Any) -> None:
    for field, value in message.ListFields():
        if field.name == "attributes":
            ordered = sorted(value, key=lambda kv: kv.key)
            copies = [type(kv)() for kv in ordered]
            for copy, kv in zip(copies, ordered, strict=True):
                copy.CopyFrom(kv)
            del value[:]
            value.extend(copies)
        elif field.message_type is not None:
            repeated = field.is_repeated if hasattr(field, "is_repeated") else field.label == field.LABEL_REPEATED
            for item in value if repeated else [value]:
                _sorted_attributes(item)


def test_json_and_protobuf_describe_the_same_request(tracer: Tracer, exporter: InMemoryExporter) -> None:
    """Parsed against the official schema, the JSON form equals the protobuf form, field for field."""
    from google.protobuf import json_format
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

    from c13_middleware.export.otlp.encode_proto import ProtobufEncoder

    with tracer.start_as_current_span("GET /", kind=SpanKind.SERVER, parent=REMOTE_PARENT, attributes=ALL_TYPES) as s:
        s.add_event("ev", {"n": 3, "f": 0.5})
        with tracer.start_as_current_span("work", links=[Link(LINKED, {"why": "batch"})]) as w:
            w.set_status(StatusCode.ERROR, "failed")
    for i in range(80):  # enough distinct values to take both the cached and the direct paths
        tracer.start_span(f"s{i}", attributes={"path": f"/p/{i}", "n": i, "ok": i % 2 == 0}).end()
    spans = exporter.get_finished_spans()
    proto_encoder, json_encoder = ProtobufEncoder(), JsonEncoder()
    for _ in range(2):
        from_proto = ExportTraceServiceRequest.FromString(proto_encoder.encode(spans))
        document = json.loads(json_encoder.encode(spans))
        _hex_ids_to_base64(document)
        from_json = json_format.ParseDict(document, ExportTraceServiceRequest())  # strict: unknown fields fail
        _sorted_attributes(from_proto)
        _sorted_attributes(from_json)
        assert from_json == from_proto
