"""The UI's HTTP side in-process: which paths get the page shell, the static assets and their types, the security
headers on every answer, and the compare endpoint's answer on an empty store."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from c13_middleware.view import ViewApp, ViewOptions
from c13_middleware.view._pages import CSP, asset, serve_page


@pytest.fixture
def ui(tmp_path: Path) -> Iterator[str]:
    app = ViewApp(ViewOptions(db=tmp_path / "v.sqlite3", otlp_http_port=0, otlp_grpc_port=None, ui_port=0))
    app.pages = serve_page
    app.start()
    try:
        yield f"http://127.0.0.1:{app.ports['ui']}"
    finally:
        app.stop()


def _get(url: str, method: str = "GET") -> tuple[int, dict[str, str], bytes]:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, method=method), timeout=10) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


@pytest.mark.parametrize(
    "path", ["/", "/search", "/search/", "/services", "/compare", "/trace/4bf92f3577b34da6a3ce929d0e0e4736"]
)
def test_page_paths_get_the_shell_with_a_strict_policy(ui: str, path: str) -> None:
    status, headers, body = _get(ui + path + "?service=x")
    assert status == 200 and headers["Content-Type"] == "text/html; charset=utf-8"
    assert headers["Content-Security-Policy"] == CSP and headers["X-Frame-Options"] == "DENY"
    assert b'<script type="module" src="/static/app.js">' in body and b"<script>" not in body


@pytest.mark.parametrize("path", ["/trace/not-hex", "/nope", "/static/app.py", "/static/missing.js", "/static/.css"])
def test_other_paths_are_404_with_the_same_headers(ui: str, path: str) -> None:
    status, headers, _ = _get(ui + path)
    assert status == 404 and headers["Content-Security-Policy"] == CSP


def test_assets_are_served_from_the_package_with_their_types(ui: str) -> None:
    static = Path(__file__).resolve().parents[2] / "c13_middleware" / "view" / "static"
    names = sorted(path.name for path in static.iterdir() if path.suffix in (".js", ".css"))
    assert {"app.js", "dom.js", "flame.js", "style.css"} <= set(names)
    for name in names:
        status, headers, body = _get(f"{ui}/static/{name}")
        assert status == 200 and body == (static / name).read_bytes() == asset(name)
        assert headers["Content-Type"].startswith("text/javascript" if name.endswith(".js") else "text/css")
    # no page or asset loads anything from another origin
    for path in static.iterdir():
        assert "http://" not in path.read_text() and "https://" not in path.read_text(), path.name
    status, headers, body = _get(f"{ui}/static/app.js", "HEAD")
    assert status == 200 and body == b"" and int(headers["Content-Length"]) > 0


def test_compare_endpoint_on_an_empty_store(ui: str) -> None:
    status, _, body = _get(ui + "/api/c13/compare?a.route=/x&b.route=/y&b.limit=5")
    assert status == 200
    answer = json.loads(body)
    assert answer["a"] == {"profiles": 0} and answer["b"] == {"profiles": 0} and answer["changes"] == []
    assert "permutation" in answer["method"]
    assert _get(ui + "/api/c13/compare?a.limit=many")[0] == 400
