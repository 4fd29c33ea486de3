"""A profile of a short request, with no samples to link it, still reaches its trace in ``c13 view``."""

from __future__ import annotations

import asyncio
import dataclasses
import time

from c13_middleware import Profiler, ProfileReport
from c13_middleware.export.otlp.profile_exporter import OTLPProfileExporter
from c13_middleware.trace._resource import build_resource
from tests.view.conftest import View
from tests.view.otlp_requests import span_request

PROTOBUF = {"Content-Type": "application/x-protobuf"}
TRACE_ID = 0x5B8EFFF798038103D269B633813FC60C
SPAN_ID = 0xEEE19B7EC3C1B174


async def _handler() -> None:
    await asyncio.sleep(0.001)  # an IO-bound request, far shorter than the sampling interval


def _report_without_samples() -> ProfileReport:
    with Profiler(trace_id=TRACE_ID, span_id=SPAN_ID, name="GET /items/{id}") as profiler:
        asyncio.run(_handler())
    report = profiler.generate_report()
    # Whether a 1 ms request catches one sample is timing; the case under test is the one with none.
    return dataclasses.replace(report, samples=())


def _export(view: View, report: ProfileReport) -> None:
    exporter = OTLPProfileExporter(
        environ={"OTEL_EXPORTER_OTLP_ENDPOINT": view.otlp_http, "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf"},
        resource=build_resource("shop", None, {}, {}),
    )
    exporter.export(report)
    assert exporter.force_flush(10.0)
    exporter.shutdown()
    assert exporter.profiles_sent == 1


def test_a_profile_with_no_samples_is_listed_under_its_trace(view: View) -> None:
    span = {
        "span_id": SPAN_ID.to_bytes(8, "big"),
        "name": "GET /items/{id}",
        "attributes": {"http.route": "/items/{id}"},
    }
    request = span_request("shop", [span], trace_id=TRACE_ID.to_bytes(16, "big"))
    assert view.post("/v1/traces", request.SerializeToString(), PROTOBUF)[0] == 200
    report = _report_without_samples()
    assert report.samples == ()
    _export(view, report)
    deadline = time.monotonic() + 5  # committed by the viewer's writer thread
    while view.get(f"/api/c13/profiles/{report.profile_id}")[0] != 200 and time.monotonic() < deadline:
        time.sleep(0.02)
    document = view.json(f"/api/c13/profiles/{report.profile_id}")
    assert document["samples"] == []
    assert document["traceId"] == f"{TRACE_ID:032x}" and document["spanId"] == f"{SPAN_ID:016x}"
    trace = view.json(f"/api/c13/traces/{TRACE_ID:032x}")
    assert [p["profileId"] for p in trace["profiles"]] == [report.profile_id]
    assert trace["profiles"][0]["spanId"] == f"{SPAN_ID:016x}"
    listed = view.json("/api/c13/profiles?service=shop&route=/items/%7Bid%7D")["profiles"]
    assert [p["profileId"] for p in listed] == [report.profile_id]
