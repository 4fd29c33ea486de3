"""A burst the writer cannot keep up with is answered 429 with Retry-After (gRPC: UNAVAILABLE), never waited on."""

from __future__ import annotations

import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

from c13_middleware.view import ViewApp, ViewOptions
from tests.view.otlp_requests import span_request


def _post(url: str, body: bytes) -> tuple[int, str | None]:
    request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/x-protobuf"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.headers.get("Retry-After")
    except urllib.error.HTTPError as error:
        return error.code, error.headers.get("Retry-After")


def test_a_full_queue_is_answered_429_with_retry_after(tmp_path: Path) -> None:
    options = ViewOptions(db=tmp_path / "v.db", otlp_http_port=0, otlp_grpc_port=None, ui_port=0,
                          max_pending_spans=3)  # fmt: skip
    app = ViewApp(options)
    gate = threading.Event()
    write = app.store._write

    def held(items: list[object]) -> None:
        gate.wait(10)
        write(items)  # type: ignore[arg-type]

    app.store._write = held  # type: ignore[method-assign]
    app.start()
    try:
        url = f"http://127.0.0.1:{app.ports['otlp_http']}/v1/traces"
        body = span_request("burst", [{}, {}]).SerializeToString()
        assert _post(url, body) == (200, None)  # the writer takes it and waits at the gate
        time.sleep(0.1)
        assert _post(url, body) == (200, None)  # queued
        started = time.perf_counter()
        assert _post(url, body) == (429, "1")  # over the bound: shed at once
        assert time.perf_counter() - started < 1.0
        assert (app.store.stats.requests_shed, app.store.stats.spans_shed) == (1, 2)
    finally:
        gate.set()
        app.stop()
