"""A Starlette service configured by nothing but the environment (OTEL_*, C13_PROFILE_SECRET): for uvicorn
--workers in tests/view/test_multiprocess.py."""

from __future__ import annotations

import os
import time

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from c13_middleware.integrations.starlette import C13Middleware


def _burn(seconds: float) -> int:
    end, total = time.perf_counter() + seconds, 0
    while time.perf_counter() < end:
        total += sum(range(300))
    return total


async def work(request: Request) -> Response:
    _burn(0.03)
    return PlainTextResponse(str(os.getpid()))


app = Starlette(routes=[Route("/work", work)])
app.add_middleware(C13Middleware)
