"""The OTLP/gRPC receiver: ``TraceService/Export`` and ``ProfilesService/Export``, when grpcio is installed.

The request bytes are decoded by the same code as OTLP/HTTP's. A malformed request is ``INVALID_ARGUMENT`` (nothing
stored), a missing or wrong token ``UNAUTHENTICATED``, a full store queue ``UNAVAILABLE`` (which exporters retry).
"""

from __future__ import annotations

import collections
import hmac
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol

import grpc

from ._decode import Malformed, decode_profiles, decode_traces
from ._store import Store


class ViewApp(Protocol):
    """What the receiver needs of ``_app.ViewApp``."""

    token: str | None
    max_body: int
    store: Store
    counters: collections.Counter[str]


TRACE_SERVICE = "opentelemetry.proto.collector.trace.v1.TraceService"
PROFILES_SERVICE = "opentelemetry.proto.collector.profiles.v1development.ProfilesService"


def _export(app: ViewApp, decode: Any) -> Any:
    def export(request: bytes, context: grpc.ServicerContext) -> bytes:
        if app.token is not None:
            metadata = dict(context.invocation_metadata())
            auth = str(metadata.get("authorization", ""))
            offered = auth[7:].strip() if auth[:7].lower() == "bearer " else ""
            if not (offered and hmac.compare_digest(offered.encode(), app.token.encode())):
                context.abort(grpc.StatusCode.UNAUTHENTICATED, "a token is required")
        try:
            item = decode(request, False)
        except Malformed as exc:
            app.counters["malformed"] += 1
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(exc))
        if not app.store.submit(item):
            context.abort(grpc.StatusCode.UNAVAILABLE, "the viewer is busy storing; retry later")
        return b""  # an empty Export*ServiceResponse: everything accepted

    return export


def start_grpc(app: ViewApp, host: str, port: int) -> tuple[grpc.Server, int]:
    """Start serving; the server and the port bound. Raises ``OSError`` when the port cannot be bound."""
    server = grpc.server(
        ThreadPoolExecutor(max_workers=8, thread_name_prefix="c13-view-grpc"),
        options=[("grpc.max_receive_message_length", app.max_body), ("grpc.so_reuseport", 0)],
    )
    for service, decode in ((TRACE_SERVICE, decode_traces), (PROFILES_SERVICE, decode_profiles)):
        handler: grpc.RpcMethodHandler[bytes, bytes] = grpc.unary_unary_rpc_method_handler(_export(app, decode))
        server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(service, {"Export": handler}),))
    address = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    try:
        bound = server.add_insecure_port(address)
    except RuntimeError as exc:
        raise OSError(str(exc)) from None
    if not bound:
        raise OSError(f"cannot bind {address}")
    server.start()
    return server, bound


__all__ = ["start_grpc"]
