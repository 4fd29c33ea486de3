"""c13's profile exporter to a real ``c13 view``, over OTLP/HTTP and OTLP/gRPC: what was profiled comes back."""

from __future__ import annotations

import os
import time

import pytest

from c13_middleware import Profiler, ProfileReport
from c13_middleware.export.otlp.profile_exporter import OTLPProfileExporter
from c13_middleware.trace._resource import build_resource
from tests.view.conftest import View
from tests.view.otlp_requests import span_request

PROTOBUF = {"Content-Type": "application/x-protobuf"}
TRACE_ID = 0x0AF7651916CD43DD8448EB211C80319C
SPAN_ID = 0xB7AD6B7169203331


def _spin_then_sleep() -> None:
    end = time.perf_counter() + 0.03
    while time.perf_counter() < end:
        sum(range(200))
    time.sleep(0.02)


def _report() -> ProfileReport:
    with Profiler(trace_id=TRACE_ID, span_id=SPAN_ID, name="GET /spin") as profiler:
        _spin_then_sleep()
    return profiler.generate_report()


@pytest.mark.parametrize("protocol", ["http/protobuf", "grpc"])
def test_an_exported_profile_is_served_back(view: View, protocol: str) -> None:
    endpoint = view.otlp_http if protocol != "grpc" else "http://" + view.otlp_grpc
    exporter = OTLPProfileExporter(
        environ={"OTEL_EXPORTER_OTLP_ENDPOINT": endpoint, "OTEL_EXPORTER_OTLP_PROTOCOL": protocol},
        resource=build_resource("profiled", None, {}, {}),
    )
    report = _report()
    exporter.export(report)
    assert exporter.force_flush(10.0)
    exporter.shutdown()
    assert exporter.profiles_sent == 1
    deadline = time.monotonic() + 5  # received; committed by the viewer's writer thread right after
    while view.get(f"/api/c13/profiles/{report.profile_id}")[0] != 200 and time.monotonic() < deadline:
        time.sleep(0.02)
    document = view.json(f"/api/c13/profiles/{report.profile_id}")
    assert document["traceId"] == f"{TRACE_ID:032x}" and document["spanId"] == f"{SPAN_ID:016x}"
    assert document["service"] == "profiled" and document["name"] == "GET /spin"
    wall = sum(sample[1] for sample in document["samples"])
    assert wall == pytest.approx(sum(s.weight_s for s in report.samples) * 1e9, rel=0.01)
    states = {sample[3] for sample in document["samples"]}
    assert states == {int(s.state) for s in report.samples}
    frames = {frame[0] for frame in document["frames"]}
    assert "_spin_then_sleep" in frames
    flame = view.json(f"/api/c13/profiles/{report.profile_id}/flame")["root"]
    assert flame["value"] == wall


def test_profiles_listed_by_route_and_merged_into_one_flame_graph(view: View) -> None:
    exporter = OTLPProfileExporter(environ={"OTEL_EXPORTER_OTLP_ENDPOINT": view.otlp_http},
                                   resource=build_resource("profiled", None, {}, {}))  # fmt: skip
    reports = []
    for route in ("/a", "/b"):
        trace_id, span_id = int.from_bytes(os.urandom(16), "big"), int.from_bytes(os.urandom(8), "big")
        with Profiler(trace_id=trace_id, span_id=span_id, name=f"GET {route}") as profiler:
            _spin_then_sleep()
        reports.append(profiler.generate_report())
        span = {"name": f"GET {route}", "span_id": span_id.to_bytes(8, "big"), "attributes": {"http.route": route}}
        request = span_request("profiled", [span], trace_id=trace_id.to_bytes(16, "big"))
        assert view.post("/v1/traces", request.SerializeToString(), PROTOBUF)[0] == 200
        exporter.export(reports[-1])
    assert exporter.force_flush(10.0)
    exporter.shutdown()
    view.wait_for_spans(2)
    deadline = time.monotonic() + 5
    while len(view.json("/api/c13/profiles")["profiles"]) < 2 and time.monotonic() < deadline:
        time.sleep(0.02)
    (only_a,) = view.json("/api/c13/profiles?route=/a")["profiles"]
    assert only_a["profileId"] == reports[0].profile_id and only_a["route"] == "/a"
    merged = view.json("/api/c13/flame?service=profiled")
    assert merged["profiles"] == 2
    total = sum(sample.weight_s for report in reports for sample in report.samples) * 1e9
    assert merged["root"]["value"] == pytest.approx(total, rel=0.01)
    assert view.json("/api/c13/flame?route=/none")["profiles"] == 0
