"""A short soak (part of the ordinary test run): 5,000 requests with large hostile headers through the ASGI
middleware, headers captured, spans batched to an exporter that drops them. The process's resident memory must stay
within a byte bound: what one request can add to its span is bounded (docs/security.md), and so is the queue."""

from __future__ import annotations

import asyncio
import os
import threading
import time
from collections.abc import Sequence

from c13_middleware import BatchSpanProcessor, ExportResult, Span, SpanExporter, SpanLimits
from c13_middleware.server._core import MAX_CAPTURED_CHARS
from c13_middleware.server.asgi import C13ASGIMiddleware, Message, Receive, Scope, Send
from tests.server.test_asgi import http_scope

REQUESTS = 5_000
QUEUE = 512
BATCH = 128
# What the stalled pipeline holds: a full queue plus the batch in the exporter's hands. Each span's request data is at
# most the two captures plus a few values cut to the attribute limit (all latin-1: one byte a character), plus room
# for the interpreter's own growth. Unbounded capture (about 100 KB a span here) exceeds it by far.
PER_SPAN = 2 * MAX_CAPTURED_CHARS + 4 * (SpanLimits().max_attribute_length or 0)
MAX_GROWTH = (QUEUE + BATCH) * PER_SPAN + 8 * 1024 * 1024
PAGE = os.sysconf("SC_PAGE_SIZE")


def rss() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * PAGE


class StalledExporter(SpanExporter):
    """Drops what it gets, after a stall that lasts the whole soak: the queue fills and stays full, the worst case."""

    def __init__(self) -> None:
        self.exported = 0
        self.stalled = threading.Event()

    def export(self, spans: Sequence[Span]) -> ExportResult:
        self.stalled.wait(30)
        self.exported += len(spans)
        return ExportResult.SUCCESS


def hostile_headers(index: int) -> list[tuple[bytes, bytes]]:
    """About 100 KB per request, different every time (no cache can absorb it)."""
    tag = str(index).encode()
    headers = [(b"host", b"h" * 8000 + tag), (b"user-agent", b"u" * 8000 + tag)]
    headers += [(b"traceparent", b"00-" + tag * 40)] * 20 + [(b"tracestate", b"k=" + b"v" * 4000 + tag)] * 5
    headers += [(b"baggage", b"user=" + b"b" * 8000 + tag)] * 3
    headers += [(b"x-filler-" + str(n).encode(), b"f" * 8000 + tag) for n in range(6)]
    return headers


def test_rss_stays_bounded_under_hostile_headers() -> None:
    exporter = StalledExporter()
    processor = BatchSpanProcessor(
        exporter, max_queue_size=QUEUE, max_export_batch_size=BATCH, schedule_delay_millis=50
    )

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": [(b"x-out", b"o" * 8000)]})
        await send({"type": "http.response.body", "body": b"ok"})

    middleware = C13ASGIMiddleware(
        app, processors=[processor], capture_request_headers=[".*"], capture_response_headers=[".*"]
    )

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        pass

    async def soak() -> int:
        await middleware(http_scope("/warm-up"), receive, send)
        baseline = rss()
        for index in range(REQUESTS):
            await middleware(http_scope(f"/items/{index}", headers=hostile_headers(index)), receive, send)
        return baseline

    started = time.monotonic()
    try:
        baseline = asyncio.run(soak())
        grown = rss() - baseline
    finally:
        exporter.stalled.set()
        processor.shutdown()
    assert exporter.exported + processor.spans_dropped == REQUESTS + 1
    assert time.monotonic() - started < 10
    assert grown < MAX_GROWTH, f"RSS grew by {grown / 2**20:.1f} MiB"
