"""Attribution under load: many concurrent profiled requests on a real uvicorn server, each burning CPU in a function
of its own. Used by tests/profiling/test_profiling_load.py and ``python -m benchmarks.bench_profiler --attribution``.
"""

from __future__ import annotations

import asyncio
import time
import types
from dataclasses import dataclass
from typing import Any

from c13_middleware import get_profile, mint_token
from c13_middleware.profiling import ProfileReport
from c13_middleware.profiling._lines import is_library

SECRET = "s3cret-key-for-load-tests"
HANDLERS = (".burn_async", ".burn_sync")
CHUNKS = 5  # an async request yields to the loop between chunks, so the requests interleave


def _burn(seconds: float) -> int:
    n = 0
    end = time.thread_time() + seconds
    while time.thread_time() < end:
        n += 1
    return n


def burner(index: int) -> types.FunctionType:
    """A function of its own for request ``index``: same body, its own code object and name (``burn_007``)."""
    name = f"burn_{index:03d}"
    code = _burn.__code__.replace(co_name=name, co_qualname=name)
    return types.FunctionType(code, _burn.__globals__, name)


@dataclass(frozen=True)
class Outcome:
    index: int
    samples: int  # executing samples: not the "[await] ..." / "[wait] ..." samples of a request waiting
    own: float  # share of them in the request's own code: its burn_NNN function, or the handler's own lines
    foreign: int  # samples with another request's function on the stack
    wall_s: float
    strays: tuple[str, ...] = ()  # the innermost frames of the samples not in its own code, for failure messages

    @property
    def others(self) -> int:
        """Executing samples not in the request's own code (its framework's: routing, the pool's capacity wait)."""
        return self.samples - round(self.own * self.samples)


def outcome(index: int, report: ProfileReport) -> Outcome:
    mine = f"burn_{index:03d}"
    running = [s for s in report.samples if not report.frames[s.stack[-1]].name.startswith("[")]
    own = foreign = 0
    strays: list[str] = []
    for sample in running:
        names = [report.frames[i].name for i in sample.stack]
        innermost = next((f for f in reversed(sample.stack) if not is_library(report.frames[f].file)), None)
        handler = innermost is not None and report.frames[innermost].name.endswith(HANDLERS)
        if mine in names or handler:
            own += 1
        else:
            strays.append(
                " < ".join(f"{n}:{ln}" for n, ln in zip(names[::-1][:3], sample.lines[::-1][:3], strict=False))
            )
        foreign += any(n.startswith("burn_") and n != mine for n in names)
    own_share = own / len(running) if running else 0.0
    return Outcome(index, len(running), own_share, foreign, report.wall_s, tuple(strays))


def app(requests: int, seconds: float) -> Any:
    from starlette.requests import Request
    from starlette.responses import PlainTextResponse, Response
    from starlette.routing import Route

    from tests.conftest import traced_starlette

    burners = [burner(i) for i in range(requests)]

    async def burn_async(request: Request) -> Response:
        work = burners[int(request.path_params["index"])]
        for _ in range(CHUNKS):
            work(seconds / CHUNKS)
            await asyncio.sleep(0)
        return PlainTextResponse("ok")

    def burn_sync(request: Request) -> Response:  # Starlette runs it in anyio's thread pool
        burners[int(request.path_params["index"])](seconds)
        return PlainTextResponse("ok")

    routes = [Route("/async/{index:int}", burn_async), Route("/sync/{index:int}", burn_sync)]
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
        with uvicorn_server(app(requests, seconds)) as base:
            return asyncio.run(_load(base, kind, requests))
    finally:
        store.max_profiles = kept
