"""What a server shell reads from its request before the span opens: the one argument of ``ServerCore.start``."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, NamedTuple

HeaderItems = Callable[[], Iterable[tuple[str, str]]]


class RequestHead(NamedTuple):
    """An HTTP request's head, as the ASGI and WSGI shells (and the Django adapter) read it.

    The shells build it with ``new_head(RequestHead, (...))``, all fields in order: a NamedTuple's own constructor
    costs a few hundred nanoseconds more per request, and ``ServerCore.start`` unpacks it in one step.
    """

    method: str
    path: str
    scheme: str
    query: str = ""
    host: str | None = None  # the Host header, if any
    user_agent: str | None = None
    # The propagator's header names (lower case) → their field values; None or empty: the request carries none.
    propagation: Mapping[str, Sequence[str]] | None = None
    protocol_version: str | None = None
    server: tuple[str, int | None] | None = None  # the listening socket, for a request without a Host header
    client: str | None = None  # the socket peer's address
    header_items: HeaderItems | None = None  # all request headers, only when headers are captured


new_head = tuple.__new__


class RpcHead(NamedTuple):
    """An RPC's head, as a server interceptor reads it (gRPC: ``integrations/_grpc_server.py``)."""

    name: str  # the span name, ``package.Service/Method``
    attributes: Mapping[str, Any]  # rpc.system, rpc.service, rpc.method
    client_address: str | None = None
    client_port: int | None = None
    # The invocation metadata (lower-case keys, repeated keys allowed): the propagation and profiling-trigger fields.
    metadata: Iterable[tuple[str, str | bytes]] | None = None
