"""``OTLPProfileExporter``: sends finished profile reports as OTLP Profiles, off the request path.

The request thread only appends the report to a bounded queue (``export``); a background thread sends batches
through the span exporter's transport, retries and counters (an ``OTLPExporter`` pointed at the profiles endpoint
with the profiles encoder). A full queue drops the report and counts it, never blocks a request.

Endpoint: the ``endpoint`` option, else ``OTEL_EXPORTER_OTLP_PROFILES_ENDPOINT`` (as given), else
``OTEL_EXPORTER_OTLP_ENDPOINT`` + ``/v1development/profiles`` (as given, over gRPC), else
``http://localhost:4318/v1development/profiles``. Every other setting reads ``OTEL_EXPORTER_OTLP_PROFILES_*``, then
``OTEL_EXPORTER_OTLP_*``. Protocols: ``http/protobuf`` and ``grpc`` (``http/json`` is sent as protobuf: OTLP
Profiles has no stable JSON form yet).
"""

from __future__ import annotations

import atexit
import collections
import os
import threading
import time
import weakref
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ...trace._context import suppress_instrumentation
from ...trace._exporters import ExportResult
from ...trace._safety import log_once
from .config import grpc_target
from .encode_profiles import ProfileEncoder, ReportLike
from .exporter import OTLPExporter

if TYPE_CHECKING:
    from ...trace._resource import Resource
    from .sender import Sender

PROFILES_PATH = "v1development/profiles"
DEFAULT_PROFILES_ENDPOINT = "http://localhost:4318/" + PROFILES_PATH
PROFILES_METHOD = "/opentelemetry.proto.collector.profiles.v1development.ProfilesService/Export"


def profiles_environ(env: Mapping[str, str]) -> dict[str, str]:
    """``env`` with ``OTEL_EXPORTER_OTLP_PROFILES_*`` standing where the trace settings look (``..._TRACES_*``)."""
    out = {k: v for k, v in env.items() if not k.startswith("OTEL_EXPORTER_OTLP_TRACES_")}
    for key, value in env.items():
        if key.startswith("OTEL_EXPORTER_OTLP_PROFILES_"):
            out["OTEL_EXPORTER_OTLP_TRACES_" + key.removeprefix("OTEL_EXPORTER_OTLP_PROFILES_")] = value
    return out


def profiles_endpoint(env: Mapping[str, str], grpc: bool) -> str:
    explicit = env.get("OTEL_EXPORTER_OTLP_PROFILES_ENDPOINT", "").strip()
    if explicit:
        return explicit
    base = env.get("OTEL_EXPORTER_OTLP_ENDPOINT", "").strip()
    if grpc:
        return base or "http://localhost:4317"
    if not base:
        return DEFAULT_PROFILES_ENDPOINT
    return base + PROFILES_PATH if base.endswith("/") else f"{base}/{PROFILES_PATH}"


class _ProfileTransport(OTLPExporter):
    """The span exporter's sending, retrying and counting, with the profiles encoder and gRPC method."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)  # builds its sender through the ``_make_sender`` below
        self._encoder = ProfileEncoder()  # type: ignore[assignment]

    def _make_sender(self, ssl_context: Any) -> Sender:
        settings = self.settings
        if settings.protocol != "grpc":
            return super()._make_sender(ssl_context)
        from .grpc_transport import GRPCSender

        target, secure = grpc_target(settings.endpoint, settings.insecure)
        return GRPCSender(
            target, secure=secure, headers=settings.headers, compress=settings.compression == "gzip",
            backoff=self.backoff, certificate_file=settings.certificate_file,
            client_certificate_file=settings.client_certificate_file, client_key_file=settings.client_key_file,
            method=PROFILES_METHOD,
        )  # fmt: skip


_LIVE: weakref.WeakSet[OTLPProfileExporter] = weakref.WeakSet()


class OTLPProfileExporter:
    """Queues finished reports (``export``, cheap, never raises) and sends them in batches from its own thread.

    Counters: ``profiles_sent``, ``profiles_dropped`` (queue full, or the send failed: see the transport's log).
    """

    def __init__(
        self,
        endpoint: str | None = None,
        protocol: str | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: float | None = None,
        compression: str | None = None,
        *,
        resource: Resource | None = None,
        environ: Mapping[str, str] | None = None,
        max_queue_size: int = 64,
        max_batch_size: int = 16,
        schedule_delay_s: float = 1.0,
        max_retry_time: float = 10.0,
    ) -> None:
        env = profiles_environ(os.environ if environ is None else environ)
        proto = protocol or env.get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL") or env.get("OTEL_EXPORTER_OTLP_PROTOCOL")
        grpc = (proto or "").strip() == "grpc"
        self.transport = _ProfileTransport(
            endpoint or profiles_endpoint(environ if environ is not None else os.environ, grpc),
            "grpc" if grpc else "http/protobuf",
            headers, timeout, compression, environ=env, max_retry_time=max_retry_time,
        )  # fmt: skip
        if resource is None:
            from ...trace._tracer import get_tracer

            resource = get_tracer().resource
        self.resource = resource
        self.max_queue_size = max_queue_size
        self.max_batch_size = max_batch_size
        self.schedule_delay_s = schedule_delay_s
        self.profiles_sent = 0
        self.profiles_dropped = 0
        self._queue: collections.deque[ReportLike] = collections.deque()
        self._wake = threading.Event()
        self._idle = threading.Event()
        self._idle.set()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._shut = False
        _LIVE.add(self)

    @property
    def endpoint(self) -> str:
        return self.transport.endpoint

    def __repr__(self) -> str:
        return f"OTLPProfileExporter({self.endpoint!r})"

    def export(self, report: ReportLike) -> None:
        """Queue ``report``; a full queue (or a shut exporter) drops and counts it."""
        if self._shut or len(self._queue) >= self.max_queue_size:
            self.profiles_dropped += 1
            log_once("profile-queue-full", "c13_middleware: profile export queue full (%d); dropping profiles",
                     self.max_queue_size)  # fmt: skip
            return
        self._idle.clear()
        self._queue.append(report)
        if self._thread is None:
            with self._lock:
                if self._thread is None:
                    self._thread = threading.Thread(target=self._run, name="c13-profile-exporter", daemon=True)
                    self._thread.start()
        if len(self._queue) >= self.max_batch_size:
            self._wake.set()

    def _run(self) -> None:
        while not self._shut:
            self._wake.wait(self.schedule_delay_s)
            self._wake.clear()
            self._drain()

    def _drain(self) -> None:
        queue = self._queue
        while queue:
            batch = [queue.popleft() for _ in range(min(len(queue), self.max_batch_size))]
            with suppress_instrumentation():
                result = self.transport.export([(report, self.resource) for report in batch])  # type: ignore[misc]
            if result is ExportResult.SUCCESS:
                self.profiles_sent += len(batch)
            else:
                self.profiles_dropped += len(batch)
        self._idle.set()

    def force_flush(self, timeout_s: float = 10.0) -> bool:
        """Send what is queued; whether the queue emptied within ``timeout_s``."""
        if self._thread is None or not self._thread.is_alive():
            self._drain()
            return not self._queue
        self._wake.set()
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self._idle.wait(0.01) and not self._queue:
                return True
            self._wake.set()
        return False

    def shutdown(self, timeout_s: float = 5.0) -> None:
        if self._shut:
            return
        self.force_flush(timeout_s)
        self._shut = True
        self._wake.set()
        self.transport.shutdown()

    def _after_fork_in_child(self) -> None:
        self._thread = None
        self._queue.clear()
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._idle = threading.Event()
        self._idle.set()


def _reset_after_fork() -> None:
    for exporter in list(_LIVE):
        exporter._after_fork_in_child()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_after_fork)


@atexit.register
def _shutdown_at_exit() -> None:
    for exporter in list(_LIVE):
        try:
            exporter.shutdown(timeout_s=5.0)
        except Exception:  # pragma: no cover - interpreter teardown
            pass


__all__ = ["DEFAULT_PROFILES_ENDPOINT", "OTLPProfileExporter", "profiles_endpoint", "profiles_environ"]
