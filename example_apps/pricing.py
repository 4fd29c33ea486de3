"""The pricing service: a gRPC server (generic handlers, JSON bodies; no generated code needed).

Run: ``python -m example_apps.pricing --port 50051``. Method: ``/shop.Pricing/Quote``.
"""

from __future__ import annotations

import argparse
import json
import signal
import time
from typing import Any

import grpc

from c13_middleware.integrations.grpc import server_interceptor
from example_apps.telemetry import setup

tracer = setup("pricing")
SERVICE = "shop.Pricing"
PRICES = {1: 9.5, 2: 12.0, 3: 4.25}


def quote(request: dict[str, Any], context: grpc.ServicerContext) -> dict[str, Any]:
    item_id = int(request.get("item_id", 0))
    with tracer.start_as_current_span("price lookup") as span:
        span.set_attribute("item.id", item_id)
        time.sleep(0.005)
        if item_id not in PRICES:
            context.abort(grpc.StatusCode.NOT_FOUND, f"no price for item {item_id}")
        return {"item_id": item_id, "price": PRICES[item_id], "currency": "EUR"}


def _decode(data: bytes) -> dict[str, Any]:
    value = json.loads(data or b"{}")
    return value if isinstance(value, dict) else {}


def _encode(value: dict[str, Any]) -> bytes:
    return json.dumps(value).encode()


HANDLERS = grpc.method_handlers_generic_handler(
    SERVICE,
    {"Quote": grpc.unary_unary_rpc_method_handler(quote, request_deserializer=_decode, response_serializer=_encode)},
)


def make_server(port: int) -> grpc.Server:
    from concurrent.futures import ThreadPoolExecutor

    server = grpc.server(ThreadPoolExecutor(max_workers=8), interceptors=[server_interceptor()])
    server.add_generic_rpc_handlers((HANDLERS,))
    server.add_insecure_port(f"127.0.0.1:{port}")
    return server


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=50051)
    args = parser.parse_args()
    server = make_server(args.port)
    server.start()
    signal.signal(signal.SIGTERM, lambda *_: server.stop(1))
    try:
        server.wait_for_termination()
    except KeyboardInterrupt:
        server.stop(1)


if __name__ == "__main__":
    main()
