"""The receiver takes what real OTLP exporters send, over HTTP and gRPC, and refuses the rest whole."""

from __future__ import annotations

import gzip
import json
import time

import pytest
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as SDKGrpcExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as SDKHttpExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.trace import SpanKind as SDKSpanKind

from c13_middleware import OTLPExporter, Tracer
from c13_middleware.trace._span import SpanKind
from tests.view.conftest import View
from tests.view.otlp_requests import span_request

PROTOBUF = {"Content-Type": "application/x-protobuf"}
JSON = {"Content-Type": "application/json"}


def _send_with_the_sdk(exporter: object, service: str) -> str:
    provider = TracerProvider(resource=Resource.create({"service.name": service}))
    provider.add_span_processor(SimpleSpanProcessor(exporter))  # type: ignore[arg-type]
    tracer = provider.get_tracer("sdk-test")
    with tracer.start_as_current_span("GET /items/{id}", kind=SDKSpanKind.SERVER,
                                      attributes={"http.route": "/items/{id}"}) as root:  # fmt: skip
        with tracer.start_as_current_span("SELECT items") as child:
            child.add_event("rows", {"count": 3})
    provider.shutdown()
    return f"{root.get_span_context().trace_id:032x}"


@pytest.mark.parametrize("transport", ["http", "grpc"])
def test_the_opentelemetry_sdk_exporters_are_received(view: View, transport: str) -> None:
    if transport == "http":
        exporter: object = SDKHttpExporter(endpoint=view.otlp_http + "/v1/traces")
    else:
        exporter = SDKGrpcExporter(endpoint=view.otlp_grpc, insecure=True)
    trace_id = _send_with_the_sdk(exporter, f"sdk-{transport}")
    view.wait_for_spans(2)
    (trace,) = view.json(f"/api/traces/{trace_id}")["data"]
    by_name = {span["operationName"]: span for span in trace["spans"]}
    assert set(by_name) == {"GET /items/{id}", "SELECT items"}
    child = by_name["SELECT items"]
    assert child["references"] == [
        {"refType": "CHILD_OF", "traceID": trace_id, "spanID": by_name["GET /items/{id}"]["spanID"]}
    ]
    assert child["logs"][0]["fields"][0] == {"key": "event", "type": "string", "value": "rows"}
    assert trace["processes"][child["processID"]]["serviceName"] == f"sdk-{transport}"
    assert view.json("/api/services")["data"] == [f"sdk-{transport}"]


@pytest.mark.parametrize("protocol", ["http/protobuf", "http/json", "grpc"])
def test_c13s_own_exporter_is_received(view: View, protocol: str) -> None:
    endpoint = view.otlp_http + "/v1/traces" if protocol != "grpc" else "http://" + view.otlp_grpc
    exporter = OTLPExporter(endpoint=endpoint, protocol=protocol, environ={})
    tracer = Tracer(service_name=f"c13-{protocol.replace('/', '-')}", exporter=exporter, export_mode="simple")
    span = tracer.start_span("GET /pay", kind=SpanKind.SERVER, attributes={"http.route": "/pay", "n": 7})
    span.end()
    tracer.shutdown()
    assert exporter.spans_sent == 1
    view.wait_for_spans(1)
    (trace,) = view.json(f"/api/traces/{span.context.trace_id:032x}")["data"]
    tags = {tag["key"]: tag for tag in trace["spans"][0]["tags"]}
    assert tags["n"] == {"key": "n", "type": "int64", "value": 7}
    assert tags["span.kind"]["value"] == "server"


def test_gzip_bodies_are_accepted(view: View) -> None:
    body = gzip.compress(span_request("zipped").SerializeToString())
    status, _, _ = view.post("/v1/traces", body, {**PROTOBUF, "Content-Encoding": "gzip"})
    assert status == 200
    assert view.wait_for_spans(1)["spans"] == 1


def test_otlp_json_with_hex_ids_is_accepted(view: View) -> None:
    start = time.time_ns()
    body = {"resourceSpans": [{"resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "js"}}]},
            "scopeSpans": [{"scope": {"name": "s"}, "spans": [{
                "traceId": "5b8efff798038103d269b633813fc60c", "spanId": "eee19b7ec3c1b174", "name": "json-span",
                "kind": 2, "startTimeUnixNano": str(start), "endTimeUnixNano": str(start + 10**6),
                "attributes": [{"key": "big", "value": {"intValue": "9007199254740993"}}]}]}]}]}  # fmt: skip
    status, headers, answer = view.post("/v1/traces", json.dumps(body).encode(), {"Content-Type": "application/json"})
    assert (status, answer) == (200, b"{}")
    view.wait_for_spans(1)
    (trace,) = view.json("/api/traces/5b8efff798038103d269b633813fc60c")["data"]
    assert trace["spans"][0]["tags"][0] == {"key": "big", "type": "int64", "value": 9007199254740993}


@pytest.mark.parametrize(
    ("body", "headers"),
    [
        (b"\xff\xff\xff garbage", PROTOBUF),
        (b"{not json", JSON),
        (
            b'{"resourceSpans": [{"scopeSpans": [{"spans": [{"traceId": "zz"}]}]}]}',
            {"Content-Type": "application/json"},
        ),
    ],
)
def test_malformed_requests_are_400(view: View, body: bytes, headers: dict[str, str]) -> None:
    status, _, _ = view.post("/v1/traces", body, headers)
    assert status == 400


def test_a_request_with_one_bad_span_stores_none_of_it(view: View) -> None:
    request = span_request("half", [{"name": "good"}, {"name": "bad", "span_id": b"\0" * 8}])
    status, headers, body = view.post("/v1/traces", request.SerializeToString(), PROTOBUF)
    assert status == 400 and headers["Content-Type"] == "application/x-protobuf"
    from google.rpc.status_pb2 import Status

    assert "span_id" in Status.FromString(body).message
    status, _, _ = view.post("/v1/traces", span_request("whole").SerializeToString(), PROTOBUF)
    assert status == 200
    assert view.wait_for_spans(1)["spans"] == 1
    assert view.json("/api/services")["data"] == ["whole"]


def test_oversized_and_gzip_bomb_bodies_are_413(view: View) -> None:
    bomb = gzip.compress(b"\0" * (40 * 1024 * 1024))  # 40 MiB of zeros in about 40 KiB
    assert len(bomb) < 100_000
    status, _, _ = view.post("/v1/traces", bomb, {**PROTOBUF, "Content-Encoding": "gzip"})
    assert status == 413
    status, _, _ = view.post("/v1/traces", b"\0" * (33 * 1024 * 1024), PROTOBUF)
    assert status == 413


def test_other_content_types_are_415(view: View) -> None:
    status, _, _ = view.post("/v1/traces", b"x", {"Content-Type": "text/plain"})
    assert status == 415


def test_a_span_sent_twice_is_stored_once(view: View) -> None:
    body = span_request("retried").SerializeToString()
    for _ in range(2):
        assert view.post("/v1/traces", body, PROTOBUF)[0] == 200
    deadline = time.monotonic() + 10
    while view.json("/api/c13/status")["store"]["spans_stored"] < 2 and time.monotonic() < deadline:
        time.sleep(0.02)  # both requests committed (the second one's span ignored)
    (trace,) = view.json("/api/traces?service=retried")["data"]
    assert len(trace["spans"]) == 1
