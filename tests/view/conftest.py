from __future__ import annotations

import json
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest


@dataclass
class View:
    """A real ``c13 view`` process on 127.0.0.1, on ports the OS chose."""

    process: subprocess.Popen[str]
    ui: str  # http://127.0.0.1:PORT
    otlp_http: str
    otlp_grpc: str  # 127.0.0.1:PORT
    db: Path
    token: str | None = None

    def get(self, path: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
        request = urllib.request.Request(self.ui + path, headers=headers or {})
        if self.token and "Authorization" not in (headers or {}):
            request.add_header("Authorization", f"Bearer {self.token}")
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, dict(response.headers), response.read()
        except urllib.error.HTTPError as error:
            return error.code, dict(error.headers), error.read()

    def json(self, path: str) -> Any:
        status, headers, body = self.get(path)
        assert status == 200, (status, body[:300])
        assert headers["Content-Type"].startswith("application/json")
        return json.loads(body)

    def post(self, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
        request = urllib.request.Request(self.otlp_http + path, data=body, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, dict(response.headers), response.read()
        except urllib.error.HTTPError as error:
            return error.code, dict(error.headers), error.read()

    def wait_for_spans(self, count: int, timeout: float = 10.0) -> dict[str, int]:
        deadline = time.monotonic() + timeout
        while True:
            counts: dict[str, int] = self.json("/api/c13/status")["counts"]
            if counts["spans"] >= count or time.monotonic() > deadline:
                return counts
            time.sleep(0.05)


def start_view(tmp_path: Path, *extra: str, env: dict[str, str] | None = None) -> View:
    db = tmp_path / "view.sqlite3"
    args = [sys.executable, "-m", "c13_middleware", "view", "--otlp-http-port", "0", "--otlp-grpc-port", "0",
            "--ui-port", "0", "--db", str(db), *extra]  # fmt: skip
    process = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    lines: list[str] = []
    assert process.stdout is not None
    deadline = time.monotonic() + 20
    while len(lines) < 5 and time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        lines.append(line)
    text = "".join(lines)
    ui = re.search(r"UI and API on (http://[\d.]+:\d+)/", text)
    http = re.search(r"OTLP/HTTP on (http://[\d.]+:\d+)", text)
    grpc = re.search(r"OTLP/gRPC on ([\d.]+:\d+)", text)
    if not (ui and http and grpc):
        process.kill()
        raise AssertionError(f"c13 view did not start: {text} {process.stderr.read() if process.stderr else ''}")
    token = extra[extra.index("--token") + 1] if "--token" in extra else None
    return View(process, ui.group(1), http.group(1), grpc.group(1), db, token)


def stop_view(view: View) -> None:
    view.process.terminate()
    try:
        view.process.wait(15)
    except subprocess.TimeoutExpired:
        view.process.kill()
        view.process.wait(5)
    for stream in (view.process.stdout, view.process.stderr):
        if stream is not None:
            stream.close()


@pytest.fixture
def view(tmp_path: Path) -> Iterator[View]:
    running = start_view(tmp_path)
    yield running
    stop_view(running)
