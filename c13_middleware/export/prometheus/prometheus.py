"""Prometheus RED metrics for traced requests, named as OpenTelemetry's semantic conventions name them.

``PrometheusMetrics`` is a request observer (``observers=[PrometheusMetrics()]`` on any adapter or ``configure``),
and also what instrumented clients report their calls to (the observer methods ``http_client_request`` and
``rpc_call``).
``prometheus_client`` is imported on first use, so ``c13_middleware`` itself does not need it.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable
from types import ModuleType
from typing import TYPE_CHECKING, Any, Literal

from ...trace._semconv import KNOWN_METHODS

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry

    from ...server.asgi import ASGIApp, Receive, Scope, Send
    from ...trace._observe import ObservedRequest
    from ._instruments import Instruments

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
GRPC_UNIMPLEMENTED = 12


def _load(module: str) -> ModuleType:
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        if not (exc.name or "").startswith("prometheus_client"):
            raise
        raise ImportError(
            "c13_middleware's Prometheus metrics need prometheus_client: pip install 'c13-middleware[prometheus]'"
        ) from exc


def _registry(registry: CollectorRegistry | None) -> CollectorRegistry:
    if registry is not None:
        return registry
    default: CollectorRegistry = _load("prometheus_client").REGISTRY
    return default


class PrometheusMetrics:
    """RED metrics into ``registry`` (default: prometheus_client's global ``REGISTRY``).

    Any number of instances may share a registry: they share its instruments. ``namespace`` prefixes every metric
    name (``myapp_http_server_request_duration_seconds``). ``health`` adds the ``c13_*`` metrics: health (span
    export counters, queue length, profiler totals) and ``c13_findings_total{kind,http_route}`` (docs/findings.md).
    ``exemplars`` attaches the trace and span id of sampled requests to the duration histogram (visible in the
    OpenMetrics format only).
    """

    def __init__(
        self,
        registry: CollectorRegistry | None = None,
        *,
        namespace: str = "",
        health: bool = True,
        exemplars: bool = False,
    ) -> None:
        instruments = _load("c13_middleware.export.prometheus._instruments")
        self.registry = _registry(registry)
        self.namespace = namespace
        self.exemplars = exemplars
        self._instruments: Instruments = instruments.instruments_for(self.registry, namespace, health=health)

    def __repr__(self) -> str:
        return f"PrometheusMetrics(namespace={self.namespace!r})"

    # RequestObserver
    def request_started(self, request: ObservedRequest) -> None:
        self._instruments.active_child(request.method, request.scheme).inc()

    def request_finished(self, request: ObservedRequest, duration_s: float) -> None:
        instruments = self._instruments
        method = request.method
        scheme = request.scheme
        gauge = instruments.active_children.get((method, scheme))
        if gauge is not None:
            gauge.dec()
        route = request.route
        status = request.status
        error_type = request.error_type
        series = instruments.server
        key = (method, route, status, scheme, error_type)
        child = series.children.get(key)
        if child is None:
            status_text = "" if status is None else str(status)
            child = series.child(key, (method, route or "", status_text, scheme, error_type or ""))
        if self.exemplars:
            context = request.span.context
            if context.trace_flags & 1:
                exemplar = {"trace_id": f"{context.trace_id:032x}", "span_id": f"{context.span_id:016x}"}
                child.observe(duration_s, exemplar)
                return
        child.observe(duration_s)

    # Outgoing calls and RPCs (reported through record_http_client_call / record_rpc_call)
    def http_client_request(
        self,
        *,
        method: str,
        server_address: str,
        server_port: int | None,
        status: int | None,
        duration_s: float,
        scheme: str = "",
        error_type: str | None = None,
    ) -> None:
        """Record one outgoing HTTP request in ``http_client_request_duration_seconds``. ``method`` outside the
        known HTTP methods becomes ``_OTHER``; ``status`` None means no response arrived."""
        series = self._instruments.client
        key = (method, server_address, server_port, status, scheme, error_type)
        child = series.children.get(key)
        if child is None:
            values = (
                method if method in KNOWN_METHODS else "_OTHER",
                server_address,
                "" if server_port is None else str(server_port),
                "" if status is None else str(status),
                scheme,
                error_type or "",
            )
            child = series.child(key, values)
        child.observe(duration_s)

    def rpc_call(
        self,
        kind: Literal["client", "server"],
        *,
        service: str,
        method: str,
        grpc_status_code: int | None,
        duration_s: float,
        error_type: str | None = None,
        system: str = "grpc",
    ) -> None:
        """Record one RPC in ``rpc_client_call_duration_seconds`` (``kind="client"``) or
        ``rpc_server_call_duration_seconds`` (``kind="server"``). A server call answered UNIMPLEMENTED is recorded
        with service and method ``_OTHER``: the names of methods the server does not have are unbounded input."""
        series = self._instruments.rpc_server if kind == "server" else self._instruments.rpc_client
        key = (system, service, method, grpc_status_code, error_type)
        child = series.children.get(key)
        if child is None:
            if kind == "server" and grpc_status_code == GRPC_UNIMPLEMENTED:
                service = method = "_OTHER"
            status_text = "" if grpc_status_code is None else str(grpc_status_code)
            child = series.child(key, (system, service, method, status_text, error_type or ""))
        child.observe(duration_s)


class _MetricsASGIApp:
    """prometheus_client's ASGI app, answering lifespan messages so it can also run as the whole application.

    A class rather than a function so that Starlette's ``Route("/metrics", app)`` treats it as an ASGI app."""

    def __init__(self, registry: CollectorRegistry | None) -> None:
        self._app: ASGIApp = _load("prometheus_client").make_asgi_app(_registry(registry))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope.get("type")
        if kind == "http":
            await self._app(scope, receive, send)
        elif kind == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return


def metrics_asgi_app(registry: CollectorRegistry | None = None) -> ASGIApp:
    """An ASGI app serving ``registry`` (default: the global ``REGISTRY``) in the Prometheus text format (or
    OpenMetrics, when the scraper asks for it). Mount it at ``/metrics``."""
    return _MetricsASGIApp(registry)


def metrics_wsgi_app(registry: CollectorRegistry | None = None) -> WSGIApp:
    """A WSGI app serving ``registry`` (default: the global ``REGISTRY``). Mount it at ``/metrics``."""
    app: WSGIApp = _load("prometheus_client").make_wsgi_app(_registry(registry))
    return app
