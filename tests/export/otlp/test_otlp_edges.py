"""Less common paths: odd attribute values, dropped counts inside events and links, cache limits, TLS, bad
responses and counters."""

from __future__ import annotations

import enum
import json
import shutil
import ssl
from collections.abc import Callable
from pathlib import Path

import pytest

from c13_middleware import (
    Event,
    ExportResult,
    InMemoryExporter,
    Link,
    Span,
    SpanContext,
    SpanKind,
    SpanLimits,
    Tracer,
    TraceState,
    use_span,
)
from c13_middleware.export._logs import trace_context
from c13_middleware.export.otlp import OTLPExporter
from c13_middleware.export.otlp.common import FragmentCache
from c13_middleware.export.otlp.encode_json import JsonEncoder
from c13_middleware.export.otlp.encode_proto import ProtobufEncoder
from c13_middleware.export.otlp.proto_values import parse_response
from c13_middleware.export.otlp.retry import parse_retry_after
from c13_middleware.export.otlp.transport import build_ssl_context
from tests.export.otlp.otlp_receiver import Receiver, Reply, attributes, json_attributes, make_certificate

LINKED = SpanContext(0xABC, 0xDEF, 0x01, TraceState((("a", "b"),)), False)


class Color(enum.Enum):
    RED = "red"


class Level(enum.IntEnum):
    HIGH = 3


class Label(str):
    pass


def _proto_spans(body: bytes) -> list:  # type: ignore[type-arg]
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

    request = ExportTraceServiceRequest.FromString(body)
    return [s for rs in request.resource_spans for ss in rs.scope_spans for s in ss.spans]


def _json_spans(body: bytes) -> list:  # type: ignore[type-arg]
    return [s for rs in json.loads(body)["resourceSpans"] for ss in rs["scopeSpans"] for s in ss["spans"]]


@pytest.fixture
def odd_span(exporter: InMemoryExporter) -> Span:
    """Links carry attributes as given (the span does not clean them) and dropped counts of their own."""
    tracer = Tracer(span_limits=SpanLimits(max_attributes=1), exporter=exporter, export_mode="simple")
    odd = {"list": [1, 2], "enum": Level.HIGH, "label": Label("x"), "color": Color.RED, "none": None}
    link = Link(LINKED, odd, dropped_attributes_count=4)  # type: ignore[arg-type]
    span = tracer.start_span("odd", kind=SpanKind.SERVER, links=[link])
    span.add_event("e", {"kept": 1, "dropped": 2})
    span.end()
    (finished,) = exporter.get_finished_spans()
    return finished


EXPECTED_LINK_ATTRIBUTES = {"list": (1, 2), "enum": 3, "label": "x", "color": "Color.RED", "none": "None"}


def test_proto_odd_link_values_and_nested_dropped_counts(odd_span: Span) -> None:
    encoder = ProtobufEncoder()
    for _ in range(2):
        (message,) = _proto_spans(encoder.encode([odd_span]))
        (link,) = message.links
        assert attributes(link.attributes) == EXPECTED_LINK_ATTRIBUTES
        assert link.dropped_attributes_count == 4 and link.trace_state == "a=b" and link.flags == 0x101
        (event,) = message.events
        assert attributes(event.attributes) == {"kept": 1} and event.dropped_attributes_count == 1


def test_json_odd_link_values_and_nested_dropped_counts(odd_span: Span) -> None:
    encoder = JsonEncoder()
    for _ in range(2):
        (item,) = _json_spans(encoder.encode([odd_span]))
        (link,) = item["links"]
        assert json_attributes(link["attributes"]) == EXPECTED_LINK_ATTRIBUTES
        assert link["droppedAttributesCount"] == 4 and link["traceState"] == "a=b"
        (event,) = item["events"]
        assert json_attributes(event["attributes"]) == {"kept": 1} and event["droppedAttributesCount"] == 1


def test_span_level_dropped_counts_in_json(exporter: InMemoryExporter) -> None:
    tracer = Tracer(span_limits=SpanLimits(max_attributes=1, max_events=0), exporter=exporter, export_mode="simple")
    span = tracer.start_span("s", attributes={"a": 1, "b": 2})
    span.add_event("gone")
    span.end()
    span.dropped_links_count = 3  # the tracer keeps links as given; the field still has to travel
    (item,) = _json_spans(JsonEncoder().encode(exporter.get_finished_spans()))
    assert (item["droppedAttributesCount"], item["droppedEventsCount"], item["droppedLinksCount"]) == (1, 1, 3)
    (message,) = _proto_spans(ProtobufEncoder().encode(exporter.get_finished_spans()))
    assert (message.dropped_attributes_count, message.dropped_events_count, message.dropped_links_count) == (1, 1, 3)


def test_events_with_unhashable_attributes(tracer: Tracer, exporter: InMemoryExporter) -> None:
    span = tracer.start_span("s")
    span.end()
    span.events = [Event("raw", 123, {"ids": [1, 2]})]  # type: ignore[dict-item]  # built by hand, not cleaned
    (message,) = _proto_spans(ProtobufEncoder().encode([span]))
    assert attributes(message.events[0].attributes) == {"ids": (1, 2)} and message.events[0].time_unix_nano == 123
    (item,) = _json_spans(JsonEncoder().encode([span]))
    assert json_attributes(item["events"][0]["attributes"]) == {"ids": (1, 2)}


def test_many_resources(exporter: InMemoryExporter) -> None:
    tracers = [Tracer(service_name=f"svc-{i}", exporter=exporter, export_mode="simple") for i in range(70)]
    for tracer in tracers:
        tracer.start_span("s").end()
    spans = exporter.get_finished_spans()
    for encoder, decode in ((ProtobufEncoder(), _proto_spans), (JsonEncoder(), _json_spans)):
        for _ in range(2):
            assert len(decode(encoder.encode(spans))) == 70  # type: ignore[attr-defined]
        assert len(encoder._resources) <= 64  # type: ignore[attr-defined]


def test_fragment_cache_limits() -> None:
    cache: FragmentCache[str] = FragmentCache(max_values_per_key=100, max_entries=10, max_fragment_size=8)

    def make(key: str, value: object) -> str:
        return f"{key}={value}"

    for i in range(25):
        assert cache.add(f"k{i}", (f"k{i}", i), make, i) == f"k{i}={i}"
        assert len(cache) <= 10
    assert cache.add("long", ("long", 1), lambda k, v: "x" * 9, 1) == "x" * 9
    assert ("long", 1) not in cache.entries  # too big to keep
    assert cache.lookup({"a": [1]}) == [None]  # unhashable


def test_empty_batch_encodes_to_nothing() -> None:
    assert ProtobufEncoder().encode([]) == b"" and JsonEncoder().encode([]) == b""


def test_invalid_context_has_no_ids(tracer: Tracer) -> None:
    span = tracer.start_span("s")
    span.end()
    broken = Span("broken", SpanContext(0, 0), SpanKind.INTERNAL, None, tracer, {})
    with use_span(broken):
        assert trace_context() is None


def test_response_parsers() -> None:
    assert parse_response(b"") == (0, "")
    assert parse_retry_after("   ") is None
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 -0000") == 0  # a past date: no wait


def test_counters_repr_and_encode_failure(
    receiver: Receiver, make_exporter: Callable[..., OTLPExporter], tracer: Tracer, exporter: InMemoryExporter
) -> None:
    otlp = make_exporter(headers={"content-type": "text/plain"})  # cannot override what the protocol sets
    assert receiver.url in repr(otlp) and otlp.endpoint == receiver.url
    tracer.start_span("s").end()
    spans = exporter.get_finished_spans()
    assert otlp.export(spans) is ExportResult.SUCCESS
    assert receiver.received[0].headers["content-type"] == "application/x-protobuf"

    def broken(spans: object) -> tuple[bytes, int]:
        raise RuntimeError("boom")

    otlp._encoder.encode_counted = broken  # type: ignore[method-assign,assignment]
    assert otlp.export(spans) is ExportResult.FAILURE
    assert otlp.stats() == {
        "spans_sent": 1,
        "spans_rejected": 0,
        "spans_dropped": 1,
        "export_failures": 1,
        "retries": 0,
    }
    assert otlp.force_flush() is True


def test_unreadable_success_body_still_counts_as_sent(
    receiver: Receiver,
    make_exporter: Callable[..., OTLPExporter],
    tracer: Tracer,
    exporter: InMemoryExporter,
    caplog: pytest.LogCaptureFixture,
) -> None:
    receiver.reply(Reply(body=b"\xff\xff\xff not protobuf"), Reply(body=b"[1, 2]"), Reply(body=b"{broken"))
    tracer.start_span("s").end()
    spans = exporter.get_finished_spans()
    assert make_exporter().export(spans) is ExportResult.SUCCESS
    json_exporter = make_exporter(protocol="http/json")
    assert json_exporter.export(spans) is ExportResult.SUCCESS  # a JSON array: no partial success in it
    assert json_exporter.export(spans) is ExportResult.SUCCESS
    assert json_exporter.spans_sent == 2
    assert "could not read the response" in caplog.text


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command to make a certificate")
def test_https_with_a_certificate_from_the_environment(
    tmp_path: Path, tracer: Tracer, exporter: InMemoryExporter
) -> None:
    cert, key = make_certificate(tmp_path)
    server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_context.load_cert_chain(cert, key)
    receiver = Receiver(server_context)
    tracer.start_span("secure").end()
    trusted = OTLPExporter(
        environ={"OTEL_EXPORTER_OTLP_ENDPOINT": receiver.base_url, "OTEL_EXPORTER_OTLP_CERTIFICATE": str(cert)}
    )
    untrusted = OTLPExporter(receiver.url, environ={}, max_retry_time=0)
    try:
        assert trusted.export(exporter.get_finished_spans()) is ExportResult.SUCCESS
        assert receiver.received[0].proto().resource_spans[0].scope_spans[0].spans[0].name == "secure"
        assert untrusted.export(exporter.get_finished_spans()) is ExportResult.FAILURE  # self-signed: refused
    finally:
        trusted.shutdown()
        untrusted.shutdown()
        receiver.close()
    assert build_ssl_context(None, None, None) is None
    assert isinstance(build_ssl_context(str(cert), None, None), ssl.SSLContext)
