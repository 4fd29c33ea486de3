"""The per-request profiling step the server runs (profiling/_server.py): what a profiled request's response and
report hold about its child spans, and a request that is served normally when the profiler itself fails."""

from __future__ import annotations

import logging
import time
from typing import Any

import pytest
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route
from starlette.testclient import TestClient

import c13_middleware.profiling as profiling
from c13_middleware import InMemoryExporter, SpanKind, current_span, get_profile, mint_token
from c13_middleware.profiling import _server as request_glue
from tests.conftest import traced_starlette

SECRET = "s3cret-key-for-request-profiler-tests"


def _headers(path: str) -> dict[str, str]:
    return {"x-c13-profile": "cpu", "x-c13-profile-token": mint_token(SECRET, "GET", path, 60)}


async def work(request: Request) -> Response:
    span = current_span()
    assert span is not None and span.tracer is not None
    with span.tracer.start_as_current_span("render"):
        time.sleep(0.01)
    with span.tracer.start_as_current_span("cache get", kind=SpanKind.CLIENT, attributes={"server.address": "cache"}):
        pass  # fast: in Server-Timing, not slow IO
    attributes = {"server.address": "db.internal", "server.port": 5432}
    with span.tracer.start_as_current_span("SELECT orders", kind=SpanKind.CLIENT, attributes=attributes):
        time.sleep(0.06)  # above the slow-IO threshold (50 ms)
    return PlainTextResponse("done")


async def stream(request: Request) -> Response:
    async def chunks() -> Any:
        for index in range(2):
            yield f"{index}\n"

    return StreamingResponse(chunks())


def _client(options: dict[str, Any], **extra: Any) -> TestClient:
    return TestClient(traced_starlette([Route("/work", work), Route("/stream", stream)], **options, **extra))


def test_child_spans_reach_server_timing_and_slow_calls_the_report(
    options: dict[str, Any], exporter: InMemoryExporter
) -> None:
    response = _client(options, profile_secret=SECRET).get("/work", headers=_headers("/work"))
    assert response.text == "done"
    timing = response.headers["server-timing"]
    assert (
        'desc="render"' in timing
        and 'desc="cache get cache"' in timing
        and 'desc="SELECT orders db.internal"' in timing
    )
    report = get_profile(response.headers["x-c13-profile-id"])
    assert report is not None
    assert ("SELECT orders", "db.internal:5432") in [(event.name, event.where) for event in report.slow_io]
    server = next(span for span in exporter.get_finished_spans() if span.kind is SpanKind.SERVER)
    assert server.attributes["c13.profile.id"] == report.profile_id


def test_a_sampled_streamed_response_reveals_no_profile_id(options: dict[str, Any], exporter: InMemoryExporter) -> None:
    response = _client(options, profile_sample_rate=1.0).get("/stream")  # profiled, but the caller has no token
    assert response.text == "0\n1\n"
    assert "x-c13-profile-id" not in response.headers and "server-timing" not in response.headers
    server = next(span for span in exporter.get_finished_spans() if span.kind is SpanKind.SERVER)
    assert get_profile(str(server.attributes["c13.profile.id"])) is not None  # kept, just not revealed


@pytest.mark.parametrize(
    ("part", "message", "stored"),
    [
        ("ProfilingPolicy", "the profiling trigger failed", False),
        ("ProfileSession", "could not start a request profile", False),
        ("record_io", "could not finish a request profile", False),  # before the report: the session must stop
        ("profile_response_headers", "could not finish a request profile", True),  # after it: the profile is kept
    ],
)
def test_a_failing_profiler_leaves_the_request_served(
    part: str, message: str, stored: bool, options: dict[str, Any], exporter: InMemoryExporter,
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    if part == "ProfilingPolicy":  # the policy is built with the middleware: break its decision instead

        def decide(*args: Any) -> Any:
            raise RuntimeError("trigger out of order")

        monkeypatch.setattr(profiling.ProfilingPolicy, "decide", decide)
    elif part == "record_io":

        def record_io(*args: Any, **kwargs: Any) -> None:
            raise RuntimeError("slow-IO bookkeeping out of order")

        monkeypatch.setattr(profiling.ProfileSession, "record_io", record_io)
    else:

        def broken(*args: Any, **kwargs: Any) -> Any:
            raise RuntimeError("profiler out of order")

        monkeypatch.setattr(request_glue, part, broken)  # where the server's profiling step looks it up
    with caplog.at_level(logging.WARNING, logger="c13_middleware"):
        response = _client(options, profile_secret=SECRET).get("/work", headers=_headers("/work"))
    assert response.status_code == 200 and response.text == "done"
    assert "x-c13-profile-id" not in response.headers and "server-timing" not in response.headers
    assert message in caplog.text
    server = next(span for span in exporter.get_finished_spans() if span.kind is SpanKind.SERVER)
    assert ("c13.profile.id" in server.attributes) is stored
