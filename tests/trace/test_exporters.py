from __future__ import annotations

import io
import json
from pathlib import Path

from c13_middleware import ConsoleExporter, InMemoryExporter, JSONLinesExporter, SpanKind, Tracer


def test_in_memory_exporter_clear(tracer: Tracer, exporter: InMemoryExporter) -> None:
    tracer.start_span("s").end()
    assert len(exporter.get_finished_spans()) == 1
    exporter.clear()
    assert exporter.get_finished_spans() == []


def test_console_exporter_prints_a_tree() -> None:
    stream = io.StringIO()
    tracer = Tracer(exporter=ConsoleExporter(stream), export_mode="simple")
    memory = InMemoryExporter()
    collecting = Tracer(exporter=memory, export_mode="simple")
    with collecting.start_as_current_span("GET /items", kind=SpanKind.SERVER):
        with collecting.start_as_current_span("db query"):
            pass
    ConsoleExporter(stream).export(memory.get_finished_spans())
    lines = stream.getvalue().splitlines()
    assert lines[0].startswith("trace ")
    assert "GET /items (SERVER" in lines[1] and lines[1].startswith("  └─")
    assert "db query (INTERNAL" in lines[2] and lines[2].startswith("    └─")
    tracer.shutdown()


def test_jsonlines_exporter_writes_one_object_per_span(tmp_path: Path) -> None:
    path = tmp_path / "spans.jsonl"
    exporter = JSONLinesExporter(path)
    tracer = Tracer(exporter=exporter, export_mode="simple", service_name="jsonl")
    with tracer.start_as_current_span("parent", attributes={"k": "v"}) as parent:
        tracer.start_span("child").end()
    tracer.shutdown()
    records = [json.loads(line) for line in path.read_text().splitlines()]
    assert [r["name"] for r in records] == ["child", "parent"]
    child, parent_record = records
    assert child["parent_span_id"] == f"{parent.context.span_id:016x}"
    assert parent_record["trace_id"] == f"{parent.context.trace_id:032x}"
    assert parent_record["attributes"] == {"k": "v"}
    assert parent_record["resource"]["service.name"] == "jsonl"
    assert exporter.export([]).name == "FAILURE"  # closed after shutdown
