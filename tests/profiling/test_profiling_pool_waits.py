"""Thread-pool waits point at the user's function: a Starlette sync endpoint runs in anyio's thread pool; while
its worker thread is not attributed to the request, the request's waiting samples and its slow-IO entry name the
endpoint (the function handed to the pool), not Starlette's ``run_in_threadpool``."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import pytest
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route
from starlette.testclient import TestClient

from c13_middleware import get_profile, mint_token
from c13_middleware.profiling import ProfileReport, render_text
from c13_middleware.profiling._awaits import AwaitChain
from c13_middleware.profiling._lines import display_path
from tests.conftest import traced_starlette

SECRET = "s3cret-key-for-tests-only"


def orders(request: Request) -> Response:  # a sync endpoint: Starlette runs it in anyio's thread pool
    time.sleep(0.12)
    return PlainTextResponse("ok")


WHERE = f"{__file__}:{orders.__code__.co_firstlineno}"


@pytest.fixture
def report(monkeypatch: pytest.MonkeyPatch) -> ProfileReport:
    # The worker thread stays unattributed (context discovery finds nothing), as when it has not been reached yet.
    monkeypatch.setattr("c13_middleware.profiling._attribution.scan_frame", lambda parent, child: ())
    app = traced_starlette([Route("/orders", orders)], profile_secret=SECRET, export_mode="simple")
    headers = {"x-c13-profile": "cpu", "x-c13-profile-token": mint_token(SECRET, "GET", "/orders", 60)}
    with TestClient(app) as client:
        response = client.get("/orders", headers=headers)
    assert response.text == "ok"
    found = get_profile(response.headers["x-c13-profile-id"])
    assert found is not None
    return found


def test_waiting_samples_name_the_endpoint(report: ProfileReport) -> None:
    waiting = [s for s in report.samples if report.frames[s.stack[-1]].name.startswith("[await]")]
    assert sum(s.weight_s for s in waiting) >= 0.09
    for sample in waiting:
        pooled = report.frames[sample.stack[-2]]
        assert (pooled.name, pooled.file, sample.lines[-2]) == ("orders", __file__, orders.__code__.co_firstlineno)
        assert report.frames[sample.stack[-3]].name == "run_in_threadpool"
    assert not any(report.frames[i].name == "orders" for s in report.samples if s not in waiting for i in s.stack)


def test_slow_io_points_at_the_endpoint(report: ProfileReport) -> None:
    [event] = [e for e in report.slow_io if e.source == "await"]
    assert event.where == WHERE and event.duration_s >= 0.09
    assert f"at {display_path(__file__)}:{orders.__code__.co_firstlineno}" in render_text(report)


def test_only_plain_application_functions_are_taken() -> None:
    """A pooled callable that is not a plain application function (a library function, a callable object) leaves
    the wait at the site, as before; partials and bound methods of application functions are unwrapped."""

    class Job:
        def run(self) -> None:
            release.wait(5)

        def __call__(self) -> None:
            release.wait(5)

    release = threading.Event()
    loop = asyncio.new_event_loop()
    runner = threading.Thread(target=loop.run_forever, daemon=True)
    runner.start()
    try:
        job = Job()
        for func, expected in ((job.run, "Job.run"), (job, None), (release.wait, None)):
            release.clear()
            args: tuple[Any, ...] = (5,) if func is release.wait else ()
            future = asyncio.run_coroutine_threadsafe(run_in_threadpool(func, *args), loop)
            deadline = time.monotonic() + 5
            site = None
            while time.monotonic() < deadline:
                task = next(iter(asyncio.all_tasks(loop)), None)
                site = AwaitChain().read(task.get_coro(), {}) if task is not None else None
                if site is not None and site.stack[-1].co_name == "run_in_threadpool":
                    break
                time.sleep(0.01)
            assert site is not None
            names = [getattr(code, "co_qualname", code.co_name) for code in site.stack]
            if expected is None:
                assert site.where == "" and names[1] == "run_in_threadpool", names
            else:
                assert names[1].endswith(expected) and site.where.startswith(__file__), names
            release.set()
            future.result(5)
    finally:
        release.set()
        loop.call_soon_threadsafe(loop.stop)
        runner.join(5)
        loop.close()
