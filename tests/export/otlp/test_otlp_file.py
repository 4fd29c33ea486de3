from __future__ import annotations

import io
import json
from pathlib import Path

from google.protobuf import json_format
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from c13_middleware import OTLPFileExporter, SpanKind, Tracer


def test_each_batch_is_one_otlp_json_line(tmp_path: Path) -> None:
    path = tmp_path / "traces.jsonl"
    tracer = Tracer(service_name="file-test", exporter=OTLPFileExporter(path), export_mode="simple")
    with tracer.start_as_current_span("parent", kind=SpanKind.SERVER) as parent:
        tracer.start_span("child", attributes={"n": 3}).end()
    tracer.shutdown()
    lines = path.read_text().splitlines()
    assert len(lines) == 2
    requests = [json.loads(line) for line in lines]
    child = requests[0]["resourceSpans"][0]["scopeSpans"][0]["spans"][0]
    assert child["name"] == "child"
    assert child["parentSpanId"] == f"{parent.context.span_id:016x}"
    assert child["traceId"] == f"{parent.context.trace_id:032x}"
    resource = requests[1]["resourceSpans"][0]["resource"]["attributes"]
    assert {"key": "service.name", "value": {"stringValue": "file-test"}} in resource
    # the official schema accepts it once ids are in protobuf's base64 form (OTLP JSON uses hex)
    message = json_format.Parse(json.dumps(_hex_ids_to_base64(requests[1])), ExportTraceServiceRequest())
    assert message.resource_spans[0].scope_spans[0].spans[0].kind == SpanKind.SERVER.value


def test_closed_file_refuses_and_stream_targets_work() -> None:
    stream = io.BytesIO()
    exporter = OTLPFileExporter(stream)
    tracer = Tracer(exporter=exporter, export_mode="simple")
    tracer.start_span("s").end()
    assert stream.getvalue().endswith(b"\n") and b'"name":"s"' in stream.getvalue()
    assert exporter.export([]).name == "SUCCESS"
    stream.close()
    span = tracer.start_span("late")
    assert exporter.export([span]).name == "FAILURE"
    span.end()


def _hex_ids_to_base64(value: object) -> object:
    import base64

    if isinstance(value, dict):
        return {
            k: base64.b64encode(bytes.fromhex(v)).decode()
            if k in ("traceId", "spanId", "parentSpanId")
            else _hex_ids_to_base64(v)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_hex_ids_to_base64(v) for v in value]
    return value
