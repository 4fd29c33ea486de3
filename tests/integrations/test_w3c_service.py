"""example_apps.w3c_test_service, the service the W3C Trace Context test harness drives, on real loopback servers:
each instruction becomes a POST carrying the current context, also through a nested hop back into the service."""

from __future__ import annotations

import re

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from example_apps.w3c_test_service import app as service
from tests.servers import uvicorn_server

TRACE_ID = "0af7651916cd43dd8448eb211c80319c"
PARENT_ID = "b7ad6b7169203331"
TRACESTATE = "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7"
TRACEPARENT_V00 = re.compile(r"00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})")


def receiver() -> tuple[Starlette, dict[str, list[tuple[str, str]]]]:
    """A callback receiver: records the headers of every POST to ``/callback/{name}`` (lower-case names)."""
    received: dict[str, list[tuple[str, str]]] = {}

    async def callback(request: Request) -> JSONResponse:
        received[request.path_params["name"]] = [
            (k.decode("latin-1"), v.decode("latin-1")) for k, v in request.headers.raw
        ]
        assert await request.json() == []
        return JSONResponse(None)

    return Starlette(routes=[Route("/callback/{name}", callback, methods=["POST"])]), received


def fields(headers: list[tuple[str, str]], name: str) -> list[str]:
    return [value for key, value in headers if key.lower() == name]


def test_callbacks_continue_the_trace_with_new_parent_ids_and_the_same_tracestate() -> None:
    callbacks, received = receiver()
    with uvicorn_server(service) as service_url, uvicorn_server(callbacks) as receiver_url:
        instructions = [
            {"url": f"{receiver_url}/callback/direct", "arguments": []},
            {"url": f"{service_url}/test", "arguments": [{"url": f"{receiver_url}/callback/nested", "arguments": []}]},
        ]
        response = httpx.post(
            f"{service_url}/test",
            json=instructions,
            headers={"traceparent": f"00-{TRACE_ID}-{PARENT_ID}-01", "tracestate": TRACESTATE},
            timeout=10,
        )
    assert response.status_code == 200
    assert set(received) == {"direct", "nested"}
    parent_ids = set()
    for headers in received.values():
        [traceparent] = fields(headers, "traceparent")
        match = TRACEPARENT_V00.fullmatch(traceparent)
        assert match is not None, traceparent
        trace_id, parent_id, flags = match.groups()
        assert trace_id == TRACE_ID
        assert parent_id not in (PARENT_ID, "0" * 16)
        assert int(flags, 16) & 1  # the caller sampled it: the parent-based default keeps it
        parent_ids.add(parent_id)
        assert fields(headers, "tracestate") == [TRACESTATE]
    assert len(parent_ids) == 2  # one CLIENT span per outgoing call


def test_without_incoming_context_each_callback_gets_a_fresh_valid_traceparent() -> None:
    callbacks, received = receiver()
    with uvicorn_server(service) as service_url, uvicorn_server(callbacks) as receiver_url:
        instructions = [{"url": f"{receiver_url}/callback/{i}", "arguments": []} for i in range(2)]
        assert httpx.post(f"{service_url}/test", json=instructions, timeout=10).status_code == 200
        assert httpx.post(f"{service_url}/test", json={"url": receiver_url}, timeout=10).status_code == 400
    ids = [TRACEPARENT_V00.fullmatch(fields(received[str(i)], "traceparent")[0]) for i in range(2)]
    assert all(m is not None for m in ids)
    trace_ids = {m.group(1) for m in ids if m is not None}
    parent_ids = {m.group(2) for m in ids if m is not None}
    assert len(trace_ids) == 1 and len(parent_ids) == 2  # one new trace, one span per call
    assert all(fields(received[str(i)], "tracestate") == [] for i in range(2))
