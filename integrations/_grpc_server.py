"""gRPC server side: the call lifecycle shared by the sync and aio interceptors (on the server core's request
lifecycle, as HTTP requests), and the sync interceptor."""

from __future__ import annotations

import asyncio
import sys
import threading
from collections.abc import Callable, Iterator
from typing import Any

import grpc

from c13_middleware.server._core import RpcHead, ServerCore, ServerRequest
from c13_middleware.trace._safety import log_once

from ._grpc_common import (
    CANCELLED,
    DEADLINE_EXCEEDED,
    OK,
    UNKNOWN,
    method_attributes,
    parse_peer,
    record_status,
)

Behavior = Callable[[Any, Any], Any]


class ServerCall:
    """One call's server request, with the gRPC parts HTTP does not have: the status code, cancellation, and the
    profile's headers sent as trailing metadata. The sync and aio handlers drive it through the same steps:
    ``enter``/``exit`` around each piece of handler work, then ``returned`` or ``failed``."""

    __slots__ = ("request", "context", "_done", "_entered")

    def __init__(self, request: ServerRequest, context: Any) -> None:
        self.request = request
        self.context = context
        self._done = threading.Lock()
        self._entered = False

    @property
    def finished(self) -> bool:
        return self._done.locked()

    def enter(self) -> None:
        """Make the span and the baggage current; the first time, also start the call's profile if it was chosen
        (the caller is the handler's frame, a function, a generator or a coroutine: the profile covers what runs
        below it)."""
        request = self.request
        request.activate()
        if not self._entered:
            self._entered = True
            if request.profile_decision is not None:
                request.begin_profile(sys._getframe(1))

    def exit(self) -> None:
        self.request.deactivate()

    def returned(self) -> None:
        """The handler returned (or its response stream ended)."""
        self.finish(final_code(self.context))

    def failed(self, exc: BaseException) -> None:
        """The handler raised. Stopped from outside (the client went away, the task was cancelled): the code it set,
        else CANCELLED or DEADLINE_EXCEEDED. Otherwise the code it set (``abort``/``set_code``), else UNKNOWN as gRPC
        sends."""
        code = code_of(self.context)
        if code is not None and code is not OK:
            self.finish(code, None if isinstance(exc, (GeneratorExit, asyncio.CancelledError)) else exc)
        elif isinstance(exc, (GeneratorExit, asyncio.CancelledError)):
            self.finish(cancelled_code(self.context))
        else:
            self.finish(UNKNOWN, exc)

    def finish(self, code: grpc.StatusCode, exc: BaseException | None = None) -> None:
        """End the call exactly once, from whichever thread or callback gets there first."""
        if not self._done.acquire(blocking=False):
            return
        request = self.request
        error_type = record_status(request.span, code, exc, server=True)
        request.rpc_ended(code.value[0], error_type)
        self._send_profile_metadata(request.profile_headers(streamed=False))  # stops the profile
        request.finish()

    def _send_profile_metadata(self, headers: list[tuple[str, str]]) -> None:
        """A token-bearing caller gets ``x-c13-profile-id`` and ``server-timing`` as trailing metadata (gRPC's
        place for what is known only once the handler returned), after any the handler set itself."""
        if not headers:
            return
        try:
            mine = tuple((name.lower(), value) for name, value in headers)
            self.context.set_trailing_metadata(tuple(self.context.trailing_metadata() or ()) + mine)
        except Exception:  # the RPC already ended (cancelled): nothing can be sent
            pass

    def terminated(self) -> Callable[[], None]:
        """Callback for ``context.add_callback``: the RPC ended while the handler still ran (client cancelled or
        deadline passed); a normal end finishes the call earlier, so this does nothing then."""

        def callback() -> None:
            if not self.finished:
                self.finish(cancelled_code(self.context))

        return callback


def cancelled_code(context: Any) -> grpc.StatusCode:
    """Why a call stopped before its handler finished: its deadline passed, else the client cancelled it."""
    try:
        remaining = context.time_remaining()
    except Exception:
        remaining = None
    return DEADLINE_EXCEEDED if remaining is not None and remaining <= 0 else CANCELLED


def final_code(context: Any) -> grpc.StatusCode:
    """The status of a handler that returned: what it set, else OK, unless the RPC already ended under it (the
    client cancelled, or the deadline passed, while the handler ran)."""
    code = code_of(context)
    if code is not None:
        return code
    is_active = getattr(context, "is_active", None)  # sync contexts; grpc.aio delivers a CancelledError instead
    try:
        active = is_active() if is_active is not None else True
    except Exception:
        active = True
    return OK if active else cancelled_code(context)


def code_of(context: Any) -> grpc.StatusCode | None:
    try:
        code = context.code()
    except Exception:
        return None
    return code if isinstance(code, grpc.StatusCode) else None


class ServerTracing:
    """Base of both server interceptors: a server core built from the options, and ``begin`` for each call."""

    def __init__(self, **options: Any) -> None:
        self.core = ServerCore(options)

    def begin(self, method: str | bytes, metadata: Any, context: Any) -> ServerCall | None:
        """The call's SERVER span (context from the invocation metadata, the trust rule and the profiling trigger
        as for HTTP); None when it cannot be traced."""
        try:
            name, attributes = method_attributes(method)
            try:
                address, port = parse_peer(context.peer())
            except Exception:
                address, port = None, None
            request = self.core.start_rpc(RpcHead(name, attributes, address, port, metadata))
        except Exception:
            log_once("grpc-server-start", "c13_middleware: could not start a gRPC server span", exc_info=True)
            return None
        if request is None:
            return None
        call = ServerCall(request, context)
        add_callback = getattr(context, "add_callback", None)
        if add_callback is not None:
            try:
                add_callback(call.terminated())
            except Exception:
                log_once("grpc-server-callback", "c13_middleware: could not watch a gRPC call", exc_info=True)
        return call


# --- sync handlers (the sync server; the aio server runs these too for plain-function handlers); the aio ones in
# _grpc_aio.py are the same steps with ``await``.


def traced_unary(tracing: ServerTracing, behavior: Behavior, method: str, metadata: Any) -> Behavior:
    def handler(request: Any, context: Any) -> Any:
        call = tracing.begin(method, metadata, context)
        if call is None:
            return behavior(request, context)
        call.enter()
        try:
            response = behavior(request, context)
        except BaseException as exc:
            call.failed(exc)
            raise
        finally:
            call.exit()
        call.returned()
        return response

    return handler


def traced_stream(tracing: ServerTracing, behavior: Behavior, method: str, metadata: Any) -> Behavior:
    def handler(request: Any, context: Any) -> Iterator[Any]:
        call = tracing.begin(method, metadata, context)
        if call is None:
            return iter(behavior(request, context))
        return _iterate(call, behavior, request, context)

    return handler


def _iterate(call: ServerCall, behavior: Behavior, request: Any, context: Any) -> Iterator[Any]:
    """The handler's responses, with the span current while the handler runs (not while gRPC sends)."""
    responses: Any = None
    try:
        call.enter()
        try:
            responses = iter(behavior(request, context))
        finally:
            call.exit()
        while True:
            call.enter()
            try:
                item = next(responses)
            except StopIteration:
                break
            finally:
                call.exit()
            yield item
    except BaseException as exc:  # GeneratorExit: gRPC stopped iterating, the client went away
        try:
            close = getattr(responses, "close", None)
            if close is not None:
                close()
        finally:
            call.failed(exc)
        raise
    call.returned()


# grpc's four handler kinds: the attribute holding the behaviour, the factory that rebuilds the handler, streaming?
HANDLER_KINDS = (
    ("unary_unary", grpc.unary_unary_rpc_method_handler, False),
    ("stream_unary", grpc.stream_unary_rpc_method_handler, False),
    ("unary_stream", grpc.unary_stream_rpc_method_handler, True),
    ("stream_stream", grpc.stream_stream_rpc_method_handler, True),
)


def wrap_handler(handler: Any, wrap: Callable[[Behavior, bool], Behavior]) -> Any:
    """``handler`` rebuilt around ``wrap(behavior, streaming)``, keeping its kind and (de)serializers."""
    for attribute, factory, streaming in HANDLER_KINDS:
        behavior = getattr(handler, attribute)
        if behavior is not None:
            return factory(wrap(behavior, streaming), handler.request_deserializer, handler.response_serializer)
    return handler


def wrap_sync_handler(tracing: ServerTracing, handler: Any, method: str, metadata: Any) -> Any:
    def wrap(behavior: Behavior, streaming: bool) -> Behavior:
        return (traced_stream if streaming else traced_unary)(tracing, behavior, method, metadata)

    return wrap_handler(handler, wrap)


class C13ServerInterceptor(ServerTracing, grpc.ServerInterceptor):
    """For ``grpc.server(executor, interceptors=[server_interceptor(**options)])``."""

    def intercept_service(
        self, continuation: Callable[[grpc.HandlerCallDetails], Any], handler_call_details: grpc.HandlerCallDetails
    ) -> Any:
        handler = continuation(handler_call_details)
        if handler is None:
            return None
        try:
            return wrap_sync_handler(
                self, handler, handler_call_details.method, handler_call_details.invocation_metadata
            )
        except Exception:
            log_once("grpc-server-wrap", "c13_middleware: could not trace a gRPC handler", exc_info=True)
            return handler
