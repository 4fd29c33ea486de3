"""Three services on loopback — a Starlette gateway calling a Flask service over httpx and a gRPC service — and one
request in: every span shares one trace id and each parent is the span that made the call."""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import grpc
import httpx
from flask import Flask
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from c13_middleware import InMemoryExporter, SpanKind, configure
from c13_middleware.integrations.flask import C13
from c13_middleware.integrations.grpc import aio_client_interceptors, server_interceptor
from c13_middleware.integrations.httpx import AsyncC13Transport
from c13_middleware.integrations.starlette import C13Middleware
from tests.servers import free_port, uvicorn_server, werkzeug_server


def test_one_trace_across_three_services(exporter: InMemoryExporter) -> None:
    configure(service_name="e2e", exporter=exporter, export_mode="simple")

    inventory = Flask("inventory")

    @inventory.get("/stock/<int:item_id>")
    def stock(item_id: int) -> dict[str, int]:
        return {"item_id": item_id, "in_stock": 3}

    C13(inventory)

    def quote(request: bytes, context: grpc.ServicerContext) -> bytes:
        return json.dumps({"price": 9.5}).encode()

    pricing = grpc.server(ThreadPoolExecutor(max_workers=4), interceptors=[server_interceptor()])
    pricing.add_generic_rpc_handlers(
        (grpc.method_handlers_generic_handler("shop.Pricing", {"Quote": grpc.unary_unary_rpc_method_handler(quote)}),)
    )
    pricing_port = free_port()
    pricing.add_insecure_port(f"127.0.0.1:{pricing_port}")
    pricing.start()

    with werkzeug_server(inventory) as inventory_url:
        target = f"127.0.0.1:{pricing_port}"

        async def item(request: Request) -> JSONResponse:
            async with httpx.AsyncClient(transport=AsyncC13Transport(), base_url=inventory_url) as client:
                stock = (await client.get(f"/stock/{request.path_params['item_id']}")).json()
            async with grpc.aio.insecure_channel(target, interceptors=aio_client_interceptors(target)) as channel:
                price = json.loads(await channel.unary_unary("/shop.Pricing/Quote")(b"{}", timeout=5))
            return JSONResponse({**stock, **price})

        gateway = Starlette(routes=[Route("/items/{item_id:int}", item)])
        gateway.add_middleware(C13Middleware)
        with uvicorn_server(gateway) as gateway_url:
            response = httpx.get(f"{gateway_url}/items/4", timeout=10)
    pricing.stop(None)

    assert response.json() == {"item_id": 4, "in_stock": 3, "price": 9.5}
    deadline = time.monotonic() + 5
    while len(exporter.get_finished_spans()) < 5 and time.monotonic() < deadline:
        time.sleep(0.01)
    spans: dict[str, Any] = {}
    for span in exporter.get_finished_spans():
        spans[f"{span.kind.name} {span.name}"] = span
    assert set(spans) == {
        "SERVER GET /items/{item_id:int}",
        "CLIENT GET",
        "SERVER GET /stock/<int:item_id>",
        "CLIENT shop.Pricing/Quote",
        "SERVER shop.Pricing/Quote",
    }
    assert len({span.context.trace_id for span in spans.values()}) == 1
    root = spans["SERVER GET /items/{item_id:int}"]
    assert root.parent is None
    assert spans["CLIENT GET"].parent == root.context
    assert spans["CLIENT shop.Pricing/Quote"].parent == root.context
    inventory_server = spans["SERVER GET /stock/<int:item_id>"]
    assert inventory_server.parent is not None and inventory_server.parent.is_remote
    assert inventory_server.parent.span_id == spans["CLIENT GET"].context.span_id
    pricing_server = spans["SERVER shop.Pricing/Quote"]
    assert (
        pricing_server.parent is not None
        and pricing_server.parent.span_id == spans["CLIENT shop.Pricing/Quote"].context.span_id
    )
    assert pricing_server.kind is SpanKind.SERVER and pricing_server.attributes["rpc.system"] == "grpc"
