"""A Starlette service for the browser tests, configured only through the environment (OTEL_*,
C13_PROFILE_SECRET): a profiled route with a child span that gets slower after 6 requests (a deploy to compare), a
failing route, and a route whose span names and attributes carry markup (the viewer must show them as text)."""

from __future__ import annotations

import time

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from c13_middleware import get_tracer
from c13_middleware.integrations.starlette import C13Middleware

HOSTILE_NAME = "<script>window.__pwned = 1; alert('span')</script>"
HOSTILE_VALUE = '"><img src=x onerror="window.__pwned = 2; alert(1)">'


def _burn(seconds: float) -> int:
    end, total = time.perf_counter() + seconds, 0
    while time.perf_counter() < end:
        total += sum(range(300))
    return total


def render_page() -> int:
    return _burn(0.04)


def compress_page() -> int:
    return _burn(0.03)


DEPLOY_AFTER = 6  # requests to /work; after them the "new deploy" also compresses the page (a regression)
served = 0


async def work(request: Request) -> Response:
    global served
    served += 1
    with get_tracer().start_as_current_span("render page"):
        render_page()
        if served > DEPLOY_AFTER:
            compress_page()
    time.sleep(0.01)
    return PlainTextResponse("ok")


async def fail(request: Request) -> Response:
    raise RuntimeError("failed on purpose")


async def hostile(request: Request) -> Response:
    with get_tracer().start_as_current_span(HOSTILE_NAME) as span:
        span.set_attribute("user.input", HOSTILE_VALUE)
    return PlainTextResponse("ok")


app = Starlette(routes=[Route("/work", work), Route("/fail", fail), Route("/hostile", hostile)])
app.add_middleware(C13Middleware)
