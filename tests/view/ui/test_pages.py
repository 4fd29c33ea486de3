"""The UI in Chromium, against a real ``c13 view`` that received real traces from a traced service: search, the
waterfall, a span's flame graph, the services page and the compare page."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from tests.view.conftest import View

SHOTS = Path(os.environ.get("C13_UI_SCREENSHOTS", "")) if os.environ.get("C13_UI_SCREENSHOTS") else None


def _shot(page: Any, name: str, tmp_path: Path) -> None:
    path = (SHOTS or tmp_path) / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    assert path.stat().st_size > 1000


def test_search_waterfall_span_flame_graph(traced_view: tuple[View, dict[str, Any]], page: Any, tmp_path: Path) -> None:
    view, _ = traced_view
    page.goto(view.ui + "/search")
    page.wait_for_selector("body[data-ready=search]")
    page.select_option("select[name=service]", "ui-shop")
    page.fill("input[name=route]", "/work")
    page.click("#search-form button[type=submit]")
    page.wait_for_selector("#results .trace-link")
    links = page.locator("#results .trace-link")
    assert links.count() == 12
    assert all("GET /work" in text for text in links.all_text_contents())
    _shot(page, "search", tmp_path)
    links.first.click()
    page.wait_for_selector("body[data-ready=trace]")
    assert "/trace/" in page.url
    rows = page.locator("#waterfall .wf-row[data-span-id]")
    assert rows.count() == 2
    assert page.locator("#waterfall .wf-bar.critical").count() == 2  # the child covers most of its parent
    # the profiled span is selected first; its flame graph shows the profiled function
    page.wait_for_selector("#span-flame .frame")
    assert page.locator("#span-flame .frame[data-name=render_page]").count() == 1
    whole = page.locator("#span-flame .frame").first.get_attribute("title")
    # select the child span: the flame graph is cut to its subtree (render_page; not the handler's sleep after it)
    page.locator("#waterfall .wf-row", has_text="render page").click()
    page.wait_for_selector("#span-detail .span-title:text-is('render page')")
    page.wait_for_selector("#span-flame .frame[data-name=_burn]")
    names = set(page.locator("#span-flame .frame").evaluate_all("els => els.map(e => e.dataset.name)"))
    assert "render_page" in names and "sleep" not in " ".join(names)
    assert page.locator("#span-flame .frame").first.get_attribute("title") != whole
    # zoom (click) and search
    page.locator("#span-flame .frame[data-name=_burn]").first.click()
    assert page.locator("#span-flame .frame.ancestor").count() >= 2
    page.fill("#span-flame .flame-search", "_burn")
    assert page.locator("#span-flame .frame.match").count() >= 1
    assert "matched" in page.locator("#span-flame .flame-status").inner_text()
    _shot(page, "trace", tmp_path)
    assert page.dialogs == [] and page.js_errors == []


def test_failing_request_is_marked_and_services_page(traced_view: tuple[View, dict[str, Any]], page: Any,
                                                     tmp_path: Path) -> None:  # fmt: skip
    view, _ = traced_view
    page.goto(view.ui + "/search?service=ui-shop&error=true")
    page.wait_for_selector("#results .trace-link")
    assert page.locator("#results .trace-link").all_text_contents() == ["ui-shop: GET /fail"]
    page.locator("#results .trace-link").click()
    page.wait_for_selector("#waterfall .wf-row.failed")
    assert page.locator("#span-detail").inner_text().count("error") >= 1
    page.goto(view.ui + "/services")
    page.wait_for_selector("#red-table")
    rows = {row[1]: row for row in page.locator("#red-table tbody tr").evaluate_all(
        "rows => rows.map(r => [...r.cells].map(c => c.innerText))")}  # fmt: skip
    assert rows["/work"][2] == "12" and rows["/work"][4] == "0%"
    assert rows["/fail"][2] == "1" and rows["/fail"][4] == "100.0%"
    assert page.locator("table.slowest tbody tr").count() >= 6
    _shot(page, "services", tmp_path)
    assert page.dialogs == [] and page.js_errors == []


def test_compare_page(traced_view: tuple[View, dict[str, Any]], page: Any, tmp_path: Path) -> None:
    view, _ = traced_view
    page.goto(view.ui + "/compare")
    page.wait_for_selector("body[data-ready=compare]")
    page.fill("input[name='a.service']", "ui-shop")
    page.fill("input[name='a.route']", "/work")
    page.fill("input[name='b.service']", "ui-shop")
    page.fill("input[name='b.route']", "/work")
    page.click("#compare-form button[type=submit]")
    page.wait_for_selector("#compare-results .flame .frame")
    summary = page.locator("#compare-results .summary").inner_text()
    assert "A: 12 profiles" in summary and "B: 12 profiles" in summary
    # the same profiles on both sides: nothing can differ significantly
    assert page.locator("#no-changes").count() == 1
    assert "permutation" in page.locator("#compare-results .method").inner_text()
    assert "a.route=%2Fwork" in page.url
    assert page.dialogs == [] and page.js_errors == []


def test_compare_names_the_regression_between_two_deploys(traced_view: tuple[View, dict[str, Any]], page: Any,
                                                          tmp_path: Path) -> None:  # fmt: skip
    view, traffic = traced_view
    (a_start, a_end), (b_start, b_end) = traffic["windows"]
    page.goto(f"{view.ui}/compare?a.service=ui-shop&a.route=/work&a.start={a_start}&a.end={a_end}"
              f"&b.service=ui-shop&b.route=/work&b.start={b_start}&b.end={b_end}")  # fmt: skip
    page.wait_for_selector("#changes tbody tr")
    summary = page.locator("#compare-results .summary").inner_text()
    assert "A: 6 profiles" in summary and "B: 6 profiles" in summary
    rows = page.locator("#changes tbody tr").evaluate_all("rows => rows.map(r => [...r.cells].map(c => c.innerText))")
    by_frame = {row[0].split(" ")[0]: row for row in rows}
    assert by_frame["compress_page"][1] == "new"  # the deploy's new function, named
    assert float(by_frame["compress_page"][6]) < 0.05  # its q-value
    assert page.locator("#compare-results .frame.new[data-name=compress_page]").count() == 1
    # the form shows the windows it compared (local time, to the second)
    assert page.locator("input[name='a.start']").input_value() != ""
    _shot(page, "compare", tmp_path)
    assert page.dialogs == [] and page.js_errors == []
