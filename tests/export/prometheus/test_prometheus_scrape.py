"""A real Prometheus server scrapes a c13-instrumented Starlette app; the values are read back with PromQL.

Needs the ``prometheus`` binary (``bash scripts/ensure-test-tools``, run by ``make test``): without it this test
fails rather than skips, so CI cannot silently stop checking the metrics against Prometheus.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client import CollectorRegistry
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from c13_middleware.export.prometheus import PrometheusMetrics, metrics_asgi_app
from c13_middleware.integrations.starlette import C13Middleware
from tests.servers import free_port, uvicorn_server

ROUTE = "/orders/{order_id}"
DEADLINE_S = 30


def prometheus_binary() -> str:
    found = shutil.which("prometheus") or ("/usr/bin/prometheus" if Path("/usr/bin/prometheus").exists() else None)
    if found is None:
        pytest.fail(
            "the prometheus binary is not installed: run `bash scripts/ensure-test-tools` (Debian/Ubuntu package "
            "'prometheus'); `make test` does this before pytest",
            pytrace=False,
        )
    return found


@pytest.fixture
def app_url(options: dict[str, Any]) -> Iterator[str]:
    registry = CollectorRegistry()

    async def order(request: Request) -> Response:
        return PlainTextResponse(f"order {request.path_params['order_id']}")

    app = Starlette(routes=[Route(ROUTE, order), Route("/metrics", metrics_asgi_app(registry))])
    app.add_middleware(C13Middleware, observers=[PrometheusMetrics(registry)], exclude_paths=["/metrics"], **options)
    with uvicorn_server(app) as url:
        yield url


class Prometheus:
    """A running Prometheus: its URL, process and log (quoted when an assertion fails)."""

    def __init__(self, url: str, process: subprocess.Popen[bytes], log_path: Path) -> None:
        self.url = url
        self.process = process
        self.log_path = log_path

    def log_tail(self) -> str:
        return self.log_path.read_text(errors="replace")[-3000:]

    def query(self, promql: str) -> float | None:
        """The first value of an instant query; None while Prometheus starts or when the result is empty."""
        if self.process.poll() is not None:
            raise AssertionError(f"prometheus exited with {self.process.returncode}:\n{self.log_tail()}")
        try:
            response = httpx.get(f"{self.url}/api/v1/query", params={"query": promql}, timeout=5)
        except httpx.TransportError:
            return None
        if response.status_code != 200:  # 503 "Service Unavailable" until its storage and rules are loaded
            return None
        body = response.json()
        if body.get("status") != "success" or not body["data"]["result"]:
            return None
        return float(body["data"]["result"][0]["value"][1])

    def wait_ready(self) -> None:
        deadline = time.monotonic() + DEADLINE_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"prometheus exited with {self.process.returncode}:\n{self.log_tail()}")
            try:
                if httpx.get(f"{self.url}/-/ready", timeout=5).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise AssertionError(f"Prometheus was not ready within {DEADLINE_S}s; its log:\n{self.log_tail()}")

    def wait_for(self, promql: str, expected: float) -> None:
        deadline = time.monotonic() + DEADLINE_S
        last: float | None = None
        while time.monotonic() < deadline:
            last = self.query(promql)
            if last == expected:
                return
            time.sleep(0.25)
        raise AssertionError(
            f"Prometheus did not report {promql} == {expected} within {DEADLINE_S}s (last: {last}); "
            f"its log:\n{self.log_tail()}"
        )


@pytest.fixture
def prometheus(app_url: str, tmp_path: Path) -> Iterator[Prometheus]:
    binary = prometheus_binary()
    target = app_url.removeprefix("http://")
    config = tmp_path / "prometheus.yml"
    config.write_text(
        "global:\n"
        "  scrape_interval: 1s\n"
        "  scrape_timeout: 1s\n"
        "scrape_configs:\n"
        "  - job_name: c13\n"
        "    metrics_path: /metrics\n"
        "    static_configs:\n"
        f"      - targets: ['{target}']\n"
    )
    port = free_port()
    log_path = tmp_path / "prometheus.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [
                binary,
                f"--config.file={config}",
                f"--storage.tsdb.path={tmp_path / 'data'}",
                f"--web.listen-address=127.0.0.1:{port}",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        server = Prometheus(f"http://127.0.0.1:{port}", process, log_path)
        server.wait_ready()
        yield server
    finally:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


def test_real_prometheus_scrapes_the_red_metrics(app_url: str, prometheus: Prometheus) -> None:
    with httpx.Client(base_url=app_url, timeout=10) as client:
        for order_id in range(7):
            assert client.get(f"/orders/{order_id}").status_code == 200

    selector = f'http_route="{ROUTE}",http_request_method="GET",http_response_status_code="200",job="c13"'
    count = f"http_server_request_duration_seconds_count{{{selector}}}"
    prometheus.wait_for(count, 7)
    total = prometheus.query(f"http_server_request_duration_seconds_sum{{{selector}}}")
    assert total is not None and 0 < total < 10
    assert prometheus.query(f'http_server_request_duration_seconds_bucket{{{selector},le="10.0"}}') == 7
    assert prometheus.query(f'http_server_request_duration_seconds_bucket{{{selector},le="+Inf"}}') == 7
    assert prometheus.query('up{job="c13"}') == 1
    assert prometheus.query('http_server_active_requests{job="c13",http_request_method="GET"}') == 0
    assert prometheus.query('count(c13_profiles_total{job="c13"})') == 1  # the health collector is scraped too

    # Later requests show up in later scrapes; nothing else (such as the scrapes themselves) is counted.
    with httpx.Client(base_url=app_url, timeout=10) as client:
        for order_id in range(3):
            assert client.get(f"/orders/{order_id}").status_code == 200
    prometheus.wait_for(count, 10)
    assert prometheus.query(f'http_server_request_duration_seconds_count{{job="c13",http_route!="{ROUTE}"}}') is None
