"""The browser tests' world: a real ``c13 view`` process, a traced Starlette service (tests/view/ui_app.py) that
exports to it through the environment only, and Debian's Chromium driven by Playwright."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from c13_middleware import mint_token
from tests.servers import free_port
from tests.view.conftest import View, start_view, stop_view
from tests.view.ui_app import DEPLOY_AFTER

ROOT = Path(__file__).resolve().parents[3]
SECRET = "a-profile-secret-for-the-ui-tests"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]  # fmt: skip
HOSTILE_PATH = '/"><img src=x onerror="window.__pwned=3">'


def _request(url: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str]]:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers or {}), timeout=10) as response:
            response.read()
            return response.status, {k.lower(): v for k, v in response.headers.items()}
    except urllib.error.HTTPError as error:
        error.read()
        return error.code, {k.lower(): v for k, v in error.headers.items()}


def _wait_for_service(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert process.poll() is None, "uvicorn exited"
        try:
            _request(url + "/missing")
            return
        except OSError:
            time.sleep(0.1)
    raise AssertionError("uvicorn did not start")


def send_traffic(view: View, tmp_path: Path) -> dict[str, Any]:
    """Runs the service against the viewer: 6 profiled requests before the "deploy" and 6 after (their time windows
    are returned), a failing one, a hostile span and a hostile URL; waits until the viewer holds it all."""
    port = free_port()
    env = {**os.environ, "OTEL_EXPORTER_OTLP_ENDPOINT": view.otlp_http, "OTEL_SERVICE_NAME": "ui-shop",
           "C13_PROFILE_SECRET": SECRET, "PYTHONPATH": str(ROOT), "OTEL_BSP_SCHEDULE_DELAY": "100"}  # fmt: skip
    env.pop("OTEL_TRACES_EXPORTER", None)
    service = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "tests.view.ui_app:app", "--host", "127.0.0.1", "--port", str(port),
         "--log-level", "critical"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    profile_ids = []
    counts: dict[str, int] = {}
    windows: list[tuple[int, int]] = []
    try:
        _wait_for_service(url, service)
        for _ in range(2):  # before and after the "deploy" (tests/view/ui_app.py)
            start_us = time.time_ns() // 1000
            for _ in range(DEPLOY_AFTER):
                headers = {"x-c13-profile": "cpu", "x-c13-profile-token": mint_token(SECRET, "GET", "/work", 60)}
                status, answer = _request(url + "/work", headers)
                assert status == 200
                profile_ids.append(answer["x-c13-profile-id"])
            windows.append((start_us, time.time_ns() // 1000))
        assert _request(url + "/fail")[0] == 500
        assert _request(url + "/hostile")[0] == 200
        assert _request(url + urllib.parse.quote(HOSTILE_PATH, safe="/"))[0] == 404
        deadline = time.monotonic() + 30  # profiles leave in batches every second; wait before stopping the service
        while time.monotonic() < deadline:
            counts = view.json("/api/c13/status")["counts"]
            if counts["profiles"] >= len(profile_ids) and counts["traces"] >= 15:
                break
            time.sleep(0.1)
    finally:
        service.terminate()
        service.wait(20)
    return {"profile_ids": profile_ids, "counts": counts, "windows": windows}


@pytest.fixture(scope="module")
def traced_view(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[View, dict[str, Any]]]:
    tmp_path = tmp_path_factory.mktemp("ui")
    view = start_view(tmp_path)
    try:
        yield view, send_traffic(view, tmp_path)
    finally:
        stop_view(view)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    dialogs: list[str] = []
    errors: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.dialogs, page.js_errors = dialogs, errors
    yield page
    context.close()
