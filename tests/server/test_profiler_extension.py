"""The server finds its per-request profiler through the extension point: a service without profiling never loads
the profiler, one with profiling gets it from the registered factory."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import textwrap
from typing import Any

import pytest

from c13_middleware import C13ASGIMiddleware, InMemoryExporter
from c13_middleware.server._core import RequestHead, ServerCore
from c13_middleware.server._extensions import set_request_profiler

# Builds an ASGI middleware with the given options, sends it one request, and prints which profiling modules the
# middleware itself loaded (those the package's own import loaded are counted apart: its public API re-exports them).
SCRIPT = """
import asyncio, json, sys

import c13_middleware
from c13_middleware import C13ASGIMiddleware, InMemoryExporter

before = {name for name in sys.modules if name.startswith("c13_middleware.profiling")}


async def app(scope, receive, send):
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})


async def main():
    exporter = InMemoryExporter()
    middleware = C13ASGIMiddleware(app, exporter=exporter, export_mode="simple", **OPTIONS)
    sent = []

    async def receive():
        return {"type": "http.request", "body": b""}

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "method": "GET", "path": "/work", "headers": [], "query_string": b""}
    await middleware(scope, receive, send)
    return exporter.get_finished_spans()


spans = asyncio.run(main())
after = {name for name in sys.modules if name.startswith("c13_middleware.profiling")}
print(json.dumps({
    "loaded": sorted(after - before),
    "profiler_loaded": "c13_middleware.profiling._server" in sys.modules,
    "profiled": [span.attributes.get("c13.profile.id") is not None for span in spans],
}))
"""


def run(options: dict[str, Any]) -> dict[str, Any]:
    code = textwrap.dedent(SCRIPT).replace("**OPTIONS", f"**{options!r}")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    found: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return found


def test_without_profiling_the_middleware_never_imports_the_profiler() -> None:
    found = run({})
    assert found["loaded"] == []
    assert found["profiler_loaded"] is False
    assert found["profiled"] == [False]


def test_with_profiling_the_registered_profiler_is_loaded_and_profiles() -> None:
    found = run({"profile_sample_rate": 1.0})
    assert "c13_middleware.profiling._server" in found["loaded"]
    assert found["profiler_loaded"] is True
    assert found["profiled"] == [True]


class _Profile:
    def __init__(self, log: list[str]) -> None:
        self.log = log

    def stop(self) -> None:
        self.log.append("stop")

    def finish(self) -> list[tuple[str, str]]:
        self.log.append("finish")
        return [("x-test", "done")]

    def early_headers(self) -> list[tuple[str, str]]:
        return []


class _Profiler:
    request_headers = ("x-test-trigger",)

    def __init__(self, log: list[str]) -> None:
        self.log = log

    def decide(self, method: str, path: str, header: Any) -> str | None:
        self.log.append(f"decide {method} {path} {header('x-test-trigger')}")
        return "chosen" if header("x-test-trigger") else None

    def begin(self, decision: str, span: Any, frame: Any) -> _Profile:
        self.log.append(f"begin {decision}")
        return _Profile(self.log)


@pytest.fixture
def registered() -> Any:
    log: list[str] = []
    previous = set_request_profiler(lambda config: _Profiler(log))
    yield log
    set_request_profiler(previous)


def test_the_core_uses_whatever_profiler_is_registered(registered: list[str], exporter: InMemoryExporter) -> None:
    core = ServerCore({"exporter": exporter, "export_mode": "simple", "profile_sample_rate": 0.5})
    assert "x-test-trigger" in core.request_fields
    plain = core.start(RequestHead("GET", "/a", "http"))
    assert plain is not None and plain.profile_decision is None
    plain.finish()
    request = core.start(RequestHead("GET", "/b", "http", propagation={"x-test-trigger": ["1"]}))
    assert request is not None
    request.activate()
    request.begin_profile(sys._getframe())
    assert request.profile_headers(streamed=False) == [("x-test", "done")]
    request.deactivate()
    request.finish()
    assert registered == ["decide GET /a None", "decide GET /b 1", "begin chosen", "finish", "finish"]


def test_profiling_off_never_asks_the_factory(registered: list[str], exporter: InMemoryExporter) -> None:
    core = ServerCore({"exporter": exporter, "export_mode": "simple"})
    assert core.profiler is None
    request = core.start(RequestHead("GET", "/a", "http"))
    assert request is not None
    request.finish()
    assert registered == []


def test_sampling_stops_before_the_shell_names_the_route(registered: list[str], exporter: InMemoryExporter) -> None:
    """Route naming is c13's own work after the handler: the profile must not sample it."""

    class Named(C13ASGIMiddleware):
        def route_for(self, scope: Any) -> str | None:
            registered.append("route")
            return "/items/{id}"

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    middleware = Named(app, exporter=exporter, export_mode="simple", profile_sample_rate=0.5)
    sent: list[Any] = []

    async def send(message: Any) -> None:
        sent.append(message)

    async def receive() -> Any:
        return {"type": "http.request", "body": b"", "more_body": False}

    scope = {"type": "http", "method": "GET", "path": "/items/1", "headers": [(b"x-test-trigger", b"1")]}
    asyncio.run(middleware(scope, receive, send))
    steps = [step for step in registered if not step.startswith("decide")]
    assert steps[:4] == ["begin chosen", "stop", "route", "finish"]
    assert (b"x-test", b"done") in sent[0]["headers"]
