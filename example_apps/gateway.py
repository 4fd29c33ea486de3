"""The gateway: a Starlette app. Run: ``uvicorn example_apps.gateway:app --port 8000``."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route

from c13_middleware.integrations.starlette import C13Middleware
from example_apps.telemetry import setup

tracer = setup("gateway")


async def index(request: Request) -> Response:
    return PlainTextResponse("gateway: /items/{item_id}, /stream, /slow, /fail\n")


async def item(request: Request) -> Response:
    item_id = int(request.path_params["item_id"])
    with tracer.start_as_current_span("render item") as span:
        span.set_attribute("item.id", item_id)
        return JSONResponse({"id": item_id, "name": f"item-{item_id}"})


async def stream(request: Request) -> Response:
    async def events() -> AsyncIterator[str]:
        for i in range(3):
            await asyncio.sleep(0.05)
            yield f"data: tick {i}\n\n"

    return StreamingResponse(events(), media_type="text/event-stream")


async def slow(request: Request) -> Response:
    await asyncio.sleep(0.3)
    return PlainTextResponse("slow\n")


async def fail(request: Request) -> Response:
    raise RuntimeError("the gateway failed on purpose")


app = Starlette(
    routes=[
        Route("/", index),
        Route("/items/{item_id:int}", item),
        Route("/stream", stream),
        Route("/slow", slow),
        Route("/fail", fail),
    ]
)
app.add_middleware(C13Middleware, exclude_paths=["/healthz"])
