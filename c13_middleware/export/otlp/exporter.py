"""``OTLPExporter``: sends spans to an OpenTelemetry Collector (or any OTLP backend), over HTTP or gRPC.

``export`` runs in the batch processor's thread, never in a request. A collector that is down, slow or failing
costs spans, which are counted and each outage logged (its start and its end), never request latency or memory:
nothing is buffered here beyond the batch being sent, and one export gives up after ``max_retry_time``.
"""

from __future__ import annotations

import ssl
import threading
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from ...trace._exporters import ExportResult, SpanExporter
from ...trace._safety import log_once
from . import encode_json
from .config import Settings, grpc_target, redact_url, resolve_settings
from .outage import OutageLog
from .retry import Backoff, RetryClock
from .sender import Attempt, Sender
from .transport import HTTPSender, build_ssl_context

if TYPE_CHECKING:
    from ...trace._span import Span
    from .encode_json import JsonEncoder
    from .encode_proto import ProtobufEncoder

DEFAULT_MAX_RETRY_TIME = 10.0


class OTLPExporter(SpanExporter):
    """OTLP trace exporter: over HTTP, binary protobuf (``"http/protobuf"``, the default) or JSON
    (``"http/json"``); or over gRPC (``"grpc"``, which needs the ``grpc`` and ``otlp`` extras).

    Options left as None come from ``OTEL_EXPORTER_OTLP_TRACES_*``, then ``OTEL_EXPORTER_OTLP_*`` (see
    ``docs/export.md``). ``timeout`` is in seconds and bounds each attempt; ``max_retry_time`` bounds the retries
    of one export (429/502/503/504 or the retryable gRPC codes, connection errors and timeouts are retried,
    honouring ``Retry-After`` or ``RetryInfo``). ``insecure`` and the certificate files are the specification's
    options; ``ssl_context`` is for HTTP only.

    Counters: ``spans_sent`` (accepted by the backend), ``spans_rejected`` (refused in a partial success),
    ``spans_dropped`` (not delivered: refused request, retries exhausted, shut down, unencodable),
    ``export_failures`` (exports that returned FAILURE) and ``retries``.
    """

    def __init__(
        self,
        endpoint: str | None = None,
        protocol: str | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: float | None = None,
        compression: str | None = None,
        *,
        max_retry_time: float = DEFAULT_MAX_RETRY_TIME,
        environ: Mapping[str, str] | None = None,
        ssl_context: ssl.SSLContext | None = None,
        backoff: Backoff | None = None,
        insecure: bool | None = None,
        certificate_file: str | None = None,
        client_certificate_file: str | None = None,
        client_key_file: str | None = None,
    ) -> None:
        if not max_retry_time >= 0:
            raise ValueError(f"max_retry_time must be >= 0 seconds, got {max_retry_time!r}")
        self.settings: Settings = resolve_settings(
            endpoint,
            protocol,
            headers,
            timeout,
            compression,
            environ,
            insecure=insecure,
            certificate_file=certificate_file,
            client_certificate_file=client_certificate_file,
            client_key_file=client_key_file,
        )
        settings = self.settings
        if settings.protocol == "grpc":
            if ssl_context is not None:
                raise ValueError("ssl_context is for OTLP/HTTP; give gRPC the certificate files instead")
            from . import grpc_transport  # noqa: F401 (needs the grpc extra: fails here, at start-up, saying so)
        self._shown_endpoint = redact_url(settings.endpoint)  # for logs and repr: credentials never shown
        self._outage = OutageLog(self._shown_endpoint)
        self.max_retry_time = float(max_retry_time)
        self.backoff = backoff or Backoff()
        self._encoder: ProtobufEncoder | JsonEncoder
        if settings.protocol == "http/json":
            self._encoder = encode_json.JsonEncoder()
        else:
            from .encode_proto import ProtobufEncoder  # needs the otlp extra: fails here, at start-up

            self._encoder = ProtobufEncoder()
        self._sender = self._make_sender(ssl_context)
        self._closed = threading.Event()
        self._no_retry = threading.Event()  # set by stop_retrying() and by shutdown()
        self._lock = threading.Lock()  # one request at a time (the simple processor may call from many threads)
        self._count_lock = threading.Lock()
        self.spans_sent = 0
        self.spans_rejected = 0
        self.spans_dropped = 0
        self.export_failures = 0
        self.retries = 0

    def _make_sender(self, ssl_context: ssl.SSLContext | None) -> Sender:
        settings = self.settings
        compress = settings.compression == "gzip"
        if settings.protocol == "grpc":
            from .grpc_transport import GRPCSender

            target, secure = grpc_target(settings.endpoint, settings.insecure)
            return GRPCSender(
                target,
                secure=secure,
                headers=settings.headers,
                compress=compress,
                backoff=self.backoff,
                certificate_file=settings.certificate_file,
                client_certificate_file=settings.client_certificate_file,
                client_key_file=settings.client_key_file,
            )
        if ssl_context is None:
            ssl_context = build_ssl_context(
                settings.certificate_file, settings.client_certificate_file, settings.client_key_file
            )
        return HTTPSender(
            settings.endpoint, self._encoder.content_type, settings.headers, ssl_context, compress=compress
        )

    def __repr__(self) -> str:
        return f"OTLPExporter({self._shown_endpoint!r}, protocol={self.settings.protocol!r})"

    @property
    def endpoint(self) -> str:
        return self.settings.endpoint

    def stats(self) -> dict[str, int]:
        return {
            "spans_sent": self.spans_sent,
            "spans_rejected": self.spans_rejected,
            "spans_dropped": self.spans_dropped,
            "export_failures": self.export_failures,
            "retries": self.retries,
        }

    def export(self, spans: Sequence[Span]) -> ExportResult:
        if not spans:
            return ExportResult.SUCCESS
        if self._closed.is_set():
            return self._fail(len(spans))
        try:
            body, unencodable = self._encoder.encode_counted(spans)
        except Exception:
            log_once("otlp-encode-failed", "c13_middleware: OTLP: encoding spans failed; spans dropped", exc_info=True)
            return self._fail(len(spans))
        if unencodable:  # left out of the body: dropped, whatever becomes of the others
            with self._count_lock:
                self.spans_dropped += unencodable
        count = len(spans) - unencodable
        if not count:
            return self._fail(0)
        body = self._sender.prepare(body)
        with self._lock:
            try:
                return self._send(body, count)
            except Exception:  # a bug here must cost spans, not the export thread
                log_once("otlp-send-failed", "c13_middleware: OTLP: sending spans failed", exc_info=True)
                return self._fail(count)
            finally:
                if self._closed.is_set():  # shutdown() did not wait for this export: its connection ends here
                    self._sender.close()

    def _send(self, body: bytes, count: int) -> ExportResult:
        clock = RetryClock(self.max_retry_time, self.backoff)
        timeout = self.settings.timeout
        while True:
            attempt = self._sender.send(body, timeout)
            if attempt.accepted:
                self._accepted(attempt, count)
                self._outage.succeeded(self.spans_dropped)
                return ExportResult.SUCCESS
            if self._closed.is_set():  # shutdown() broke the attempt off: nothing to report
                return self._fail(count)
            retrying = attempt.retryable and not self._no_retry.is_set()
            self._outage.failed(attempt.problem, retrying, self.spans_dropped)
            if not retrying:
                return self._fail(count)
            delay = clock.next_delay(attempt.retry_after)
            if delay is None:
                self._outage.gave_up(self.max_retry_time)
                return self._fail(count)
            if self._no_retry.wait(delay):  # stop_retrying() or shutdown() cuts the wait short
                return self._fail(count)
            self.retries += 1
            timeout = max(0.001, min(self.settings.timeout, clock.remaining()))

    def _accepted(self, attempt: Attempt, count: int) -> None:
        rejected, message = 0, ""
        if attempt.body:
            try:
                if attempt.json:
                    rejected, message = encode_json.parse_response(attempt.body)
                else:
                    from .proto_values import parse_response

                    rejected, message = parse_response(attempt.body)
            except Exception:  # an unreadable success body: the spans were still accepted
                log_once(
                    "otlp-response", "c13_middleware: OTLP: could not read the response of %s", self._shown_endpoint
                )
        rejected = min(max(rejected, 0), count)
        with self._count_lock:
            self.spans_sent += count - rejected
            self.spans_rejected += rejected
        if rejected:
            log_once("otlp-partial-success", "c13_middleware: OTLP: %s rejected %d of %d spans: %s",
                     self._shown_endpoint, rejected, count, message or "(no message)")  # fmt: skip
        elif message:
            log_once("otlp-partial-success-warning", "c13_middleware: OTLP: %s accepted all spans with a warning: %s",
                     self._shown_endpoint, message)  # fmt: skip

    def _fail(self, count: int) -> ExportResult:
        with self._count_lock:
            self.spans_dropped += count
            self.export_failures += 1
        return ExportResult.FAILURE

    def stop_retrying(self) -> None:
        """The process is ending: each export makes one attempt, and a backoff wait ends now."""
        self._no_retry.set()

    def shutdown(self) -> None:
        """Later exports fail at once; a backoff wait or a request in flight is cut short."""
        self._closed.set()
        self._no_retry.set()
        self._sender.abort()
        # An export in flight closes the connection itself when it ends (an attempt that abort() cannot cut short,
        # a connect in progress, may last its whole timeout): shutdown() never waits for it.
        if self._lock.acquire(timeout=0.05):
            try:
                self._sender.close()
            finally:
                self._lock.release()

    def force_flush(self, timeout_millis: float = 30_000) -> bool:
        return True  # nothing is buffered here


__all__ = ["DEFAULT_MAX_RETRY_TIME", "OTLPExporter"]
