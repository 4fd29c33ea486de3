"""What c13 sends as OTLP/HTTP protobuf, decoded by a local receiver with the official messages, field by field."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable

import pytest

from c13_middleware import (
    ExportResult,
    InMemoryExporter,
    Link,
    SpanContext,
    SpanKind,
    SpanLimits,
    StatusCode,
    Tracer,
    TraceState,
)
from c13_middleware._version import __version__
from c13_middleware.export.otlp import OTLPExporter
from c13_middleware.export.otlp.encode_proto import ProtobufEncoder
from tests.export.otlp.otlp_receiver import Receiver, any_value, attributes

HAS_IS_REMOTE = 0x100
IS_REMOTE = 0x200

REMOTE_PARENT = SpanContext(
    0x0AF7651916CD43DD8448EB211C80319C, 0xB7AD6B7169203331, 0x01, TraceState((("vendor", "opaque"), ("c13", "x"))), True
)
LINKED = SpanContext(0x11111111111111112222222222222222, 0x3333333333333333, 0x00, TraceState((("k", "v"),)), True)

ALL_TYPES = {
    "str": "GET",
    "bool": True,
    "int": 200,
    "negative": -42,
    "float": 0.25,
    "str_array": ("a", "b"),
    "int_array": (1, 2, 3),
    "float_array": (1.5, -2.0),
    "bool_array": (True, False),
    "empty_array": (),
}


@pytest.fixture
def app_tracer(exporter: InMemoryExporter) -> Tracer:
    return Tracer(
        service_name="checkout",
        service_version="2.1",
        resource_attributes={"deployment.environment": "test"},
        exporter=exporter,
        export_mode="simple",
    )


def test_spans_arrive_field_by_field(
    app_tracer: Tracer, exporter: InMemoryExporter, receiver: Receiver, make_exporter: Callable[..., OTLPExporter]
) -> None:
    with app_tracer.start_as_current_span(
        "GET /cart", kind=SpanKind.SERVER, parent=REMOTE_PARENT, attributes=ALL_TYPES
    ) as server:
        server.add_event("cache.miss", {"cache.key": "cart:1", "attempt": 2})
        with app_tracer.start_as_current_span("load", links=[Link(LINKED, {"link.kind": "follows"})]) as child:
            child.set_status(StatusCode.ERROR, "db down")
        client = app_tracer.start_span("POST /pay", kind=SpanKind.CLIENT)
        client.set_status(StatusCode.OK)
        client.end()
    spans = exporter.get_finished_spans()
    server, child, client = (next(s for s in spans if s.name == n) for n in ("GET /cart", "load", "POST /pay"))

    otlp = make_exporter()
    assert otlp.export(spans) is ExportResult.SUCCESS
    assert receiver.wait_for(1)
    request = receiver.received[0]
    assert request.path == "/v1/traces"
    assert request.headers["content-type"] == "application/x-protobuf"
    assert request.headers["user-agent"].startswith("c13-middleware/")

    decoded = request.proto()
    assert len(decoded.resource_spans) == 1
    resource_spans = decoded.resource_spans[0]
    resource = attributes(resource_spans.resource.attributes)
    assert resource["service.name"] == "checkout"
    assert resource["service.version"] == "2.1"
    assert resource["deployment.environment"] == "test"
    assert resource["telemetry.sdk.name"] == "c13_middleware"
    assert resource["telemetry.sdk.language"] == "python"
    assert resource["telemetry.sdk.version"] == __version__
    assert len(resource_spans.scope_spans) == 1
    scope_spans = resource_spans.scope_spans[0]
    assert scope_spans.scope.name == "c13_middleware"
    assert scope_spans.scope.version == __version__
    got = {s.name: s for s in scope_spans.spans}
    assert set(got) == {"GET /cart", "load", "POST /pay"}

    for span in spans:
        message = got[span.name]
        assert (
            message.trace_id == span.context.trace_id.to_bytes(16, "big") == REMOTE_PARENT.trace_id.to_bytes(16, "big")
        )
        assert message.span_id == span.context.span_id.to_bytes(8, "big")
        assert message.parent_span_id == span.parent.span_id.to_bytes(8, "big")  # type: ignore[union-attr]
        assert message.trace_state == "vendor=opaque,c13=x"
        assert message.flags & 0xFF == span.context.trace_flags
        assert message.flags & HAS_IS_REMOTE
        assert message.flags >> 10 == 0  # the 22 high bits stay zero
        assert message.start_time_unix_nano == span.start_time
        assert message.end_time_unix_nano == span.end_time
        assert message.dropped_attributes_count == message.dropped_events_count == message.dropped_links_count == 0

    # Parentage: the server span continues the remote caller; the others are its children, in process.
    assert got["GET /cart"].parent_span_id == REMOTE_PARENT.span_id.to_bytes(8, "big")
    assert got["GET /cart"].flags & IS_REMOTE
    assert got["load"].parent_span_id == got["GET /cart"].span_id
    assert not got["load"].flags & IS_REMOTE
    assert got["POST /pay"].parent_span_id == got["GET /cart"].span_id

    assert [got[n].kind for n in ("GET /cart", "load", "POST /pay")] == [2, 1, 3]  # SERVER, INTERNAL, CLIENT
    assert attributes(got["GET /cart"].attributes) == ALL_TYPES
    kinds = {kv.key: kv.value.WhichOneof("value") for kv in got["GET /cart"].attributes}
    assert kinds["bool"] == "bool_value" and kinds["int"] == "int_value" and kinds["float"] == "double_value"
    assert kinds["empty_array"] == "array_value"

    (event,) = got["GET /cart"].events
    assert event.name == "cache.miss"
    assert event.time_unix_nano == server.events[0].timestamp
    assert attributes(event.attributes) == {"cache.key": "cart:1", "attempt": 2}

    (link,) = got["load"].links
    assert link.trace_id == LINKED.trace_id.to_bytes(16, "big")
    assert link.span_id == LINKED.span_id.to_bytes(8, "big")
    assert link.trace_state == "k=v"
    assert link.flags == HAS_IS_REMOTE | IS_REMOTE  # the linked context's flags (0) and its remoteness
    assert attributes(link.attributes) == {"link.kind": "follows"}

    assert got["GET /cart"].status.code == 0 and not got["GET /cart"].HasField("status")
    assert (got["load"].status.code, got["load"].status.message) == (2, "db down")
    assert (got["POST /pay"].status.code, got["POST /pay"].status.message) == (1, "")
    assert otlp.spans_sent == 3 and otlp.export_failures == 0


def test_root_span_flags_and_no_parent(tracer: Tracer, exporter: InMemoryExporter) -> None:
    tracer.start_span("root", parent=None).end()
    (span,) = exporter.get_finished_spans()
    (message,) = _decode(ProtobufEncoder().encode([span]))
    assert message.parent_span_id == b""
    assert message.trace_state == ""
    assert message.flags == span.context.trace_flags | HAS_IS_REMOTE  # known: no remote parent
    assert span.context.trace_flags == 0x03  # sampled + random (W3C Level 2) in the low byte


def test_dropped_counts(exporter: InMemoryExporter) -> None:
    limited = Tracer(
        span_limits=SpanLimits(max_attributes=2, max_events=1, max_links=1), exporter=exporter, export_mode="simple"
    )
    span = limited.start_span("busy", attributes={"a": 1, "b": 2, "c": 3}, links=[Link(LINKED), Link(REMOTE_PARENT)])
    span.add_event("one")
    span.add_event("two")
    span.end()
    (finished,) = exporter.get_finished_spans()
    (message,) = _decode(ProtobufEncoder().encode([finished]))
    assert message.dropped_attributes_count == finished.dropped_attributes_count == 1
    assert message.dropped_events_count == finished.dropped_events_count == 1
    assert message.dropped_links_count == finished.dropped_links_count
    assert len(message.attributes) == 2 and len(message.events) == 1
    assert len(message.links) == len(finished.links)


def test_resources_and_scopes_are_grouped(exporter: InMemoryExporter) -> None:
    one = Tracer(service_name="one", exporter=exporter, export_mode="simple")
    two = Tracer(service_name="two", exporter=exporter, export_mode="simple")
    two.scope = "c13_middleware.integrations.flask"
    same_as_one = Tracer(service_name="one", exporter=exporter, export_mode="simple")  # equal resource, other object
    for tracer, name in ((one, "a"), (two, "b"), (one, "c"), (same_as_one, "d"), (two, "e")):
        tracer.start_span(name).end()
    request = _request(ProtobufEncoder().encode(exporter.get_finished_spans()))
    by_service = {attributes(rs.resource.attributes)["service.name"]: rs for rs in request.resource_spans}
    assert set(by_service) == {"one", "two"}
    assert [s.name for ss in by_service["one"].scope_spans for s in ss.spans] == ["a", "c", "d"]
    (flask_scope,) = by_service["two"].scope_spans
    assert flask_scope.scope.name == "c13_middleware.integrations.flask"
    assert flask_scope.scope.version == __version__
    assert [s.name for s in flask_scope.spans] == ["b", "e"]


def test_cached_fragments_never_change_a_value_or_its_type(tracer: Tracer, exporter: InMemoryExporter) -> None:
    """1 == 1.0 == True in Python: the attribute cache must still keep int, float and bool apart."""
    values = [1, True, 1.0, 0, False, 0.0, -0.0, "1", 2**63 - 1, 2**63, -(2**63) - 1, float("inf")]
    encoder = ProtobufEncoder()
    for round_ in range(3):  # the first round fills the cache, the next ones read it
        exporter.clear()
        for value in values:
            tracer.start_span("s", attributes={"k": value, "same": "x"}).end()
        messages = _decode(encoder.encode(exporter.get_finished_spans()))
        decoded = [
            (kv.value.WhichOneof("value"), any_value(kv.value))
            for m in messages
            for kv in m.attributes
            if kv.key == "k"
        ]
        assert decoded == [
            ("int_value", 1), ("bool_value", True), ("double_value", 1.0), ("int_value", 0), ("bool_value", False),
            ("double_value", 0.0), ("double_value", -0.0), ("string_value", "1"), ("int_value", 2**63 - 1),
            ("string_value", str(2**63)), ("string_value", str(-(2**63) - 1)), ("double_value", float("inf")),
        ], round_  # fmt: skip
        assert str(decoded[6][1]) == "-0.0"


def test_high_cardinality_values_are_exact_and_the_cache_stays_bounded(
    tracer: Tracer, exporter: InMemoryExporter
) -> None:
    encoder = ProtobufEncoder()
    for batch in range(5):
        exporter.clear()
        for i in range(300):
            tracer.start_span("GET", attributes={"url.path": f"/users/{batch}/{i}", "http.route": "/users/{id}"}).end()
        messages = _decode(encoder.encode(exporter.get_finished_spans()))
        assert [attributes(m.attributes) for m in messages] == [
            {"url.path": f"/users/{batch}/{i}", "http.route": "/users/{id}"} for i in range(300)
        ]
    assert len(encoder._attrs) <= encoder._attrs.max_values_per_key + 1
    assert "url.path" in encoder._attrs.uncached_keys


def test_repeated_and_unique_events_keep_order_and_times(tracer: Tracer, exporter: InMemoryExporter) -> None:
    encoder = ProtobufEncoder()
    for n in range(40):  # past the per-name cache limit for the unique ones
        span = tracer.start_span("s")
        span.add_event("retry", {"n": 1})
        span.add_event("exception", {"exception.message": f"boom {n}"})
        span.add_event("retry", {"n": 1}, timestamp=12345)
        span.end()
    for span, message in zip(
        exporter.get_finished_spans(), _decode(encoder.encode(exporter.get_finished_spans())), strict=True
    ):
        assert [(e.name, e.time_unix_nano, attributes(e.attributes)) for e in message.events] == [
            (e.name, e.timestamp, dict(e.attributes)) for e in span.events
        ]


def test_unencodable_span_is_dropped_alone(
    tracer: Tracer, exporter: InMemoryExporter, caplog: pytest.LogCaptureFixture
) -> None:
    tracer.start_span("fine").end()
    tracer.start_span("bad \ud800 name").end()  # a lone surrogate cannot be UTF-8
    tracer.start_span("also fine").end()
    messages = _decode(ProtobufEncoder().encode(exporter.get_finished_spans()))
    assert [m.name for m in messages] == ["fine", "also fine"]
    assert "could not be encoded" in caplog.text


def test_protobuf_is_imported_lazily_and_missing_package_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    code = (
        "import sys, c13_middleware.export.otlp; "
        "assert not [m for m in sys.modules if m.startswith('opentelemetry.proto')]"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
    monkeypatch.setitem(sys.modules, "opentelemetry.proto.collector.trace.v1", None)
    with pytest.raises(ImportError, match=r"pip install 'c13-middleware\[otlp\]'"):
        OTLPExporter("http://127.0.0.1:9/v1/traces", environ={})
    json_exporter = OTLPExporter("http://127.0.0.1:9/v1/traces", protocol="http/json", environ={})  # needs nothing
    json_exporter.shutdown()


def _request(body: bytes):  # type: ignore[no-untyped-def]
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

    return ExportTraceServiceRequest.FromString(body)


def _decode(body: bytes) -> list:  # type: ignore[type-arg]
    return [span for rs in _request(body).resource_spans for ss in rs.scope_spans for span in ss.spans]
