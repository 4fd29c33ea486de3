"""Every renderer weights by sampled time by default (counts on request); pprof names the service and the threads."""

from __future__ import annotations

import json
import random
import time
import xml.etree.ElementTree as ET

import pytest
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route
from starlette.testclient import TestClient

from c13_middleware import get_profile, mint_token
from c13_middleware.profiling import (
    Profiler,
    ProfileReport,
    render_collapsed,
    render_pprof,
    render_speedscope,
    render_svg,
)
from tests.conftest import traced_starlette
from tests.profiling.pprof_reader import decode

SECRET = "s3cret-key-for-tests-only"
NUMBERS = [random.random() for _ in range(200_000)]


def sort_in_c(rounds: int) -> None:
    for _ in range(rounds):
        sorted(NUMBERS)  # one C call holding the GIL for tens of ms: the sampler's next tick comes late


def loop_in_python(seconds: float) -> None:
    end = time.perf_counter() + seconds  # wall time, as the sorting is measured
    while time.perf_counter() < end:
        pass


@pytest.fixture(scope="module")
def report() -> ProfileReport:
    with Profiler(store=None) as profiler:
        started = time.perf_counter()
        sort_in_c(6)
        sorting = time.perf_counter() - started
        loop_in_python(sorting)  # about as long as the sorting took
    return profiler.generate_report()


def _collapsed_share(text: str, function: str) -> float:
    total = mine = 0
    for line in text.splitlines():
        stack, value = line.rsplit(" ", 1)
        total += int(value)
        if f";{function} (" in stack:
            mine += int(value)
    return mine / total


def test_collapsed_proportions_match_pprof_within_5_points(report: ProfileReport) -> None:
    profile = decode(render_pprof(report))
    assert profile.default_type == "wall"
    assert profile.sample_types == [("samples", "count"), ("wall", "nanoseconds"), ("cpu", "nanoseconds")]
    wall = sum(values[1] for _stack, values, _labels in profile.samples)
    in_sort = sum(values[1] for stack, values, _labels in profile.samples if any(f[0] == "sort_in_c" for f in stack))
    pprof_share = in_sort / wall
    # About half the wall time, as measured; less under coverage, whose tracing slows the Python part only.
    assert 0.05 <= pprof_share <= 0.75
    assert abs(_collapsed_share(render_collapsed(report), "sort_in_c") - pprof_share) <= 0.05
    # The ticks are uneven (the C sort holds the GIL past them): counting samples understates it, which is why
    # counts are not the default.
    counted = _collapsed_share(render_collapsed(report, weight="samples"), "sort_in_c")
    assert counted < pprof_share * 0.75


def test_speedscope_and_svg_weigh_by_time_unless_asked(report: ProfileReport) -> None:
    document = json.loads(render_speedscope(report))
    [profile] = document["profiles"]
    assert profile["unit"] == "milliseconds"
    assert profile["endValue"] == pytest.approx(sum(s.weight_s for s in report.samples) * 1000, rel=1e-3)
    counted = json.loads(render_speedscope(report, weight="samples"))["profiles"][0]
    assert counted["unit"] == "none" and counted["weights"] == [1] * len(report.samples)

    def width(svg: str, function: str) -> float:
        for group in ET.fromstring(svg).iter("{http://www.w3.org/2000/svg}g"):
            title = group.find("{http://www.w3.org/2000/svg}title")
            if title is not None and (title.text or "").startswith(function + " "):
                rect = group.find("{http://www.w3.org/2000/svg}rect")
                assert rect is not None
                return float(rect.get("width", "0"))
        raise AssertionError(function)

    by_time, by_count = render_svg(report), render_svg(report, weight="samples")
    assert width(by_time, "sort_in_c") > width(by_count, "sort_in_c") * 1.5
    with pytest.raises(ValueError):
        render_svg(report, weight="bytes")


def test_pprof_mapping_names_the_service_and_samples_name_their_thread() -> None:
    async def handler(request: Request) -> Response:
        loop_in_python(0.03)
        return PlainTextResponse("ok")

    app = traced_starlette([Route("/x", handler)], profile_secret=SECRET, service_name="checkout")
    headers = {"x-c13-profile": "cpu", "x-c13-profile-token": mint_token(SECRET, "GET", "/x", 60)}
    with TestClient(app) as client:
        response = client.get("/x", headers=headers)
    report = get_profile(response.headers["x-c13-profile-id"])
    assert report is not None and report.service == "checkout"
    profile = decode(render_pprof(report))
    [mapping] = profile.mappings
    assert profile.strings[mapping[5][0]] == "checkout" and mapping[1] == [1]
    for _stack, _values, labels in profile.samples:
        assert labels["thread_name"] == report.thread_names[int(labels["thread_id"])]
    # TestClient runs the app on anyio's portal thread, which has a name: it is shown rather than the id.
    assert all(not name.isdigit() for name in report.thread_names.values()), report.thread_names
    files = {file for _name, file, _line in profile.functions.values()}
    assert "starlette/routing.py" in files and "tests/profiling/test_profiling_weights.py" in files
