"""Queued spans leave the process when an ASGI app reports its lifespan shutdown (uvicorn + SIGTERM never runs
exit handlers afterwards)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import pytest

from c13_middleware import BatchSpanProcessor, C13ASGIMiddleware, ExportResult, Span, SpanExporter, Tracer


class Recording(SpanExporter):
    def __init__(self) -> None:
        self.names: list[str] = []

    def export(self, spans: Sequence[Span]) -> ExportResult:
        self.names.extend(span.name for span in spans)
        return ExportResult.SUCCESS


def lifespan_app(tracer: Tracer, fail: bool) -> Any:
    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        assert scope["type"] == "lifespan"
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                tracer.start_span("closing the pool").end()  # a span of the shutdown handler itself
                await send({"type": "lifespan.shutdown.failed" if fail else "lifespan.shutdown.complete"})
                return

    return app


async def run_lifespan(app: Any) -> list[str]:
    inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    for message_type in ("lifespan.startup", "lifespan.shutdown"):
        inbox.put_nowait({"type": message_type})
    sent: list[str] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message["type"])

    await app({"type": "lifespan", "asgi": {"version": "3.0"}}, inbox.get, send)
    return sent


@pytest.mark.parametrize("fail", [False, True])
def test_spans_queued_at_shutdown_are_exported_before_it_is_reported(fail: bool) -> None:
    exporter = Recording()
    processor = BatchSpanProcessor(exporter, schedule_delay_millis=60_000)  # nothing would leave on its own
    tracer = Tracer(service_name="svc", processors=[processor])
    try:
        tracer.start_span("request before shutdown").end()
        sent = asyncio.run(run_lifespan(C13ASGIMiddleware(lifespan_app(tracer, fail))))
        assert sent[-1] == ("lifespan.shutdown.failed" if fail else "lifespan.shutdown.complete")
        assert exporter.names == ["request before shutdown", "closing the pool"]
    finally:
        processor.shutdown()


def test_a_failing_flush_never_breaks_the_shutdown(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(timeout: float | None = None) -> bool:
        raise RuntimeError("boom")

    monkeypatch.setattr("c13_middleware.server.asgi.flush", broken)
    tracer = Tracer(service_name="svc")
    sent = asyncio.run(run_lifespan(C13ASGIMiddleware(lifespan_app(tracer, False))))
    assert sent == ["lifespan.startup.complete", "lifespan.shutdown.complete"]
