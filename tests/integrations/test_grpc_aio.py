from __future__ import annotations

import asyncio
import gc
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import grpc
import grpc.aio
import pytest

from c13_middleware import InMemoryExporter, Span, SpanKind, StatusCode, current_span
from c13_middleware.integrations.grpc import (
    aio_client_interceptors,
    aio_server_interceptor,
)
from c13_middleware.propagation._traceparent import format_traceparent
from c13_middleware.server._extensions import set_request_profiler
from tests.conftest import assert_connected

SERVICE = "shop.v1.Stock"


def _current_traceparent() -> bytes:
    span = current_span()
    assert span is not None
    return format_traceparent(span.context).encode()


async def unary(request: bytes, context: Any) -> bytes:
    if request == b"abort":
        await context.abort(grpc.StatusCode.NOT_FOUND, "no such item")
    if request == b"boom":
        raise RuntimeError("handler failed")
    span = current_span()
    assert span is not None and span.tracer is not None
    with span.tracer.start_as_current_span("reserve"):
        await asyncio.sleep(0)
    return _current_traceparent()


async def server_stream(request: bytes, context: Any) -> AsyncIterator[bytes]:
    for index in range(int(request or b"3")):
        yield b"%d" % index
        await asyncio.sleep(0.02)


async def client_stream(requests: AsyncIterator[bytes], context: Any) -> bytes:
    return b",".join([request async for request in requests])


async def bidi(requests: AsyncIterator[bytes], context: Any) -> AsyncIterator[bytes]:
    async for request in requests:
        yield request.upper()


def sync_unary(request: bytes, context: Any) -> bytes:  # a plain function: grpc.aio runs it in a thread
    return _current_traceparent()


HANDLERS = {
    "Get": grpc.unary_unary_rpc_method_handler(unary),
    "Watch": grpc.unary_stream_rpc_method_handler(server_stream),
    "Upload": grpc.stream_unary_rpc_method_handler(client_stream),
    "Chat": grpc.stream_stream_rpc_method_handler(bidi),
    "Legacy": grpc.unary_unary_rpc_method_handler(sync_unary),
}


@asynccontextmanager
async def serving(spans: InMemoryExporter, interceptor: Any = None) -> AsyncIterator[grpc.aio.Channel]:
    if interceptor is None:
        interceptor = aio_server_interceptor(service_name="stock-server", exporter=spans, export_mode="simple")
    server = grpc.aio.server(interceptors=[interceptor])
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(SERVICE, HANDLERS),))
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    target = f"127.0.0.1:{port}"
    interceptors = aio_client_interceptors(target, service_name="stock-client", exporter=spans, export_mode="simple")
    channel = grpc.aio.insecure_channel(target, interceptors=interceptors)
    try:
        yield channel
    finally:
        await channel.close()
        await server.stop(None)


async def pair(spans: InMemoryExporter, method: str, count: int = 2) -> tuple[Span, Span]:
    for _ in range(500):
        if len(spans.get_finished_spans()) >= count:
            break
        await asyncio.sleep(0.01)
    finished = [s for s in spans.get_finished_spans() if s.name == f"{SERVICE}/{method}"]
    client = next(s for s in finished if s.kind is SpanKind.CLIENT)
    server = next(s for s in finished if s.kind is SpanKind.SERVER)
    return client, server


def run(scenario: Callable[[], Any]) -> None:
    asyncio.run(scenario())


def test_four_call_types_are_connected(exporter: InMemoryExporter) -> None:
    async def scenario() -> None:
        async with serving(exporter) as channel:
            reply = await channel.unary_unary(f"/{SERVICE}/Get")(b"item")
            client, server = await pair(exporter, "Get", 3)
            assert_connected(client, server)
            assert reply.decode() == format_traceparent(server.context)
            reserve = next(s for s in exporter.get_finished_spans() if s.name == "reserve")
            assert reserve.parent is not None and reserve.parent.span_id == server.context.span_id
            assert client.attributes["rpc.method"] == "Get" and client.attributes["server.address"] == "127.0.0.1"
            assert server.resource.attributes["service.name"] == "stock-server"
            exporter.clear()

            assert [r async for r in channel.unary_stream(f"/{SERVICE}/Watch")(b"3")] == [b"0", b"1", b"2"]
            assert_connected(*await pair(exporter, "Watch"))
            assert await channel.stream_unary(f"/{SERVICE}/Upload")(iter([b"a", b"b"])) == b"a,b"
            assert_connected(*await pair(exporter, "Upload", 4))
            assert [r async for r in channel.stream_stream(f"/{SERVICE}/Chat")(iter([b"x"]))] == [b"X"]
            assert_connected(*await pair(exporter, "Chat", 6))
        for span in exporter.get_finished_spans():
            assert span.attributes["rpc.grpc.status_code"] == 0
            assert span.status.code is StatusCode.UNSET

    run(scenario)


def test_status_codes_from_abort_and_exceptions(exporter: InMemoryExporter) -> None:
    async def scenario() -> None:
        async with serving(exporter) as channel:
            with pytest.raises(grpc.aio.AioRpcError) as aborted:
                await channel.unary_unary(f"/{SERVICE}/Get")(b"abort")
            assert aborted.value.code() is grpc.StatusCode.NOT_FOUND
            client, server = await pair(exporter, "Get")
            assert client.attributes["rpc.grpc.status_code"] == server.attributes["rpc.grpc.status_code"] == 5
            assert client.status.code is StatusCode.ERROR and client.attributes["error.type"] == "NOT_FOUND"
            assert server.status.code is StatusCode.UNSET and not server.events
            exporter.clear()

            with pytest.raises(grpc.aio.AioRpcError) as failed:
                await channel.unary_unary(f"/{SERVICE}/Get")(b"boom")
            assert failed.value.code() is grpc.StatusCode.UNKNOWN
            client, server = await pair(exporter, "Get")
            assert client.attributes["rpc.grpc.status_code"] == server.attributes["rpc.grpc.status_code"] == 2
            assert server.status.code is StatusCode.ERROR
            assert [e.attributes["exception.type"] for e in server.events] == ["RuntimeError"]

    run(scenario)


def test_cancelling_a_server_stream_ends_both_spans(exporter: InMemoryExporter) -> None:
    async def scenario() -> None:
        async with serving(exporter) as channel:
            call = channel.unary_stream(f"/{SERVICE}/Watch")(b"1000")
            async for first in call:
                assert first == b"0"
                call.cancel()
                break
            client, server = await pair(exporter, "Watch")
            assert client.attributes["rpc.grpc.status_code"] == 1
            assert client.attributes["error.type"] == "CANCELLED"
            assert server.attributes["rpc.grpc.status_code"] == 1
            assert server.end_time is not None

    run(scenario)


def test_an_uniterated_stream_ends_its_span_when_the_call_ends(exporter: InMemoryExporter) -> None:
    """The span lives exactly as long as the RPC: a stream nobody reads ends at its deadline, or when the channel
    closes (grpc.aio keeps an intercepted call alive while it runs, so dropping the object does not end it)."""

    def client_codes() -> list[object]:
        return [
            s.attributes["rpc.grpc.status_code"] for s in exporter.get_finished_spans() if s.kind is SpanKind.CLIENT
        ]

    async def scenario() -> None:
        async with serving(exporter) as channel:
            timed = channel.unary_stream(f"/{SERVICE}/Watch")(b"1000", timeout=0.2)
            await timed.initial_metadata()
            for _ in range(300):
                if client_codes():
                    break
                await asyncio.sleep(0.01)
            assert client_codes() == [grpc.StatusCode.DEADLINE_EXCEEDED.value[0]]
            _, server = await pair(exporter, "Watch")
            assert server.attributes["rpc.grpc.status_code"] == grpc.StatusCode.DEADLINE_EXCEEDED.value[0]
            assert server.status.code is StatusCode.ERROR  # DEADLINE_EXCEEDED is a server error too
            exporter.clear()
            forgotten = channel.unary_stream(f"/{SERVICE}/Watch")(b"1000")
            await forgotten.initial_metadata()
            del forgotten
            gc.collect()
        assert client_codes() == [grpc.StatusCode.CANCELLED.value[0]]  # channel closed: the call was cancelled

    run(scenario)


def test_sync_handler_on_the_aio_server_runs_with_its_span_current(exporter: InMemoryExporter) -> None:
    async def scenario() -> None:
        async with serving(exporter) as channel:
            reply = await channel.unary_unary(f"/{SERVICE}/Legacy")(b"")
            client, server = await pair(exporter, "Legacy")
            assert_connected(client, server)
            assert reply.decode() == format_traceparent(server.context)

    run(scenario)


def test_the_registered_profiler_on_the_aio_server(exporter: InMemoryExporter) -> None:
    calls: list[tuple[str, Span]] = []

    class Profile:
        def __init__(self, span: Span) -> None:
            self.span = span

        def finish(self) -> list[tuple[str, str]]:
            if ("end", self.span) not in calls:
                calls.append(("end", self.span))
            return []

        def stop(self) -> None:
            return None

        def early_headers(self) -> list[tuple[str, str]]:
            return []

    class Profiler:
        request_headers = ("x-c13-profile",)

        def decide(self, method: str, path: str, header: Callable[[str], str | None]) -> str:
            return path

        def begin(self, decision: str, span: Span, frame: Any) -> Profile:
            assert current_span() is span and decision == f"/{SERVICE}/Watch"
            calls.append(("start", span))
            return Profile(span)

    previous = set_request_profiler(lambda config: Profiler())
    try:
        hooked = aio_server_interceptor(
            service_name="stock-server", exporter=exporter, export_mode="simple", profile_sample_rate=1.0
        )
    finally:
        set_request_profiler(previous)

    async def scenario() -> None:
        async with serving(exporter, hooked) as channel:
            assert [r async for r in channel.unary_stream(f"/{SERVICE}/Watch")(b"2")] == [b"0", b"1"]
            _, server = await pair(exporter, "Watch")
            assert calls == [("start", server), ("end", server)]

    run(scenario)


def test_aio_client_interceptors_are_one_per_call_type() -> None:
    interceptors = aio_client_interceptors("localhost:50051")
    kinds = (
        grpc.aio.UnaryUnaryClientInterceptor,
        grpc.aio.UnaryStreamClientInterceptor,
        grpc.aio.StreamUnaryClientInterceptor,
        grpc.aio.StreamStreamClientInterceptor,
    )
    assert [type(i).__mro__[1:] for i in interceptors]  # four distinct objects ...
    assert [sum(isinstance(i, kind) for kind in kinds) for i in interceptors] == [1, 1, 1, 1]  # ... one type each
    assert all(isinstance(i, kind) for i, kind in zip(interceptors, kinds, strict=True))
