"""The test service of the W3C Trace Context test harness (w3c/trace-context, folder test/).

``POST /test`` takes a JSON array of ``{"url": ..., "arguments": [...]}`` and, in order, POSTs each ``arguments``
as JSON to its ``url`` through c13's httpx transport, so the callee gets the current trace context. Run::

    python -m example_apps.w3c_test_service --port 5000

Spans go to no exporter. See docs/propagation.md, "Running the W3C test suite".
"""

from __future__ import annotations

import argparse

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from c13_middleware.integrations.httpx import AsyncC13Transport
from c13_middleware.integrations.starlette import C13Middleware


async def test(request: Request) -> Response:
    actions = await request.json()
    if not isinstance(actions, list) or not all(isinstance(a, dict) and "url" in a for a in actions):
        return JSONResponse({"error": 'expected [{"url": ..., "arguments": [...]}, ...]'}, status_code=400)
    async with httpx.AsyncClient(transport=AsyncC13Transport(), timeout=10) as client:
        for action in actions:
            await client.post(action["url"], json=action.get("arguments") or [])
    return JSONResponse(None)


app = Starlette(routes=[Route("/test", test, methods=["POST"])])
app.add_middleware(C13Middleware)


def main(argv: list[str] | None = None) -> None:
    import uvicorn

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5000)
    args = parser.parse_args(argv)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
