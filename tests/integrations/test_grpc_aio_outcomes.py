"""How a grpc.aio call ends, as its spans tell it: unknown methods, a closed channel, suppressed calls, a server span
that cannot start, and call objects whose status cannot be read."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from types import SimpleNamespace
from typing import Any

import grpc
import grpc.aio
import pytest

from c13_middleware import InMemoryExporter, Span, SpanKind, StatusCode, suppress_instrumentation
from c13_middleware.integrations.grpc import aio_client_interceptors, aio_server_interceptor

SERVICE = "shop.v1.Shelves"


async def echo(request: bytes, context: Any) -> bytes:
    return request


async def count(request: bytes, context: Any) -> AsyncIterator[bytes]:
    for item in (b"a", b"b"):
        yield item


HANDLERS = {
    "Echo": grpc.unary_unary_rpc_method_handler(echo),
    "Count": grpc.unary_stream_rpc_method_handler(count),
}


@asynccontextmanager
async def serving(spans: InMemoryExporter, server_interceptor: Any) -> AsyncIterator[grpc.aio.Channel]:
    server = grpc.aio.server(interceptors=[server_interceptor])
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(SERVICE, HANDLERS),))
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    target = f"127.0.0.1:{port}"
    channel = grpc.aio.insecure_channel(
        target, interceptors=aio_client_interceptors(target, exporter=spans, export_mode="simple")
    )
    try:
        yield channel
    finally:
        await channel.close()
        await server.stop(None)


async def settled(spans: InMemoryExporter, count: int) -> list[Span]:
    for _ in range(300):
        if len(spans.get_finished_spans()) >= count:
            break
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.02)  # and nothing more arrives
    return spans.get_finished_spans()


@pytest.fixture
def interceptor(exporter: InMemoryExporter) -> Any:
    return aio_server_interceptor(service_name="shelves", exporter=exporter, export_mode="simple")


def test_an_unknown_method_is_unimplemented_and_untraced_on_the_server(
    exporter: InMemoryExporter, interceptor: Any
) -> None:
    async def scenario() -> None:
        async with serving(exporter, interceptor) as channel:
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await channel.unary_unary(f"/{SERVICE}/Nope")(b"x")
            assert caught.value.code() is grpc.StatusCode.UNIMPLEMENTED
            (client,) = await settled(exporter, 1)
            assert client.kind is SpanKind.CLIENT
            assert client.attributes["rpc.grpc.status_code"] == grpc.StatusCode.UNIMPLEMENTED.value[0]
            assert client.attributes["error.type"] == "UNIMPLEMENTED"

    asyncio.run(scenario())


def test_a_call_on_a_closed_channel_ends_its_span_with_the_error(exporter: InMemoryExporter, interceptor: Any) -> None:
    async def scenario() -> None:
        async with serving(exporter, interceptor) as channel:
            await channel.close()
            with pytest.raises(Exception, match="Channel is closed"):
                await channel.unary_unary(f"/{SERVICE}/Echo")(b"x")
        (client,) = exporter.get_finished_spans()
        assert client.status.code is StatusCode.ERROR and client.status.description == "Channel is closed."
        assert "rpc.grpc.status_code" not in client.attributes  # it never became an RPC
        (event,) = [e for e in client.events if e.name == "exception"]
        assert str(event.attributes["exception.type"]).endswith("UsageError")

    asyncio.run(scenario())


def test_a_suppressed_call_has_no_client_span_and_sends_no_context(
    exporter: InMemoryExporter, interceptor: Any
) -> None:
    async def scenario() -> None:
        async with serving(exporter, interceptor) as channel:
            with suppress_instrumentation():
                assert await channel.unary_unary(f"/{SERVICE}/Echo")(b"quiet") == b"quiet"
            (server,) = await settled(exporter, 1)
            assert server.kind is SpanKind.SERVER and server.parent is None

    asyncio.run(scenario())


def test_a_server_span_that_cannot_start_leaves_aio_calls_working_and_untraced(
    exporter: InMemoryExporter, interceptor: Any, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(*args: Any, **kwargs: Any) -> Span:
        raise RuntimeError("tracer out of order")

    monkeypatch.setattr(interceptor.core.tracer, "start_span", broken)

    async def scenario() -> None:
        async with serving(exporter, interceptor) as channel:
            assert await channel.unary_unary(f"/{SERVICE}/Echo")(b"still works") == b"still works"
            assert [item async for item in channel.unary_stream(f"/{SERVICE}/Count")(b"")] == [b"a", b"b"]
            found = await settled(exporter, 2)
            assert [span.kind for span in found] == [SpanKind.CLIENT, SpanKind.CLIENT]
            assert all(span.attributes["rpc.grpc.status_code"] == 0 for span in found)

    with caplog.at_level(logging.WARNING, logger="c13_middleware"):
        asyncio.run(scenario())
    assert "could not start an RPC server span" in caplog.text


def test_a_handler_the_aio_interceptor_cannot_rebuild_is_served_as_it_is(
    interceptor: Any, caplog: pytest.LogCaptureFixture
) -> None:
    odd = object()

    async def continuation(details: Any) -> Any:
        return odd

    details = SimpleNamespace(method=f"/{SERVICE}/Echo", invocation_metadata=())
    with caplog.at_level(logging.WARNING, logger="c13_middleware"):
        assert asyncio.run(interceptor.intercept_service(continuation, details)) is odd
    assert "could not trace a grpc.aio handler" in caplog.text


# --- call objects whose status cannot be read: what a real call does not show on demand -------------------------


class _Call:
    """A grpc.aio call as the interceptor sees it, scripted: ``code`` is an async function."""

    def __init__(self, code: Callable[[], Any], *, callbacks: bool = True) -> None:
        self._code = code
        self._callbacks = callbacks

    def cancelled(self) -> bool:
        return False

    def code(self) -> Any:
        return self._code()

    def add_done_callback(self, callback: Callable[[Any], None]) -> None:
        if not self._callbacks:
            raise RuntimeError("call already gone")
        callback(self)


async def _pending() -> grpc.StatusCode:
    await asyncio.sleep(0)  # would have to wait: the status is not known yet
    return grpc.StatusCode.OK


async def _failing() -> grpc.StatusCode:
    raise RuntimeError("no status")


def _details(method: str) -> Any:
    return grpc.aio.ClientCallDetails(method, None, None, None, None)


def _calls() -> Iterator[tuple[str, _Call]]:
    yield "Pending", _Call(_pending)
    yield "Failing", _Call(_failing)
    yield "Gone", _Call(_pending, callbacks=False)


def test_a_call_whose_status_cannot_be_read_ends_its_span_without_one(
    exporter: InMemoryExporter, caplog: pytest.LogCaptureFixture
) -> None:
    unary = aio_client_interceptors("127.0.0.1:1", exporter=exporter, export_mode="simple")[0]

    async def scenario() -> None:
        for name, call in _calls():

            async def continuation(details: Any, request: Any, call: _Call = call) -> Any:
                return call

            assert await unary.intercept_unary_unary(continuation, _details(f"/{SERVICE}/{name}"), b"") is call

    with caplog.at_level(logging.WARNING, logger="c13_middleware"):
        asyncio.run(scenario())
    assert "could not read a grpc.aio call's status" in caplog.text
    assert "could not follow a grpc.aio call" in caplog.text
    done = {span.name: span for span in exporter.get_finished_spans()}
    assert sorted(done) == [f"{SERVICE}/Failing", f"{SERVICE}/Gone", f"{SERVICE}/Pending"]
    for span in done.values():
        assert "rpc.grpc.status_code" not in span.attributes and span.status.code is not StatusCode.ERROR
