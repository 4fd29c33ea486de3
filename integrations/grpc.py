"""gRPC (grpcio, sync and ``grpc.aio``): CLIENT spans with context in the call metadata, SERVER spans current inside
the handler. See docs/outgoing.md.

Client::

    channel = grpc.intercept_channel(grpc.insecure_channel(target), client_interceptor(target, **options))
    channel = grpc.aio.insecure_channel(target, interceptors=aio_client_interceptors(target, **options))

Server::

    server = grpc.server(executor, interceptors=[server_interceptor(**options)])
    server = grpc.aio.server(interceptors=[aio_server_interceptor(**options)])

``options`` are the keyword options ``configure`` takes (``service_name``, ``sampler``, ``exporter``,
``propagate_to``, ...). Interceptors cannot see the channel's target, so pass it to the client factories to get
``server.address``/``server.port`` (and ``propagate_to`` host rules) on client spans; without it those attributes
are absent and only regex rules of ``propagate_to`` can match (against an empty target).
"""

from __future__ import annotations

from typing import Any

from ._require import require

require("grpc", "grpc")

import grpc.aio  # noqa: E402

from ._grpc_aio import C13AioServerInterceptor, aio_client_interceptor_list  # noqa: E402
from ._grpc_client import C13ClientInterceptor  # noqa: E402
from ._grpc_server import C13ServerInterceptor, ServerTracing  # noqa: E402

__all__ = [
    "C13AioServerInterceptor",
    "C13ClientInterceptor",
    "C13ServerInterceptor",
    "ServerTracing",
    "aio_client_interceptors",
    "aio_server_interceptor",
    "client_interceptor",
    "server_interceptor",
]


def client_interceptor(target: str | None = None, **options: Any) -> C13ClientInterceptor:
    """One interceptor for all four call types of a sync channel (``grpc.intercept_channel``)."""
    return C13ClientInterceptor(target, **options)


def aio_client_interceptors(target: str | None = None, **options: Any) -> list[grpc.aio.ClientInterceptor]:
    """The four ``grpc.aio`` client interceptors (unary-unary, unary-stream, stream-unary, stream-stream), sharing
    one pipeline: pass the list as ``interceptors=`` (grpc.aio files each object under one call type)."""
    return aio_client_interceptor_list(target, options)


def server_interceptor(**options: Any) -> C13ServerInterceptor:
    """For ``grpc.server(..., interceptors=[...])``."""
    return C13ServerInterceptor(**options)


def aio_server_interceptor(**options: Any) -> C13AioServerInterceptor:
    """For ``grpc.aio.server(interceptors=[...])``."""
    return C13AioServerInterceptor(**options)
