"""gRPC server side: the SERVER span lifecycle shared by the sync and aio interceptors, and the sync interceptor."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from types import FrameType
from typing import Any

import grpc

from c13_middleware.client._core import Pipeline
from c13_middleware.propagation._propagators import Propagated, metadata_getter
from c13_middleware.server._core import restart_links
from c13_middleware.server._extensions import request_profiler
from c13_middleware.trace._context import _Activation, _current_baggage
from c13_middleware.trace._safety import log_once
from c13_middleware.trace._span import Link, Span, SpanKind

from ._grpc_common import (
    CANCELLED,
    DEADLINE_EXCEEDED,
    OK,
    UNKNOWN,
    RpcSpan,
    method_attributes,
    parse_peer,
)

Behavior = Callable[[Any, Any], Any]


class ServerCall(RpcSpan):
    """A call's SERVER span plus the baggage that arrived with it; ``enter``/``exit`` make both current."""

    __slots__ = ("baggage", "metadata", "context", "_tracing", "_profiling")

    def __init__(
        self, span: Span, baggage: Any, tracing: ServerTracing, observers: tuple[object, ...] = (), rpc: Any = None
    ) -> None:
        super().__init__(span, server=True, observers=observers, rpc=rpc)
        self.baggage = baggage
        self.metadata: Any = None
        self.context: Any = None
        self._tracing = tracing
        self._profiling = False

    def enter(self) -> tuple[_Activation, Any]:
        state = (_Activation(self.span), _current_baggage.set(self.baggage))
        if not self._profiling:
            self._profiling = True
            try:
                # The caller is the handler's frame (a function, a generator or a coroutine): the profile covers
                # what runs below it.
                finish = self._tracing.start_profiling(self.span, self.metadata, sys._getframe(1))
                if finish is not None:
                    self._on_end = lambda: self._send_profile_metadata(finish())
            except Exception:
                log_once("grpc-profile-start", "c13_middleware: the per-call profiling hook failed", exc_info=True)
        return state

    def _send_profile_metadata(self, headers: list[tuple[str, str]] | None) -> None:
        """A token-bearing caller gets ``x-c13-profile-id`` and ``server-timing`` as trailing metadata (gRPC's
        place for what is known only once the handler returned), after any the handler set itself."""
        if not headers or self.context is None:
            return
        try:
            mine = tuple((name.lower(), value) for name, value in headers)
            self.context.set_trailing_metadata(tuple(self.context.trailing_metadata() or ()) + mine)
        except Exception:  # the RPC already ended (cancelled): nothing can be sent
            pass

    @staticmethod
    def exit(state: tuple[_Activation, Any]) -> None:
        activation, token = state
        activation.close()
        try:
            _current_baggage.reset(token)
        except ValueError:
            pass  # reset from another context: the activating one ended with its task

    def failed(self, exc: BaseException, context: Any) -> None:
        """The handler raised: the status is what it set (``abort``/``set_code``), else UNKNOWN as gRPC sends."""
        code = code_of(context)
        self.finish(code if code is not None and code is not OK else UNKNOWN, exc)

    def terminated(self, context: Any) -> Callable[[], None]:
        """Callback for ``context.add_callback``: the RPC ended while the handler still ran (client cancelled or
        deadline passed); a normal end finishes the span earlier, so this does nothing then."""

        def callback() -> None:
            if not self.finished:
                self.finish(cancelled_code(context))

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
    """Base of both server interceptors: opens the SERVER span; ``start_profiling`` is the profiling hook."""

    def __init__(self, **options: Any) -> None:
        self._pipeline = Pipeline(options, follow_current=False)
        config = self._pipeline.resolve()[1].config
        self._profiler = request_profiler(config)

    def start_profiling(
        self, span: Span, metadata: Any = None, frame: FrameType | None = None
    ) -> Callable[[], list[tuple[str, str]] | None] | None:
        """Per-call profiling. Called once per call, in the handler's thread or task with the SERVER span current,
        just before the handler runs (``frame`` is the handler's); the callable it returns is called once when the
        call ends. Triggers as for HTTP: the ``x-c13-profile`` + ``x-c13-profile-token`` metadata (the token signs
        ``POST`` and ``/package.Service/Method``), sampling, slow-call capture. The callable returns the profile
        headers an authorised caller is sent (as trailing metadata)."""
        profiler = self._profiler
        if profiler is None or frame is None:
            return None
        values: dict[str, str] = {}
        for key, value in metadata or ():
            if key in profiler.request_headers and isinstance(value, str):
                values.setdefault(key, value)
        decision = profiler.decide("POST", "/" + span.name, values.get)
        if decision is None:
            return None
        profile = profiler.begin(decision, span, frame)
        if profile is None:
            return None

        return profile.finish

    def begin(self, method: str | bytes, metadata: Any, context: Any) -> ServerCall | None:
        try:
            tracer, settings = self._pipeline.resolve()
            config = settings.config
            incoming = config.propagator.extract(metadata_getter(metadata), Propagated())
            parent = incoming.span_context
            baggage = incoming.baggage
            links: tuple[Link, ...] = ()
            if not config.trust_incoming_context:
                links = restart_links(parent)
                parent = None
                baggage = _current_baggage.get()
            name, base = method_attributes(method)
            attributes = dict(base)
            try:
                address, port = parse_peer(context.peer())
            except Exception:
                address, port = None, None
            if address:
                attributes["client.address"] = address
            if port is not None:
                attributes["client.port"] = port
            span = tracer.start_span(name, kind=SpanKind.SERVER, parent=parent, links=links, attributes=attributes)
            call = ServerCall(span, baggage, self, config.observers, base)
            call.metadata = metadata
            call.context = context
        except Exception:
            log_once("grpc-server-start", "c13_middleware: could not start a gRPC server span", exc_info=True)
            return None
        add_callback = getattr(context, "add_callback", None)
        if add_callback is not None:
            try:
                add_callback(call.terminated(context))
            except Exception:
                log_once("grpc-server-callback", "c13_middleware: could not watch a gRPC call", exc_info=True)
        return call


# --- sync handlers (the sync server; the aio server runs these too for plain-function handlers) -----------------


def traced_unary(tracing: ServerTracing, behavior: Behavior, method: str, metadata: Any) -> Behavior:
    def handler(request: Any, context: Any) -> Any:
        call = tracing.begin(method, metadata, context)
        if call is None:
            return behavior(request, context)
        state = call.enter()
        try:
            response = behavior(request, context)
        except BaseException as exc:
            call.failed(exc, context)
            raise
        finally:
            call.exit(state)
        call.finish(final_code(context))
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
    iterator: Any = None
    try:
        state = call.enter()
        try:
            iterator = iter(behavior(request, context))
        finally:
            call.exit(state)
        while True:
            state = call.enter()
            try:
                item = next(iterator)
            except StopIteration:
                break
            finally:
                call.exit(state)
            yield item
    except GeneratorExit:  # gRPC stopped iterating: the client went away
        close = getattr(iterator, "close", None)
        if close is not None:
            close()
        code = code_of(context)
        call.finish(code if code is not None and code is not OK else cancelled_code(context))
        raise
    except BaseException as exc:
        call.failed(exc, context)
        raise
    call.finish(final_code(context))


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
