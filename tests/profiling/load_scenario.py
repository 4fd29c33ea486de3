"""Attribution under load: many concurrent profiled requests on a real uvicorn server, each burning CPU in a function
of its own. Used by tests/profiling/test_profiling_load.py and ``python -m benchmarks.bench_profiler --attribution``.
"""

from __future__ import annotations

import asyncio
import gc
import time
import types
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from c13_middleware import get_profile, mint_token
from c13_middleware.profiling import ProfileReport

SECRET = "s3cret-key-for-load-tests"
CHUNKS = 5  # an async request yields to the loop between chunks, so the requests interleave


def _burn(seconds: float) -> int:
    n = 0
    end = time.thread_time() + seconds
    while time.thread_time() < end:
        n += 1
    return n


async def _burn_async(request: Any, seconds: float = 0.0) -> Any:
    """An async endpoint: burns ``seconds`` of CPU in ``CHUNKS`` pieces, yielding to the loop between them."""
    for _ in range(CHUNKS):
        _burn(seconds / CHUNKS)
        await asyncio.sleep(0)
    return _ok()


def _burn_sync(request: Any, seconds: float = 0.0) -> Any:
    """A sync endpoint (Starlette runs it in anyio's thread pool)."""
    _burn(seconds)
    return _ok()


def _ok() -> Any:
    from starlette.responses import PlainTextResponse

    return PlainTextResponse("ok")


def burner(index: int, template: Callable[..., Any], seconds: float = 0.0) -> types.FunctionType:
    """A function of its own for request ``index``: ``template``'s body, its own code object and name
    (``burn_007``), ``seconds`` as its default."""
    name = f"burn_{index:03d}"
    code = template.__code__.replace(co_name=name, co_qualname=name)
    return types.FunctionType(code, template.__globals__, name, (seconds,))


@dataclass(frozen=True)
class Outcome:
    index: int
    samples: int  # executing samples: not the "[await] ..." / "[wait] ..." samples of a request waiting
    own: float  # share of them with the request's own function (its burn_NNN) on the stack
    foreign: int  # samples with another request's function on the stack
    wall_s: float
    mode: str = "on-demand"  # the sampler's mode for this profile (a token asks for the on-demand rate)
    strays: tuple[str, ...] = ()  # the innermost frames of the samples not in its own function, for failure messages
    c13: int = 0  # samples not in its own function whose innermost frame is c13's own code

    @property
    def others(self) -> int:
        """Executing samples not in the request's own function (its handler's other lines, its framework's)."""
        return self.samples - round(self.own * self.samples)


def outcome(index: int, report: ProfileReport) -> Outcome:
    mine = f"burn_{index:03d}"
    running = [s for s in report.samples if not report.frames[s.stack[-1]].name.startswith("[")]
    own = foreign = c13 = 0
    strays: list[str] = []
    for sample in running:
        names = [report.frames[i].name for i in sample.stack]
        if mine in names:
            own += 1
        else:
            c13 += "c13_middleware" in report.frames[sample.stack[-1]].file
            strays.append(
                " < ".join(f"{n}:{ln}" for n, ln in zip(names[::-1][:4], sample.lines[::-1][:4], strict=False))
            )
        foreign += any(n.startswith("burn_") and n != mine for n in names)
    own_share = own / len(running) if running else 0.0
    return Outcome(index, len(running), own_share, foreign, report.wall_s, report.overhead.mode, tuple(strays), c13)


def app(kind: str, requests: int, seconds: float) -> Any:
    """Each request's endpoint is a function of its own (``/async/7`` runs ``burn_007``), so everything the request
    does outside the framework is in that function: its profile's own share is what the framework leaves. Only the
    routes of ``kind``: Starlette matches routes one by one, and needless ones would add routing samples."""
    from starlette.routing import Route

    from tests.conftest import traced_starlette

    template = _burn_async if kind == "async" else _burn_sync
    routes = [Route(f"/{kind}/{i}", burner(i, template, seconds)) for i in range(requests)]
    return traced_starlette(routes, profile_secret=SECRET, export_mode="simple")


async def _load(base: str, kind: str, requests: int) -> list[Outcome]:
    import httpx

    async def one(client: httpx.AsyncClient, index: int) -> Outcome:
        path = f"/{kind}/{index}"
        headers = {"x-c13-profile": "cpu", "x-c13-profile-token": mint_token(SECRET, "GET", path, 120)}
        response = await client.get(base + path, headers=headers)
        response.raise_for_status()
        report = get_profile(response.headers["x-c13-profile-id"])
        assert report is not None, "the profile was not kept"
        return outcome(index, report)

    limits = httpx.Limits(max_connections=requests)
    async with httpx.AsyncClient(timeout=120, limits=limits) as client:
        return list(await asyncio.gather(*(one(client, i) for i in range(requests))))


def run_load(kind: str, requests: int = 50, seconds: float = 0.05) -> list[Outcome]:
    """``requests`` concurrent profiled requests to ``/async/i`` or ``/sync/i`` on a uvicorn server on 127.0.0.1."""
    from c13_middleware.profiling import default_store
    from tests.servers import uvicorn_server

    store = default_store()
    kept, store.max_profiles = store.max_profiles, max(store.max_profiles, 2 * requests)  # none evicted before read
    try:
        with uvicorn_server(app(kind, requests, seconds)) as base:
            # Earlier tests' garbage (an unclosed event loop's finalizer) would otherwise be collected on some
            # request's thread mid-burst: real time of that thread, but not the request's code.
            gc.collect()
            return asyncio.run(_load(base, kind, requests))
    finally:
        store.max_profiles = kept
