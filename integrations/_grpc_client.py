"""Sync gRPC client interceptor: one CLIENT span per call, ended by the call's done-callback."""

from __future__ import annotations

import weakref
from typing import Any

import grpc

from c13_middleware.trace._safety import log_once

from ._grpc_common import CANCELLED, OK, ClientTracing, RpcSpan


class _CallDetails(grpc.ClientCallDetails):
    """The caller's details with our metadata added (grpc reads these attributes, whatever the class)."""

    def __init__(self, base: grpc.ClientCallDetails, metadata: tuple[tuple[str, str | bytes], ...]) -> None:
        self.method = base.method
        self.timeout = base.timeout
        self.metadata = metadata
        self.credentials = base.credentials
        self.wait_for_ready = getattr(base, "wait_for_ready", None)
        self.compression = getattr(base, "compression", None)


def with_metadata(details: grpc.ClientCallDetails, fields: list[tuple[str, str]]) -> grpc.ClientCallDetails:
    """``details`` with ``fields`` replacing any entries of the same keys (a retried call must not send two)."""
    names = {key for key, _ in fields}
    kept = tuple(item for item in (details.metadata or ()) if item[0] not in names)
    return _CallDetails(details, (*kept, *fields))


def finish_from_future(call: RpcSpan, future: Any) -> None:
    """Done-callback of a sync call (unary outcome, stream rendezvous or error): status code, then end."""
    try:
        code = future.code()
    except Exception:
        code = None
    exc: BaseException | None = None
    if code is not None and code is not OK:
        try:
            error = future.exception()
        except Exception:  # a cancelled future raises instead of returning
            error = None
        if isinstance(error, BaseException) and not isinstance(error, grpc.RpcError):
            exc = error  # a local failure (serialization, an interceptor) rather than a status from the server
    call.finish(code if isinstance(code, grpc.StatusCode) else None, exc)


def follow(call: RpcSpan, outcome: Any) -> None:
    """End the span when the call terminates. The termination callback holds the call object only weakly: a
    strong reference (what ``add_done_callback`` keeps) would stop gRPC from cancelling a response stream that the
    caller dropped without reading, and the RPC would run on; a collected call ends the span as CANCELLED."""
    if outcome.done():  # a blocking call's outcome, or an error
        finish_from_future(call, outcome)
        return
    ref = weakref.ref(outcome)

    def terminated() -> None:
        target = ref()
        if target is None:
            call.finish(CANCELLED)
        else:
            finish_from_future(call, target)

    if not outcome.add_callback(terminated):  # terminated in between
        finish_from_future(call, outcome)


class C13ClientInterceptor(
    grpc.UnaryUnaryClientInterceptor,
    grpc.UnaryStreamClientInterceptor,
    grpc.StreamUnaryClientInterceptor,
    grpc.StreamStreamClientInterceptor,
):
    """For ``grpc.intercept_channel(channel, interceptor)``; build it with ``client_interceptor(target, **options)``.

    Every call type gets a span that ends when the call terminates: a unary response arrived or failed, a response
    stream was exhausted, failed or was cancelled (``call.cancel()``, or the call object garbage-collected).
    """

    def __init__(self, target: str | None = None, **options: Any) -> None:
        self._tracing = ClientTracing(target, options)

    def _intercept(self, continuation: Any, details: grpc.ClientCallDetails, request: Any) -> Any:
        started = self._tracing.start(details, with_metadata)
        if started is None:
            return continuation(details, request)
        call, details = started
        try:
            outcome = continuation(details, request)
        except BaseException as exc:
            call.finish(None, exc)
            raise
        try:
            follow(call, outcome)
        except Exception:
            log_once("grpc-done-callback", "c13_middleware: could not follow a gRPC call", exc_info=True)
            call.finish(None)
        return outcome

    def intercept_unary_unary(
        self, continuation: Any, client_call_details: grpc.ClientCallDetails, request: Any
    ) -> Any:
        return self._intercept(continuation, client_call_details, request)

    def intercept_unary_stream(
        self, continuation: Any, client_call_details: grpc.ClientCallDetails, request: Any
    ) -> Any:
        return self._intercept(continuation, client_call_details, request)

    def intercept_stream_unary(
        self, continuation: Any, client_call_details: grpc.ClientCallDetails, request_iterator: Any
    ) -> Any:
        return self._intercept(continuation, client_call_details, request_iterator)

    def intercept_stream_stream(
        self, continuation: Any, client_call_details: grpc.ClientCallDetails, request_iterator: Any
    ) -> Any:
        return self._intercept(continuation, client_call_details, request_iterator)
