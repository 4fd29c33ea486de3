"""Every output format decodes: speedscope (against its published schema), collapsed stacks, pprof, SVG, text."""

from __future__ import annotations

import gzip
import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from c13_middleware.profiling import (
    Profiler,
    ProfileReport,
    render_collapsed,
    render_pprof,
    render_speedscope,
    render_svg,
    render_text,
)
from c13_middleware.profiling._hooks import SPAN_ACTIVATION_LISTENER
from c13_middleware.profiling.renderers import speedscope_document
from tests.profiling.pprof_reader import fields as _fields, packed as _packed
from tests.profiling.profiling_helpers import burn_alpha, burn_beta

SCHEMA = Path(__file__).with_name("data") / "speedscope-file-format-schema.json"
TRACE_ID = 0x0AF7651916CD43DD8448EB211C80319C
SPAN_ID = 0x00F067AA0BA902B7


def work() -> None:
    burn_alpha(0.04)
    listener = SPAN_ACTIVATION_LISTENER.get()
    assert listener is not None
    listener(0xBEEF, True)
    burn_beta(0.03)
    listener(0xBEEF, False)


@pytest.fixture(scope="module")
def report() -> ProfileReport:
    with Profiler(name="GET /orders", trace_id=TRACE_ID, span_id=SPAN_ID, store=None) as profiler:
        work()
    return profiler.generate_report()


def test_speedscope_validates_against_the_published_schema(report: ProfileReport) -> None:
    import jsonschema  # a dev dependency: the schema check always runs

    document = json.loads(render_speedscope(report))
    jsonschema.validate(document, json.loads(SCHEMA.read_text()))


def test_speedscope_structure(report: ProfileReport) -> None:
    document = json.loads(render_speedscope(report))
    assert document["$schema"] == "https://www.speedscope.app/file-format-schema.json"
    frames = document["shared"]["frames"]
    assert all(isinstance(f["name"], str) and isinstance(f["line"], int) for f in frames)
    [profile] = document["profiles"]  # one thread
    assert profile["type"] == "sampled" and profile["unit"] == "milliseconds"
    assert len(profile["samples"]) == len(profile["weights"]) == len(report.samples)
    assert all(0 <= index < len(frames) for stack in profile["samples"] for index in stack)
    assert profile["endValue"] == pytest.approx(sum(profile["weights"]), abs=1e-3)
    leaves = {frames[stack[-1]]["name"] for stack in profile["samples"]}
    assert {name.rsplit(":", 1)[0] for name in leaves} >= {"burn_alpha", "burn_beta"}
    for frame in frames:  # one frame per (function, executing line)
        assert frame["name"].endswith(f":{frame['line']}")
    assert speedscope_document(report)["exporter"] == "c13_middleware"


def test_collapsed_stacks(report: ProfileReport) -> None:
    text = render_collapsed(report, weight="samples")
    lines = text.splitlines()
    assert lines and text.endswith("\n")
    total = 0
    for line in lines:
        match = re.fullmatch(r"(\S.*) (\d+)", line)
        assert match, line
        frames = match.group(1).split(";")
        assert all(re.fullmatch(r".+ \(.+:\d+\)", f) for f in frames), frames
        total += int(match.group(2))
    assert total == len(report.samples)
    assert any(line.split(";")[-1].startswith("burn_alpha (") for line in lines)
    micro = render_collapsed(report)  # the default: sampled wall time in microseconds
    assert sum(int(line.rsplit(" ", 1)[1]) for line in micro.splitlines()) == pytest.approx(
        sum(s.weight_s for s in report.samples) * 1e6, rel=0.01
    )
    assert micro == render_collapsed(report, weight="us")
    with pytest.raises(ValueError):
        render_collapsed(report, weight="ms")


def test_pprof_decodes_with_span_and_trace_labels(report: ProfileReport) -> None:
    profile = _fields(gzip.decompress(render_pprof(report)))
    strings = [s.decode() for s in profile[6]]
    assert strings[0] == ""
    sample_types = [(strings[_fields(t)[1][0]], strings[_fields(t)[2][0]]) for t in profile[1]]
    assert sample_types == [("samples", "count"), ("wall", "nanoseconds"), ("cpu", "nanoseconds")]
    assert strings[profile[14][0]] == "wall"
    functions = {}
    for raw in profile[5]:
        f = _fields(raw)
        functions[f[1][0]] = (strings[f[2][0]], strings[f[4][0]], f.get(5, [0])[0])
    locations = {}
    for raw in profile[4]:
        loc = _fields(raw)
        line = _fields(loc[4][0])
        locations[loc[1][0]] = functions[line[1][0]]
    assert {name for name, _, _ in functions.values()} >= {"burn_alpha", "burn_beta", "work"}
    counted = 0
    spans: dict[str, set[str]] = {}
    for raw in profile[2]:
        sample = _fields(raw)
        location_ids = _packed(sample[1])
        values = _packed(sample[2])
        assert len(values) == 3 and values[0] >= 1 and values[1] > 0
        counted += values[0]
        labels = {strings[_fields(lb)[1][0]]: _fields(lb) for lb in sample[3]}
        assert strings[labels["trace_id"][2][0]] == f"{TRACE_ID:032x}"
        assert strings[labels["state"][2][0]] in ("cpu", "io", "wait")
        assert labels["thread_id"][3][0] > 0
        leaf = locations[location_ids[0]][0]  # leaf first
        spans.setdefault(leaf, set()).add(strings[labels["span_id"][2][0]])
    assert counted == len(report.samples)
    assert spans["burn_alpha"] == {f"{SPAN_ID:016x}"} and spans["burn_beta"] == {"000000000000beef"}
    assert profile[10][0] == int(report.wall_s * 1e9) and profile[12][0] == 1_000_000
    assert "c13 profile" in strings[_packed(profile[13])[0]]


def test_svg_is_self_contained_and_well_formed(report: ProfileReport) -> None:
    svg = render_svg(report)
    root = ET.fromstring(svg)
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    # One file, no network: the only script is inline, nothing is fetched (no href, src, import or url()).
    assert svg.count("<script") == 1 and '<script type="text/ecmascript"><![CDATA[' in svg
    assert "href" not in svg and "src=" not in svg and "@import" not in svg and "url(" not in svg
    assert "fetch(" not in svg and "XMLHttpRequest" not in svg
    ns = {"svg": "http://www.w3.org/2000/svg"}
    titles = [t.text or "" for t in root.iterfind(".//svg:title", ns)]
    assert any(t.startswith("all ") for t in titles)
    alpha = [t for t in titles if t.startswith("burn_alpha ")]
    assert alpha and "ms (" in alpha[0] and "samples" in alpha[0]
    widths = {
        (g.find("svg:title", ns).text or "").split(" ")[0]: float(g.find("svg:rect", ns).get("width", "0"))  # type: ignore[union-attr]
        for g in root.iterfind(".//svg:g", ns)
    }
    assert widths["all"] == pytest.approx(1200 - 16, abs=0.5)
    node = report.call_tree
    while node.frame.name != "work":
        node = node.children[0]
    for child in node.children:  # width = share of the sampled time
        expected = child.total_s / report.call_tree.total_s * (1200 - 16)
        assert widths[child.frame.name] == pytest.approx(expected, abs=0.01)


def test_svg_escapes_names() -> None:
    from dataclasses import replace

    from c13_middleware.profiling import FrameKey

    with Profiler(store=None) as profiler:
        burn_alpha(0.01)
    report = profiler.generate_report()
    odd = replace(report, name="<&\"'>", frames=tuple(FrameKey("<lambda>&co", f.file, f.line) for f in report.frames))
    assert ET.fromstring(render_svg(odd)) is not None


def test_text_report(report: ProfileReport) -> None:
    text = render_text(report)
    assert text.startswith(f"c13 profile {report.profile_id} (cpu) GET /orders\n")
    assert "Top functions by self time" in text and "burn_alpha (" in text
    assert re.search(r"wall [0-9.]+ ms \| cpu [0-9.]+ ms \| io wait [0-9.]+ ms \| other wait [0-9.]+ ms", text)
