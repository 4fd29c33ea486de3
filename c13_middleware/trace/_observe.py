"""The hook through which request-level consumers (metrics) see every traced server request.

Observers run on the request path: they must be cheap. An observer that raises is logged once and skipped.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Literal, Protocol, runtime_checkable

from ._safety import log_once

if TYPE_CHECKING:
    from ._span import Span


class ObservedRequest(Protocol):
    """The view of a traced server request that observers get (the server layer's request satisfies it)."""

    @property
    def span(self) -> Span:
        """The request's SERVER span."""
        ...

    @property
    def method(self) -> str:
        """The HTTP method as recorded (``_OTHER`` for one outside the known methods)."""
        ...

    @property
    def scheme(self) -> str: ...

    @property
    def route(self) -> str | None:
        """The matched route template, if the framework reported one."""
        ...

    @property
    def status(self) -> int | None:
        """The response status, None while (or when) no response started."""
        ...

    @property
    def error_type(self) -> str | None:
        """``error.type`` of a failed request (an exception's qualified name, or a 5xx status), else None."""
        ...


@runtime_checkable
class RequestObserver(Protocol):
    def request_started(self, request: ObservedRequest) -> None:
        """The request's span was opened (``request.method``, ``request.scheme`` are known)."""

    def request_finished(self, request: ObservedRequest, duration_s: float) -> None:
        """The span ended: ``request.route``, ``request.status`` and ``request.error_type`` are final."""


def notify(observers: Iterable[object], method_name: str, *args: object, **kwargs: object) -> None:
    """Call ``method_name`` on each observer that has it; one that raises is logged once and skipped."""
    for observer in observers:
        method = getattr(observer, method_name, None)
        if method is None:
            continue
        try:
            method(*args, **kwargs)
        except Exception:
            log_once(f"observer:{type(observer).__name__}", "c13_middleware: observer failed", exc_info=True)


def record_http_client_call(
    observers: Iterable[object],
    *,
    method: str,
    server_address: str,
    server_port: int | None,
    status: int | None,
    duration_s: float,
    scheme: str = "",
    error_type: str | None = None,
) -> None:
    """Report one finished outgoing HTTP request (``http.client.request.duration``) to ``observers``."""
    notify(
        observers,
        "http_client_request",
        method=method,
        server_address=server_address,
        server_port=server_port,
        status=status,
        duration_s=duration_s,
        scheme=scheme,
        error_type=error_type,
    )


def record_rpc_call(
    observers: Iterable[object],
    kind: Literal["client", "server"],
    *,
    service: str,
    method: str,
    grpc_status_code: int | None,
    duration_s: float,
    error_type: str | None = None,
    system: str = "grpc",
) -> None:
    """Report one finished RPC (``rpc.client.call.duration`` or ``rpc.server.call.duration``) to ``observers``."""
    notify(
        observers,
        "rpc_call",
        kind,
        service=service,
        method=method,
        grpc_status_code=grpc_status_code,
        duration_s=duration_s,
        error_type=error_type,
        system=system,
    )
