"""The query API answers in Jaeger's JSON model, with Jaeger's query parameters (what Jaeger's UI and Grafana's
Jaeger data source send and read)."""

from __future__ import annotations

import json
import os
import time
from urllib.parse import quote

import pytest

from c13_middleware.view._jaeger import BadQuery, parse_duration
from tests.view.conftest import View
from tests.view.otlp_requests import span_request

PROTOBUF = {"Content-Type": "application/x-protobuf"}
MS = 1_000_000


@pytest.fixture
def stored(view: View) -> dict[str, str]:
    now = time.time_ns()
    root, child, linked = os.urandom(8), os.urandom(8), os.urandom(8)
    slow = span_request("checkout", [
        {"name": "POST /pay", "span_id": root, "start": now - 2 * 10**9, "duration": 400 * MS, "status": 2,
         "attributes": {"http.route": "/pay", "http.response.status_code": 502}},
        {"name": "charge", "span_id": child, "parent": root, "kind": 3, "start": now - 2 * 10**9 + MS},
    ])  # fmt: skip
    cart = {"http.route": "/cart", "http.response.status_code": 200}
    fast_span = {"name": "GET /cart", "start": now - 10**9, "duration": 3 * MS, "attributes": cart}
    fast = span_request("checkout", [fast_span])
    fast.resource_spans[0].scope_spans[0].spans[0].links.add(trace_id=os.urandom(16), span_id=linked)
    for request in (slow, fast):
        assert view.post("/v1/traces", request.SerializeToString(), PROTOBUF)[0] == 200
    view.wait_for_spans(3)
    return {
        "slow": slow.resource_spans[0].scope_spans[0].spans[0].trace_id.hex(),
        "fast": fast.resource_spans[0].scope_spans[0].spans[0].trace_id.hex(),
        "root": root.hex(),
        "linked": linked.hex(),
        "now_us": str(now // 1000),
    }


def _ids(view: View, query: str) -> list[str]:
    return [trace["traceID"] for trace in view.json(f"/api/traces?{query}")["data"]]


def test_services_and_operations(view: View, stored: dict[str, str]) -> None:
    services = view.json("/api/services")
    assert services == {"data": ["checkout"], "total": 1, "limit": 0, "offset": 0, "errors": None}
    assert view.json("/api/services/checkout/operations")["data"] == ["GET /cart", "POST /pay", "charge"]
    servers = view.json("/api/operations?service=checkout&spanKind=server")["data"]
    assert servers == [{"name": "GET /cart", "spanKind": "server"}, {"name": "POST /pay", "spanKind": "server"}]


def test_a_trace_in_jaegers_model(view: View, stored: dict[str, str]) -> None:
    answer = view.json(f"/api/traces/{stored['slow']}")
    assert answer["errors"] is None and answer["total"] == 1
    (trace,) = answer["data"]
    assert set(trace) == {"traceID", "spans", "processes", "warnings"}
    assert trace["traceID"] == stored["slow"]
    root = next(span for span in trace["spans"] if span["spanID"] == stored["root"])
    assert set(root) == {"traceID", "spanID", "operationName", "references", "startTime", "duration", "tags", "logs",
                         "processID", "warnings", "flags"}  # fmt: skip
    assert root["duration"] == 400_000 and isinstance(root["startTime"], int)  # microseconds
    assert root["references"] == []
    tags = {tag["key"]: (tag["type"], tag["value"]) for tag in root["tags"]}
    assert tags["error"] == ("bool", True)
    assert tags["otel.status_code"] == ("string", "ERROR")
    assert tags["span.kind"] == ("string", "server")
    assert tags["http.response.status_code"] == ("int64", 502)
    assert trace["processes"][root["processID"]]["serviceName"] == "checkout"
    child = next(span for span in trace["spans"] if span["spanID"] != stored["root"])
    assert child["references"] == [{"refType": "CHILD_OF", "traceID": stored["slow"], "spanID": stored["root"]}]
    (fast,) = view.json(f"/api/traces/{stored['fast']}")["data"]
    assert fast["spans"][0]["references"][0]["refType"] == "FOLLOWS_FROM"
    assert fast["spans"][0]["references"][0]["spanID"] == stored["linked"]


def test_search_with_jaegers_parameters(view: View, stored: dict[str, str]) -> None:
    slow, fast = stored["slow"], stored["fast"]
    assert _ids(view, "service=checkout") == [fast, slow]
    assert _ids(view, "service=checkout&operation=charge") == [slow]
    assert _ids(view, "service=checkout&minDuration=100ms") == [slow]
    assert _ids(view, "service=checkout&maxDuration=0.05s") == [fast, slow]  # charge (1 ms) is in the slow trace
    tags = quote(json.dumps({"http.response.status_code": "502"}))
    assert _ids(view, f"service=checkout&tags={tags}") == [slow]
    assert _ids(view, "service=checkout&tag=error:true") == [slow]
    start = int(stored["now_us"]) - 1_500_000
    assert _ids(view, f"service=checkout&start={start}&end={int(stored['now_us']) + 1}") == [fast]
    assert _ids(view, "service=checkout&limit=1") == [fast]


def test_dependencies_between_services(view: View) -> None:
    root = os.urandom(8)
    trace_id = os.urandom(16)
    caller = span_request("frontend", [{"name": "GET /", "span_id": root}], trace_id=trace_id)
    callee = span_request("backend", [{"name": "GET /api", "parent": root}], trace_id=trace_id)
    for request in (caller, callee):
        assert view.post("/v1/traces", request.SerializeToString(), PROTOBUF)[0] == 200
    view.wait_for_spans(2)
    links = view.json(f"/api/dependencies?endTs={time.time_ns() // 10**6 + 1000}&lookback=60000")["data"]
    assert links == [{"parent": "frontend", "child": "backend", "callCount": 1}]


def test_errors_in_jaegers_envelope(view: View, stored: dict[str, str]) -> None:
    status, _, body = view.get("/api/traces?service=checkout&minDuration=fast")
    assert status == 400
    answer = json.loads(body)
    assert answer["data"] is None and answer["errors"][0]["code"] == 400
    status, _, body = view.get("/api/traces/" + "ab" * 16)
    assert status == 404 and json.loads(body)["errors"][0]["msg"] == "trace not found"
    assert view.get("/api/traces/not-hex")[0] == 404


def test_c13_endpoints_for_the_ui(view: View, stored: dict[str, str]) -> None:
    search = view.json("/api/c13/search?service=checkout&route=/pay")
    (summary,) = search["traces"]
    assert summary["traceId"] == stored["slow"] and summary["spans"] == 2 and summary["errors"] == 1
    assert summary["rootName"] == "POST /pay"
    detail = view.json(f"/api/c13/traces/{stored['slow']}")
    assert {span["name"] for span in detail["spans"]} == {"POST /pay", "charge"}
    assert detail["profiles"] == []
    red = view.json("/api/c13/red?service=checkout")["rows"]
    assert {(row["route"], row["requests"], row["errors"]) for row in red} == {("/pay", 1, 1), ("/cart", 1, 0)}
    slowest = view.json("/api/c13/slowest?limit=1")["spans"]
    assert [span["name"] for span in slowest] == ["POST /pay"]


@pytest.mark.parametrize(("text", "ns"), [("1.5s", 1_500_000_000), ("200ms", 200 * MS), ("1h30m", 5400 * 10**9),
                                          ("750us", 750_000), ("10µs", 10_000), ("5ns", 5)])  # fmt: skip
def test_go_durations(text: str, ns: int) -> None:
    assert parse_duration(text) == ns


@pytest.mark.parametrize("text", ["", "5", "1x", "ms", "1s2"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(BadQuery):
        parse_duration(text)
