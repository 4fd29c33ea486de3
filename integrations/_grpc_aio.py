"""grpc.aio: client interceptors (one object per call type, as grpc.aio requires) and the server interceptor."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import grpc
import grpc.aio

from c13_middleware.trace._safety import log_once

from ._grpc_common import CANCELLED, ClientTracing, RpcSpan
from ._grpc_server import Behavior, ServerCall, ServerTracing, traced_stream, traced_unary, wrap_handler

# --- client -------------------------------------------------------------------------------------------------------


def _with_metadata(details: grpc.aio.ClientCallDetails, fields: list[tuple[str, str]]) -> grpc.aio.ClientCallDetails:
    metadata = grpc.aio.Metadata(*tuple(details.metadata or ()))
    for key, value in fields:
        metadata.set_all(key, [value])
    return grpc.aio.ClientCallDetails(
        details.method, details.timeout, metadata, details.credentials, details.wait_for_ready
    )


def _status_now(call: Any) -> grpc.StatusCode | None:
    """The status of a call that is done. ``code()`` is a coroutine, but on a done call it never suspends, so it is
    run to completion here, inside the (synchronous) done-callback; None if it would have to wait."""
    try:
        if call.cancelled():
            return CANCELLED
        coroutine = call.code()
        try:
            coroutine.send(None)
        except StopIteration as stop:
            return stop.value if isinstance(stop.value, grpc.StatusCode) else None
        coroutine.close()
    except Exception:
        log_once("grpc-aio-status", "c13_middleware: could not read a grpc.aio call's status", exc_info=True)
    return None


class _AioClientBase:
    def __init__(self, tracing: ClientTracing) -> None:
        self._tracing = tracing

    async def _intercept(self, continuation: Any, details: grpc.aio.ClientCallDetails, request: Any) -> Any:
        started = self._tracing.start(details, _with_metadata)
        if started is None:
            return await continuation(details, request)
        call_span, details = started
        try:
            call = await continuation(details, request)
        except BaseException as exc:
            code = exc.code() if isinstance(exc, grpc.aio.AioRpcError) else None
            call_span.finish(CANCELLED if isinstance(exc, asyncio.CancelledError) else code, exc)
            raise
        _follow(call_span, call)
        return call


def _follow(call_span: RpcSpan, call: Any) -> None:
    """End the span when the call is done: response received, stream exhausted, failed, cancelled by the caller,
    or cancelled by gRPC when an un-iterated call object is garbage-collected."""
    try:
        call.add_done_callback(lambda done: call_span.finish(_status_now(done)))
    except Exception:
        log_once("grpc-aio-follow", "c13_middleware: could not follow a grpc.aio call", exc_info=True)
        call_span.finish(None)


class _UnaryUnary(_AioClientBase, grpc.aio.UnaryUnaryClientInterceptor):
    async def intercept_unary_unary(
        self, continuation: Any, client_call_details: grpc.aio.ClientCallDetails, request: Any
    ) -> Any:
        return await self._intercept(continuation, client_call_details, request)


class _UnaryStream(_AioClientBase, grpc.aio.UnaryStreamClientInterceptor):
    async def intercept_unary_stream(
        self, continuation: Any, client_call_details: grpc.aio.ClientCallDetails, request: Any
    ) -> Any:
        return await self._intercept(continuation, client_call_details, request)


class _StreamUnary(_AioClientBase, grpc.aio.StreamUnaryClientInterceptor):
    async def intercept_stream_unary(
        self, continuation: Any, client_call_details: grpc.aio.ClientCallDetails, request_iterator: Any
    ) -> Any:
        return await self._intercept(continuation, client_call_details, request_iterator)


class _StreamStream(_AioClientBase, grpc.aio.StreamStreamClientInterceptor):
    async def intercept_stream_stream(
        self, continuation: Any, client_call_details: grpc.aio.ClientCallDetails, request_iterator: Any
    ) -> Any:
        return await self._intercept(continuation, client_call_details, request_iterator)


def aio_client_interceptor_list(target: str | None, options: dict[str, Any]) -> list[grpc.aio.ClientInterceptor]:
    tracing = ClientTracing(target, options)  # one pipeline shared by the four
    return [_UnaryUnary(tracing), _UnaryStream(tracing), _StreamUnary(tracing), _StreamStream(tracing)]


# --- server -------------------------------------------------------------------------------------------------------


def _async_unary(tracing: ServerTracing, behavior: Behavior, method: str, metadata: Any) -> Behavior:
    async def handler(request: Any, context: Any) -> Any:
        call = tracing.begin(method, metadata, context)
        if call is None:
            return await behavior(request, context)
        call.enter()
        try:
            response = await behavior(request, context)
        except BaseException as exc:  # CancelledError: the client went away or the deadline passed
            call.failed(exc)
            raise
        finally:
            call.exit()
        call.returned()
        return response

    return handler


def _async_gen(tracing: ServerTracing, behavior: Behavior, method: str, metadata: Any) -> Behavior:
    async def handler(request: Any, context: Any) -> AsyncIterator[Any]:
        call = tracing.begin(method, metadata, context)
        if call is None:
            async for item in behavior(request, context):
                yield item
            return
        async for item in _aiterate(call, behavior, request, context):
            yield item

    return handler


async def _aiterate(call: ServerCall, behavior: Behavior, request: Any, context: Any) -> AsyncIterator[Any]:
    """``_iterate`` (in _grpc_server.py) for an async-generator handler."""
    responses: Any = None
    try:
        call.enter()
        try:
            responses = behavior(request, context)
        finally:
            call.exit()
        while True:
            call.enter()
            try:
                item = await responses.__anext__()
            except StopAsyncIteration:
                break
            finally:
                call.exit()
            yield item
    except BaseException as exc:  # GeneratorExit or CancelledError: the client went away
        try:
            aclose = getattr(responses, "aclose", None)
            if aclose is not None:
                await aclose()
        finally:
            call.failed(exc)
        raise
    call.returned()


def _wrap_aio_handler(tracing: ServerTracing, handler: Any, method: str, metadata: Any) -> Any:
    def wrap(behavior: Behavior, streaming: bool) -> Behavior:
        # grpc.aio picks how to run a handler from its kind, so the wrapper must be of the same kind.
        if inspect.isasyncgenfunction(behavior):
            return _async_gen(tracing, behavior, method, metadata)
        if inspect.iscoroutinefunction(behavior):
            return _async_unary(tracing, behavior, method, metadata)
        return (traced_stream if streaming else traced_unary)(tracing, behavior, method, metadata)

    return wrap_handler(handler, wrap)


class C13AioServerInterceptor(ServerTracing, grpc.aio.ServerInterceptor):
    """For ``grpc.aio.server(interceptors=[aio_server_interceptor(**options)])``."""

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[Any]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> Any:
        handler = await continuation(handler_call_details)
        if handler is None:
            return None
        try:
            return _wrap_aio_handler(
                self, handler, handler_call_details.method, handler_call_details.invocation_metadata
            )
        except Exception:
            log_once("grpc-aio-server-wrap", "c13_middleware: could not trace a grpc.aio handler", exc_info=True)
            return handler
