"""The SVG flame graph in a real browser (Playwright driving Debian's Chromium; scripts/ensure-test-tools installs it):
click to zoom, reset, search with highlight, hover detail, and no network request."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from c13_middleware.profiling import Profiler, ProfileReport, render_svg
from tests.profiling.profiling_helpers import burn_alpha, burn_beta

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
HIT = "rgb(230,0,230)"


def request_handler() -> None:
    burn_alpha(0.06)
    burn_beta(0.03)


@pytest.fixture(scope="module")
def report() -> ProfileReport:
    with Profiler(store=None) as profiler:
        request_handler()
    return profiler.generate_report()


@pytest.fixture(scope="module")
def page(report: ProfileReport, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    path: Path = tmp_path_factory.mktemp("svg") / "flame.svg"
    path.write_text(render_svg(report))
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = browser.new_page()
            requests: list[str] = []
            page.on("request", lambda request: requests.append(request.url))
            page.goto(path.as_uri())
            page.wait_for_function("window.c13FlameGraph !== undefined")
            assert requests == [path.as_uri()]  # one self-contained file: nothing else is fetched
            yield page
        finally:
            browser.close()


def _frame(page: Any, name: str) -> Any:
    return page.locator(f'g.f[data-n="{name}"]')


def _width(page: Any, name: str) -> float:
    return float(_frame(page, name).locator("rect").get_attribute("width"))


def test_click_zooms_and_reset_restores(page: Any, report: ProfileReport) -> None:
    before_alpha, before_beta = _width(page, "burn_alpha"), _width(page, "burn_beta")
    assert before_alpha > before_beta > 0
    _frame(page, "burn_alpha").locator("rect").click()
    assert page.evaluate("document.documentElement.getAttribute('data-zoomed')") == "burn_alpha"
    assert _width(page, "burn_alpha") == pytest.approx(1200 - 16, abs=0.5)  # the zoomed frame spans the width
    assert _frame(page, "burn_beta").is_hidden()  # a sibling is out of view
    parent = _frame(page, "request_handler")
    assert "parent" in (parent.get_attribute("class") or "") and parent.is_visible()
    assert _frame(page, "burn_alpha").locator("text").text_content() == "burn_alpha"
    page.locator("#reset").click()
    assert page.evaluate("document.documentElement.getAttribute('data-zoomed')") is None
    assert _frame(page, "burn_beta").is_visible()
    assert _width(page, "burn_alpha") == pytest.approx(before_alpha, abs=0.01)
    assert _width(page, "burn_beta") == pytest.approx(before_beta, abs=0.01)


def test_search_highlights_matches_and_shows_their_share(page: Any, report: ProfileReport) -> None:
    page.once("dialog", lambda dialog: dialog.accept("^burn_"))
    page.locator("#search").click()
    for name in ("burn_alpha", "burn_beta"):
        assert _frame(page, name).locator("rect").get_attribute("fill") == HIT
    assert _frame(page, "request_handler").locator("rect").get_attribute("fill") != HIT
    total = report.call_tree.total_s
    burned = sum(s.weight_s for s in report.samples if report.frames[s.stack[-1]].name.startswith("burn_"))
    shown = page.locator("#matched").text_content()
    assert shown.startswith("Matched: ")
    assert float(shown.removeprefix("Matched: ").rstrip("%")) == pytest.approx(100 * burned / total, abs=1.0)
    page.once("dialog", lambda dialog: dialog.accept(""))  # an empty search clears the highlight
    page.locator("#search").click()
    assert _frame(page, "burn_alpha").locator("rect").get_attribute("fill") != HIT
    assert page.locator("#matched").text_content() == ""


def test_hover_shows_the_frame_details(page: Any) -> None:
    _frame(page, "burn_beta").locator("rect").hover()
    details = page.locator("#details").text_content()
    assert details.startswith("burn_beta tests/profiling/profiling_helpers.py:") and " ms (" in details
