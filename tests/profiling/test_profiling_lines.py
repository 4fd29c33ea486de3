"""Every sample records the line each frame was executing; every output shows the hot line, not the def line."""

from __future__ import annotations

import inspect
import json
import sys
import time
import xml.etree.ElementTree as ET

import pytest

from c13_middleware.profiling import (
    Profiler,
    ProfileReport,
    render_collapsed,
    render_pprof,
    render_svg,
    render_text,
)
from c13_middleware.profiling._lines import display_path, is_library, line_of
from c13_middleware.profiling.renderers import speedscope_document
from tests.profiling.pprof_reader import decode

PAYLOAD = [{"id": i, "name": f"item {i}", "tags": ["a", "b", "c"], "price": i * 1.5} for i in range(400)]


def serialize(seconds: float) -> str:
    text = ""
    end = time.thread_time() + seconds
    while time.thread_time() < end:
        text = json.dumps(PAYLOAD)  # the hot line
    return text


DEF_LINE = serialize.__code__.co_firstlineno
HOT_LINE = DEF_LINE + 4
assert "json.dumps" in inspect.getsource(serialize).splitlines()[4]


@pytest.fixture(scope="module")
def report() -> ProfileReport:
    with Profiler(name="GET /export", store=None) as profiler:
        serialize(0.15)
    return profiler.generate_report()


def test_line_of_resolves_the_executing_line() -> None:
    frame = sys._getframe()
    assert line_of(frame.f_code, frame.f_lasti) == frame.f_lineno
    assert line_of(frame.f_code, -1) == frame.f_code.co_firstlineno


def test_pprof_puts_the_time_on_the_json_dumps_line(report: ProfileReport) -> None:
    profile = decode(render_pprof(report))
    [start] = {start for name, _file, start in profile.functions.values() if name == "serialize"}
    assert start == DEF_LINE  # the function keeps its start line
    wall = profile.line_values("serialize", 1)
    total = sum(wall.values())
    assert total > 0.1e9
    assert wall.get(HOT_LINE, 0) / total >= 0.8, wall
    assert wall.get(DEF_LINE, 0) == 0, wall


def test_report_functions_and_hot_lines(report: ProfileReport) -> None:
    [stats] = [f for f in report.functions if f.name == "serialize"]
    assert stats.line == DEF_LINE and stats.hot_line == HOT_LINE
    assert stats.hot_location == f"{__file__}:{HOT_LINE}"
    top = report.hot_lines[0]  # json's own frames are library code: their time is charged to the calling line
    assert (top.function, top.file, top.line) == ("serialize", __file__, HOT_LINE)
    assert top.self_s >= 0.8 * sum(h.self_s for h in report.hot_lines)
    assert all(s.lines and len(s.lines) == len(s.stack) for s in report.samples)


def test_text_collapsed_speedscope_and_svg_show_the_hot_line(report: ProfileReport) -> None:
    here = display_path(__file__)
    assert here == "tests/profiling/test_profiling_lines.py"  # relative to the sys.path entry it was imported from
    text = render_text(report)
    hot_section = text.split("Hot lines", 1)[1]
    assert f"{here}:{HOT_LINE}  serialize" in hot_section.splitlines()[2]
    collapsed = render_collapsed(report, weight="samples")
    on_hot = sum(
        int(line.rsplit(" ", 1)[1]) for line in collapsed.splitlines() if f"serialize ({here}:{HOT_LINE})" in line
    )
    assert on_hot >= 0.8 * len(report.samples)
    frames = speedscope_document(report)["shared"]["frames"]
    assert {"name": f"serialize:{HOT_LINE}", "file": here, "line": HOT_LINE} in frames
    titles = [t.text or "" for t in ET.fromstring(render_svg(report)).iter("{http://www.w3.org/2000/svg}title")]
    [tip] = [t for t in titles if t.startswith("serialize ")]
    assert f"lines {HOT_LINE}: " in tip


def test_library_and_display_paths() -> None:
    assert is_library(json.__file__) and is_library(pytest.__file__) and is_library("<frozen importlib._bootstrap>")
    assert is_library(inspect.getfile(Profiler))
    assert not is_library(__file__)
    assert display_path(pytest.__file__) == "pytest/__init__.py"
    assert display_path(json.__file__) == "json/__init__.py"
