"""Shared by the gRPC interceptors (sync and aio, client and server): names, attributes, status codes; the client's
call span."""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import Any, TypeVar

import grpc
from grpc.aio import AbortError

from c13_middleware.client._core import Pipeline, inject_context
from c13_middleware.propagation._propagators import metadata_setter
from c13_middleware.trace._context import _suppressed
from c13_middleware.trace._observe import record_rpc_call
from c13_middleware.trace._safety import log_once
from c13_middleware.trace._semconv import exception_type_name, split_address
from c13_middleware.trace._span import Span, SpanKind, finish_span

OK = grpc.StatusCode.OK
CANCELLED = grpc.StatusCode.CANCELLED
UNKNOWN = grpc.StatusCode.UNKNOWN
DEADLINE_EXCEEDED = grpc.StatusCode.DEADLINE_EXCEEDED

# Semantic conventions (RPC spans, gRPC): on SERVER spans only these codes are errors; on CLIENT spans every
# code but OK is.
SERVER_ERROR_CODES = frozenset(
    {
        grpc.StatusCode.UNKNOWN,
        grpc.StatusCode.DEADLINE_EXCEEDED,
        grpc.StatusCode.UNIMPLEMENTED,
        grpc.StatusCode.INTERNAL,
        grpc.StatusCode.UNAVAILABLE,
        grpc.StatusCode.DATA_LOSS,
    }
)
GRPC_DEFAULT_PORT = 443


@functools.lru_cache(maxsize=1024)
def method_attributes(full_method: str | bytes) -> tuple[str, dict[str, Any]]:
    """``/package.Service/Method`` → (span name ``package.Service/Method``, rpc.* attributes)."""
    if isinstance(full_method, bytes):
        full_method = full_method.decode("utf-8", "replace")
    name = full_method.lstrip("/")
    service, _, method = name.rpartition("/")
    attributes: dict[str, Any] = {"rpc.system": "grpc"}
    if service:
        attributes["rpc.service"] = service
    if method:
        attributes["rpc.method"] = method
    return name or "grpc", attributes


def parse_target(target: str | None) -> tuple[str | None, int | None]:
    """A channel target (``host:port``, ``dns:///host:port``, ``ipv4:1.2.3.4:50051``, ``[::1]:50051``,
    ``unix:/path``) → (``server.address``, ``server.port``); the port defaults to 443 as in gRPC's resolver."""
    if not target:
        return None, None
    text = target.strip()
    for scheme in ("unix-abstract:", "unix:"):
        if text.startswith(scheme):
            return text[len(scheme) :].lstrip("/") or None, None
    for scheme in ("dns:", "ipv4:", "ipv6:"):
        if text.startswith(scheme):
            text = text[len(scheme) :]
            break
    if text.startswith("//"):  # dns://authority/host:port
        slash = text.find("/", 2)
        text = text[slash + 1 :] if slash >= 0 else text[2:]
    text = text.split(",", 1)[0]
    return split_address(text, GRPC_DEFAULT_PORT)


def parse_peer(peer: str | None) -> tuple[str | None, int | None]:
    """``context.peer()`` (``ipv4:127.0.0.1:5000``, ``ipv6:[::1]:5000``, ``unix:/path``) → (address, port)."""
    if not peer:
        return None, None
    kind, _, rest = peer.partition(":")
    if kind in ("ipv4", "ipv6"):
        return split_address(rest, None)
    return (rest or None), None


def is_abort_marker(exc: BaseException) -> bool:
    """The exception ``context.abort()`` raises to unwind the handler: not an application error."""
    if isinstance(exc, AbortError):
        return True
    return type(exc) is Exception and not exc.args  # the sync server raises a bare Exception()


def record_status(span: Span, code: grpc.StatusCode | None, exc: BaseException | None, *, server: bool) -> str | None:
    """Put a call's outcome on its span: ``rpc.grpc.status_code``, the exception (not ``abort``'s unwinding one),
    and the error status when the code is an error for this side. Returns the ``error.type`` (None: no error)."""
    error_type: str | None = None
    try:
        if exc is not None and isinstance(exc, Exception) and not is_abort_marker(exc):
            span.record_exception(exc)
        if code is not None:
            span.set_attribute("rpc.grpc.status_code", code.value[0])
            if code is not OK and (not server or code in SERVER_ERROR_CODES):
                error_type = code.name
                span.set_error(exc if exc is not None and not is_abort_marker(exc) else None, error_type=error_type)
        elif exc is not None:
            error_type = exception_type_name(exc)
            span.set_error(exc, error_type=error_type)
    except Exception:
        log_once("grpc-status", "c13_middleware: recording a gRPC status failed", exc_info=True)
    return error_type


class RpcSpan:
    """One client call's span; ``finish`` ends it exactly once, from whichever thread or callback gets there first."""

    __slots__ = ("span", "_done", "_observers", "_rpc")

    def __init__(self, span: Span, observers: tuple[object, ...] = (), rpc: Any = None) -> None:
        self.span = span
        self._done = threading.Lock()
        self._observers = observers
        self._rpc: dict[str, Any] = rpc or {}

    @property
    def finished(self) -> bool:
        return self._done.locked()

    def finish(self, code: grpc.StatusCode | None, exc: BaseException | None = None) -> None:
        if not self._done.acquire(blocking=False):
            return
        span = self.span
        error_type = record_status(span, code, exc, server=False)
        duration = finish_span(span, "a gRPC span")
        if self._observers:
            record_rpc_call(
                self._observers,
                "client",
                service=self._rpc.get("rpc.service", ""),
                method=self._rpc.get("rpc.method", ""),
                grpc_status_code=code.value[0] if code is not None else None,
                duration_s=duration,
                error_type=error_type,
            )


_D = TypeVar("_D", grpc.ClientCallDetails, grpc.aio.ClientCallDetails)


class ClientTracing:
    """The client side shared by the sync and aio interceptors: start the CLIENT span, add the context to the call's
    metadata (``with_metadata`` builds the sync or aio call details)."""

    __slots__ = ("pipeline", "target", "address", "port")

    def __init__(self, target: str | None, options: dict[str, Any]) -> None:
        self.pipeline = Pipeline(options)
        self.target = target or ""
        self.address, self.port = parse_target(target)

    def start(self, details: _D, with_metadata: Callable[[_D, list[tuple[str, str]]], _D]) -> tuple[RpcSpan, _D] | None:
        """The call's span and its call details carrying the context; None when suppressed or on failure."""
        if _suppressed.get():
            return None
        try:
            tracer, settings = self.pipeline.resolve()
            name, base = method_attributes(details.method)
            attributes = dict(base)
            if self.address:
                attributes["server.address"] = self.address
            if self.port is not None:
                attributes["server.port"] = self.port
            call = RpcSpan(
                tracer.start_span(name, kind=SpanKind.CLIENT, attributes=attributes),
                observers=settings.config.observers,
                rpc=base,
            )
        except Exception:
            log_once("grpc-client-start", "c13_middleware: could not start a gRPC client span", exc_info=True)
            return None
        try:
            if settings.propagates_to(self.address or "", self.port, self.target):
                fields: list[tuple[str, str]] = []
                inject_context(metadata_setter(fields), call.span, settings, self.address or "", self.port, self.target)
                if fields:
                    details = with_metadata(details, fields)
        except Exception:
            log_once("grpc-client-inject", "c13_middleware: could not add trace metadata", exc_info=True)
        return call, details
