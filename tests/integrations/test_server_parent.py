"""The parent of c13's SERVER span when a span is already current in the request's context (docs/server.md,
"Parent"): the rule of ``ServerCore`` for every adapter, shown with the ASGI middleware called in-process (httpx's
``ASGITransport`` runs the app in the caller's task, so the caller's current span is current in the request)."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from c13_middleware import C13ASGIMiddleware, InMemoryExporter, Span, SpanContext, SpanKind, Tracer, use_span
from c13_middleware.server._core import join_current

TRACEPARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
CALLER = SpanContext(0x0AF7651916CD43DD8448EB211C80319C, 0xB7AD6B7169203331, 1, is_remote=True)


async def ok(scope: dict[str, Any], receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})


def request_under(current: Span | None, options: dict[str, Any], headers: dict[str, str]) -> None:
    async def call() -> None:
        app = C13ASGIMiddleware(ok, **options)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://test") as client:
            if current is None:
                assert (await client.get("/", headers=headers)).status_code == 200
            else:
                with use_span(current):
                    assert (await client.get("/", headers=headers)).status_code == 200

    asyncio.run(call())


def server_span(exporter: InMemoryExporter) -> Span:
    (span,) = [s for s in exporter.get_finished_spans() if s.kind is SpanKind.SERVER]
    return span


@pytest.mark.parametrize("trusted", [True, False])
def test_a_local_in_process_caller_parents_a_request_without_context(
    tracer: Tracer, options: dict[str, Any], exporter: InMemoryExporter, trusted: bool
) -> None:
    caller = tracer.start_span("test calling the app in-process")
    request_under(caller, {**options, "trust_incoming_context": trusted}, {})
    server = server_span(exporter)
    assert server.parent == caller.context and server.context.trace_id == caller.context.trace_id
    caller.end()


def test_an_ended_span_left_current_is_not_a_parent(
    tracer: Tracer, options: dict[str, Any], exporter: InMemoryExporter
) -> None:
    leftover = tracer.start_span("an earlier request's span, left current in a reused context")
    leftover.end()
    request_under(leftover, options, {})
    assert server_span(exporter).parent is None


def test_the_callers_context_wins_over_an_unrelated_current_span(
    tracer: Tracer, options: dict[str, Any], exporter: InMemoryExporter
) -> None:
    unrelated = tracer.start_span("current, but not started from this request's traceparent")
    request_under(unrelated, options, {"traceparent": TRACEPARENT})
    server = server_span(exporter)
    assert server.parent is not None and server.parent[:2] == CALLER[:2]
    unrelated.end()


def test_a_span_continuing_this_requests_traceparent_is_joined(
    tracer: Tracer, options: dict[str, Any], exporter: InMemoryExporter
) -> None:
    framework = tracer.start_span("a framework's SERVER span, outside c13", kind=SpanKind.SERVER, parent=CALLER)
    request_under(framework, options, {"traceparent": TRACEPARENT})
    assert server_span(exporter).parent == framework.context
    framework.end()


def test_untrusted_a_span_from_the_callers_context_is_not_joined(
    tracer: Tracer, options: dict[str, Any], exporter: InMemoryExporter
) -> None:
    untrusted = {**options, "trust_incoming_context": False}
    framework = tracer.start_span("continues the caller", kind=SpanKind.SERVER, parent=CALLER)
    request_under(framework, untrusted, {"traceparent": TRACEPARENT})
    server = server_span(exporter)
    assert server.parent is None and server.context.trace_id != CALLER.trace_id
    assert [link.context for link in server.links] == [CALLER]
    framework.end()


def test_join_current_rule(tracer: Tracer) -> None:
    local = tracer.start_span("local")
    from_caller = tracer.start_span("from the caller", parent=CALLER)
    other_caller = SpanContext(CALLER.trace_id, 0x1234, 1, is_remote=True)
    # trusted
    assert join_current(local, None, None, True) == local.context
    assert join_current(local, other_caller, None, True) == other_caller
    assert join_current(from_caller, CALLER, None, True) == from_caller.context
    assert join_current(from_caller, other_caller, None, True) == other_caller  # same trace, another parent span
    # untrusted: ``caller`` is what the caller sent
    assert join_current(local, None, CALLER, False) == local.context
    assert join_current(local, None, None, False) == local.context
    assert join_current(from_caller, None, CALLER, False) is None
    assert join_current(from_caller, None, None, False) is None  # a remote context's child is never local
    remote_descendant = tracer.start_span("deeper in the caller's trace", parent=from_caller)
    assert join_current(remote_descendant, None, CALLER, False) is None
    local.end()
    assert join_current(local, None, None, True) is None and join_current(local, None, None, False) is None
    for span in (from_caller, remote_descendant):
        span.end()
