"""One ``c13 view`` process: the store, the OTLP receivers (HTTP, and gRPC when grpcio is installed) and the
query API, started and stopped together."""

from __future__ import annotations

import collections
import errno
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ._api import ApiHandler
from ._http import MAX_BODY, Server
from ._queries import Queries
from ._receiver import ReceiverHandler
from ._store import Store

logger = logging.getLogger("c13_middleware.view")

PageHandler = Callable[[ApiHandler, str, dict[str, list[str]]], None]


class PortInUse(OSError):
    """A port could not be bound; the message names the flag that sets it."""


@dataclass(frozen=True)
class ViewOptions:
    db: Path
    host: str = "127.0.0.1"
    otlp_http_port: int = 4318
    otlp_grpc_port: int | None = 4317  # None: no gRPC receiver
    ui_port: int = 16686
    max_spans: int = 1_000_000
    retention_s: float = 7 * 24 * 3600.0
    token: str | None = None
    max_body: int = MAX_BODY
    max_pending_spans: int = 200_000


class ViewApp:
    """Started by ``start()`` (binds every port or none), stopped by ``stop()`` (commits what was received)."""

    def __init__(self, options: ViewOptions) -> None:
        self.options = options
        self.pages: PageHandler | None = None  # the UI's GET handler for paths outside /api/ (docs/viewer.md)
        self.token = options.token
        self.max_body = options.max_body
        self.store = Store(options.db, max_spans=options.max_spans, retention_s=options.retention_s,
                           max_pending=options.max_pending_spans)  # fmt: skip
        self.queries = Queries(options.db)
        self.counters: collections.Counter[str] = collections.Counter()
        self.ports: dict[str, int] = {}
        self._servers: list[Server] = []
        self._grpc: Any = None
        self._threads: list[threading.Thread] = []

    def status(self) -> dict[str, Any]:
        return {"receiver": dict(self.counters), "ports": dict(self.ports)}

    def _bind(self, flag: str, port: int, handler: type[Any]) -> Server:
        try:
            server = Server((self.options.host, port), handler, self.token, self)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise PortInUse(f"port {port} on {self.options.host} is in use: choose another with {flag}") from None
            raise PortInUse(f"cannot listen on {self.options.host}:{port} ({flag}): {exc.strerror or exc}") from None
        return server

    def start(self) -> None:
        try:
            receiver = self._bind("--otlp-http-port", self.options.otlp_http_port, ReceiverHandler)
            self._servers.append(receiver)
            api = self._bind("--ui-port", self.options.ui_port, ApiHandler)
            self._servers.append(api)
            self.ports = {"otlp_http": receiver.server_address[1], "ui": api.server_address[1]}
            if self.options.otlp_grpc_port is not None:
                self._start_grpc(self.options.otlp_grpc_port)
        except BaseException:
            self.stop()
            raise
        for server in self._servers:
            thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True,
                                      name=f"c13-view-http-{server.server_address[1]}")  # fmt: skip
            thread.start()
            self._threads.append(thread)

    def _start_grpc(self, port: int) -> None:
        try:
            from ._grpc import start_grpc
        except ImportError:
            logger.info("c13 view: grpcio is not installed: no OTLP/gRPC receiver (pip install 'c13-middleware[grpc]')")
            return
        try:
            self._grpc, self.ports["otlp_grpc"] = start_grpc(self, self.options.host, port)
        except OSError:
            raise PortInUse(f"port {port} on {self.options.host} is in use: choose another with --otlp-grpc-port"
                            ) from None  # fmt: skip

    def stop(self) -> None:
        if self._grpc is not None:
            self._grpc.stop(grace=1.0).wait(2.0)
            self._grpc = None
        for index, server in enumerate(self._servers):
            if index < len(self._threads):  # serving: shutdown() waits for serve_forever to return
                server.shutdown()
            server.server_close()
        self._servers, self._threads = [], []
        self.store.close()
        self.queries.close()


__all__ = ["PageHandler", "PortInUse", "ViewApp", "ViewOptions"]
