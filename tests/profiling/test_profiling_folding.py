"""Library frames are folded by default in the text report and the SVG; top functions put application code first."""

from __future__ import annotations

import json
import time
import xml.etree.ElementTree as ET

import pytest
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route
from starlette.testclient import TestClient

from c13_middleware import get_profile, mint_token
from c13_middleware.profiling import ProfileReport, render_svg, render_text
from c13_middleware.profiling._lines import is_library
from tests.conftest import traced_starlette

SECRET = "s3cret-key-for-tests-only"
ROWS = [{"id": i, "name": f"row {i}", "tags": ["x", "y"]} for i in range(300)]


def render_rows(seconds: float) -> str:
    text = ""
    end = time.thread_time() + seconds
    while time.thread_time() < end:
        text = json.dumps(ROWS)
    return text


async def catalog(request: Request) -> Response:
    return PlainTextResponse(render_rows(0.08)[:10])


@pytest.fixture(scope="module")
def report() -> ProfileReport:
    app = traced_starlette([Route("/catalog", catalog)], profile_secret=SECRET)
    headers = {"x-c13-profile": "cpu", "x-c13-profile-token": mint_token(SECRET, "GET", "/catalog", 60)}
    with TestClient(app) as client:
        response = client.get("/catalog", headers=headers)
    found = get_profile(response.headers["x-c13-profile-id"])
    assert found is not None
    return found


def _table(text: str) -> list[str]:
    section = text.split("Top functions", 1)[1].split("\n\n", 1)[0]
    return [line for line in section.splitlines()[2:] if not line.startswith("(")]


def test_top_functions_put_application_code_first(report: ProfileReport) -> None:
    first = report.top_functions[0]
    assert first.name == "render_rows" and not is_library(first.file)
    assert first.app_self_s >= 0.8 * sum(f.app_self_s for f in report.functions)  # json's time charged to it
    rows = _table(render_text(report))
    assert rows[0].endswith(
        f"render_rows (tests/profiling/test_profiling_folding.py:{render_rows.__code__.co_firstlineno})"
    )
    assert not any("starlette/" in row or "c13_middleware/" in row for row in rows)  # folded
    assert "library functions folded" in render_text(report)
    everything = _table(render_text(report, show_library=True))
    assert any("starlette/routing.py" in row for row in everything)
    assert any("json/encoder.py" in row for row in everything)


def test_svg_folds_library_runs_unless_asked(report: ProfileReport) -> None:
    def titles(svg: str) -> list[str]:
        return [t.text or "" for t in ET.fromstring(svg).iter("{http://www.w3.org/2000/svg}title")]

    folded = titles(render_svg(report))
    assert any(t.startswith("catalog ") for t in folded) and any(t.startswith("render_rows ") for t in folded)
    runs = [t for t in folded if t.startswith("[")]
    assert any("library frames] c13_middleware, starlette" in t for t in runs), runs
    assert any("library frames] json" in t for t in runs), runs
    assert not any(t.startswith("Router.__call__ ") for t in folded)
    assert any(t.startswith("Router.__call__ ") for t in titles(render_svg(report, show_library=True)))
