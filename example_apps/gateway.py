"""The gateway: a Starlette app that calls the inventory service over httpx and the pricing service over gRPC.

Run::

    INVENTORY_URL=http://127.0.0.1:8001 PRICING_TARGET=127.0.0.1:50051 uvicorn example_apps.gateway:app --port 8000

Without those variables it answers from its own data.
"""

from __future__ import annotations

import asyncio
import json
import os
import string
from collections.abc import AsyncIterator
from typing import Any

import grpc
import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route

from c13_middleware.integrations.grpc import aio_client_interceptors
from c13_middleware.integrations.httpx import AsyncC13Transport
from c13_middleware.integrations.starlette import C13Middleware
from example_apps.telemetry import setup

tracer = setup("gateway")
INVENTORY_URL = os.environ.get("INVENTORY_URL")
PRICING_TARGET = os.environ.get("PRICING_TARGET")
_inventory: httpx.AsyncClient | None = None
_pricing: grpc.aio.Channel | None = None


def inventory() -> httpx.AsyncClient:
    global _inventory
    if _inventory is None:
        _inventory = httpx.AsyncClient(base_url=INVENTORY_URL or "", transport=AsyncC13Transport(), timeout=5)
    return _inventory


async def price(item_id: int) -> dict[str, Any]:
    global _pricing
    if _pricing is None:
        target = PRICING_TARGET or ""
        _pricing = grpc.aio.insecure_channel(target, interceptors=aio_client_interceptors(target))
    quote = _pricing.unary_unary("/shop.Pricing/Quote", request_serializer=None, response_deserializer=None)
    reply = await quote(json.dumps({"item_id": item_id}).encode(), timeout=5)
    result: dict[str, Any] = json.loads(reply)
    return result


async def index(request: Request) -> Response:
    return PlainTextResponse("gateway: /items/{item_id}, /stream, /slow, /fail\n")


async def item(request: Request) -> Response:
    item_id = int(request.path_params["item_id"])
    result: dict[str, Any] = {"id": item_id, "name": f"item-{item_id}"}
    if INVENTORY_URL:
        stock = await inventory().get(f"/items/{item_id}")
        result["in_stock"] = stock.json().get("in_stock")
    if PRICING_TARGET:
        try:
            result["price"] = (await price(item_id))["price"]
        except grpc.aio.AioRpcError as exc:
            result["price_error"] = exc.code().name
    with tracer.start_as_current_span("render item") as span:
        span.set_attribute("item.id", item_id)
        return JSONResponse(result)


def render_catalog(count: int) -> str:
    rows = [
        {"id": i, "name": f"item-{i}", "price": round(i * 1.07, 2), "tags": ["a", "b", str(i % 7)]}
        for i in range(count)
    ]
    row = string.Template("<li>$name: $price EUR</li>")
    html = "".join(row.substitute(name=item["name"], price=item["price"]) for item in rows)
    return json.dumps({"count": count, "html": html})


async def catalog(request: Request) -> Response:
    """CPU work (JSON and template rendering) plus a slow call to the inventory: a request worth profiling."""
    if INVENTORY_URL:
        await inventory().get("/slow")
    return Response(render_catalog(20_000), media_type="application/json")


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
        Route("/catalog", catalog),
        Route("/stream", stream),
        Route("/slow", slow),
        Route("/fail", fail),
    ]
)
app.add_middleware(C13Middleware, exclude_paths=["/healthz"])
