"""Awaited time: a suspended request gets waiting samples at the user's await line, in every output and in slow IO."""

from __future__ import annotations

import asyncio
import inspect
import json
import re
import time
import xml.etree.ElementTree as ET
from typing import Any

import pytest
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route
from starlette.testclient import TestClient

from c13_middleware import get_profile, mint_token
from c13_middleware.profiling import (
    ProfileReport,
    ProfileSession,
    SampleState,
    render_collapsed,
    render_pprof,
    render_speedscope,
    render_svg,
    render_text,
)
from c13_middleware.profiling._lines import display_path
from tests.conftest import traced_starlette
from tests.profiling.pprof_reader import decode
from tests.profiling.profiling_helpers import run_async

SECRET = "s3cret-key-for-tests-only"


def spin(seconds: float) -> None:
    end = time.thread_time() + seconds
    while time.thread_time() < end:
        pass


async def handler(request: Request) -> Response:
    spin(0.02)
    await asyncio.sleep(0.08)  # the await line
    spin(0.02)
    return PlainTextResponse("ok")


AWAIT_LINE = handler.__code__.co_firstlineno + 2
assert "asyncio.sleep" in inspect.getsource(handler).splitlines()[2]
WAIT = "[await] asyncio.sleep"


@pytest.fixture(scope="module")
def report() -> ProfileReport:
    app = traced_starlette([Route("/slow", handler)], profile_secret=SECRET, export_mode="simple")
    headers = {"x-c13-profile": "cpu", "x-c13-profile-token": mint_token(SECRET, "GET", "/slow", 60)}
    with TestClient(app) as client:
        response = client.get("/slow", headers=headers)
    assert response.text == "ok"
    found = get_profile(response.headers["x-c13-profile-id"])
    assert found is not None
    return found


def _waiting(report: ProfileReport) -> list[Any]:
    return [s for s in report.samples if report.frames[s.stack[-1]].name == WAIT]


def test_waiting_samples_sit_under_the_handler_at_its_await_line(report: ProfileReport) -> None:
    waiting = _waiting(report)
    assert sum(s.weight_s for s in waiting) >= 0.06
    for sample in waiting:
        parent = report.frames[sample.stack[-2]]
        assert (parent.name, parent.file, sample.lines[-2]) == ("handler", __file__, AWAIT_LINE)
    # Wall time adds up: samples cover (nearly) the whole request.
    assert sum(s.weight_s for s in report.samples) >= 0.85 * report.wall_s


def test_slow_io_points_at_the_user_await_line(report: ProfileReport) -> None:
    [event] = [e for e in report.slow_io if e.source == "await"]
    assert event.name == "asyncio.sleep" and event.where == f"{__file__}:{AWAIT_LINE}"
    assert event.duration_s >= 0.06
    assert "c13_middleware" not in event.where
    assert f"asyncio.sleep  at {display_path(__file__)}:{AWAIT_LINE}" in render_text(report)


def test_every_format_shows_the_await(report: ProfileReport) -> None:
    profile = decode(render_pprof(report))
    waited = sum(
        values[1]
        for stack, values, _labels in profile.samples
        if stack[0][0] == WAIT and stack[1][0] == "handler" and stack[1][2] == AWAIT_LINE
    )
    assert waited >= 0.06e9
    assert sum(values[1] for _stack, values, _labels in profile.samples) >= 0.85 * report.wall_s * 1e9

    document = json.loads(render_speedscope(report))
    frames = document["shared"]["frames"]
    assert any(f["name"].startswith(WAIT) for f in frames)
    assert sum(document["profiles"][0]["weights"]) >= 0.85 * report.wall_s * 1000

    here = re.escape(display_path(__file__))
    pattern = re.compile(rf"handler \({here}:{AWAIT_LINE}\);\[await\] asyncio\.sleep \(.*\) (\d+)$")
    collapsed = [pattern.search(line) for line in render_collapsed(report, weight="us").splitlines()]
    assert sum(int(m.group(1)) for m in collapsed if m) >= 60_000

    titles = [t.text or "" for t in ET.fromstring(render_svg(report)).iter("{http://www.w3.org/2000/svg}title")]
    assert any(t.startswith(WAIT) for t in titles)


@run_async
async def test_a_request_waiting_for_a_busy_loop_gets_wait_samples() -> None:
    async def waiter() -> None:
        await asyncio.sleep(0.01)  # the loop is busy with `hog` when this is due

    async def hog() -> None:
        spin(0.08)

    session = ProfileSession(name="waiter")
    hogging = asyncio.get_running_loop().create_task(hog())
    await session.run_async(waiter())
    await hogging
    report = session.report()
    waiting = _waiting(report)
    line = waiter.__code__.co_firstlineno + 1
    assert all(report.frames[s.stack[-2]].name.endswith("waiter") and s.lines[-2] == line for s in waiting)
    busy = sum(s.weight_s for s in waiting if s.state is SampleState.WAIT)
    assert busy >= 0.04 and report.other_wait_s >= 0.04


@run_async
async def test_an_awaited_library_method_is_named_after_its_module_and_the_site_is_the_user_line() -> None:
    event = asyncio.Event()

    async def waiter() -> None:
        asyncio.get_running_loop().call_later(0.07, event.set)
        await event.wait()  # asyncio.locks.Event.wait: not a name the asyncio package exports

    session = ProfileSession()
    await session.run_async(waiter())
    report = session.report()
    [event_io] = [e for e in report.slow_io if e.source == "await"]
    assert event_io.name == "asyncio.locks.Event.wait"
    assert event_io.where == f"{__file__}:{waiter.__code__.co_firstlineno + 2}"
    assert any(report.frames[s.stack[-1]].name == "[await] asyncio.locks.Event.wait" for s in report.samples)
