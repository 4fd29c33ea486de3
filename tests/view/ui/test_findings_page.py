"""The trace page's Findings section in Chromium: an N+1 loop stored in a real ``c13 view`` is listed with its
summary, its spans are marked and highlighted, and a hostile query text stays text."""

from __future__ import annotations

import os
from typing import Any

from tests.view.conftest import View
from tests.view.otlp_requests import n_plus_one_request

QUERY = 'SELECT name FROM customer WHERE id = ? -- <img src=x onerror="window.__pwned=1">'


def test_the_trace_page_lists_the_n_plus_one_finding(view: View, page: Any) -> None:
    trace_id = os.urandom(16)
    request = n_plus_one_request(trace_id, QUERY)
    assert view.post("/v1/traces", request.SerializeToString(), {"Content-Type": "application/x-protobuf"})[0] == 200
    view.wait_for_spans(7)
    page.goto(f"{view.ui}/trace/{trace_id.hex()}")
    page.wait_for_selector("body[data-ready=trace]")
    items = page.locator("#findings li.finding")
    assert items.count() == 1
    assert items.first.get_attribute("data-kind") == "n_plus_one_db"
    summary = items.first.locator(".finding-summary").inner_text()
    assert summary.startswith("N+1 queries: 6 sequential") and QUERY in summary  # the markup shown as text
    assert page.locator("#findings img").count() == 0
    assert page.locator("#waterfall .wf-row .badge.finding").count() == 6
    items.first.locator("a", has_text="6 spans").click()
    assert page.locator("#waterfall .wf-row.highlight").count() == 6
    page.wait_for_selector("#span-detail .span-title:text-is('SELECT shop_customer')")
    assert page.evaluate("window.__pwned") is None
    assert page.dialogs == [] and page.js_errors == []
