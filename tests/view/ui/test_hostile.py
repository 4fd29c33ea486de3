"""Span names, URLs and attributes come from untrusted requests: in the viewer they are text, never markup, and the
pages' Content-Security-Policy would stop an inline script even if one slipped through."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.view.conftest import View, start_view, stop_view
from tests.view.ui.conftest import HOSTILE_PATH
from tests.view.ui_app import HOSTILE_NAME, HOSTILE_VALUE


def test_hostile_span_name_attribute_and_url_are_shown_as_text(traced_view: tuple[View, dict[str, Any]],
                                                               page: Any) -> None:  # fmt: skip
    view, _ = traced_view
    page.goto(view.ui + "/search?service=ui-shop&route=/hostile")
    page.wait_for_selector("#results .trace-link")
    page.locator("#results .trace-link").click()
    row = page.locator("#waterfall .wf-row", has_text=HOSTILE_NAME)
    row.wait_for()
    row.click()
    page.wait_for_selector("#span-detail .span-title")
    assert page.locator("#span-detail .span-title").inner_text() == HOSTILE_NAME
    assert HOSTILE_VALUE in page.locator("#span-detail").inner_text()
    assert page.locator("script:not([src])").count() == 0 and page.locator("img").count() == 0
    # the 404 whose path is markup: its url.path attribute is shown verbatim
    page.goto(view.ui + "/search?service=ui-shop&operation=GET")
    page.wait_for_selector("#results .trace-link")
    page.locator("#results .trace-link").first.click()
    page.wait_for_selector("#span-detail .span-title")
    assert HOSTILE_PATH in page.locator("#span-detail").inner_text()
    assert page.locator("img").count() == 0
    assert page.evaluate("window.__pwned") is None
    assert page.dialogs == [] and page.js_errors == []


def test_pages_send_a_strict_content_security_policy(traced_view: tuple[View, dict[str, Any]], page: Any) -> None:
    view, _ = traced_view
    response = page.goto(view.ui + "/search")
    policy = response.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy and "default-src 'none'" in policy
    page.wait_for_selector("body[data-ready=search]")
    # an inline script injected into the page is refused by the policy
    page.evaluate("""() => { const s = document.createElement('script'); s.textContent = 'window.__pwned = 9';
                            document.body.append(s); }""")  # fmt: skip
    assert page.evaluate("window.__pwned") is None
    for path in ("/static/app.js", "/trace/00000000000000000000000000000001", "/compare"):
        status, headers, _ = view.get(path)
        assert status == 200 and headers["Content-Security-Policy"] == policy
    assert view.get("/static/../_pages.py")[0] == 404 and view.get("/static/missing.js")[0] == 404


def test_with_a_token_the_page_needs_it_once_then_keeps_it_in_an_httponly_cookie(
    tmp_path: Path, browser: Any, page: Any
) -> None:
    view = start_view(tmp_path, "--token", "s3cret-ui-token")
    try:
        assert page.goto(view.ui + "/search").status == 401
        assert page.goto(view.ui + "/search?token=wrong").status == 401
        page.goto(view.ui + "/search?token=s3cret-ui-token")
        page.wait_for_selector("body[data-ready=search]")
        assert "token" not in page.url  # removed from the address bar and history
        assert page.locator("#main .error").count() == 0  # the API answered the page's requests (cookie)
        (cookie,) = page.context.cookies()
        assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
        assert page.evaluate("document.cookie") == ""
        page.goto(view.ui + "/services")
        page.wait_for_selector("body[data-ready=services]")
        assert page.locator("#main .error").count() == 0
    finally:
        stop_view(view)
