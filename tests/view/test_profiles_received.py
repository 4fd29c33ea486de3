"""c13's profile exporter to a real ``c13 view``, over OTLP/HTTP and OTLP/gRPC: what was profiled comes back."""

from __future__ import annotations

import time

import pytest

from c13_middleware import Profiler, ProfileReport
from c13_middleware.export.otlp.profile_exporter import OTLPProfileExporter
from c13_middleware.trace._resource import build_resource
from tests.view.conftest import View

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
