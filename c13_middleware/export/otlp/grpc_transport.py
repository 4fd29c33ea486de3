"""Sends to one OTLP/gRPC endpoint: a unary ``TraceService/Export`` call carrying the already serialized request, on
one channel kept for the exporter's life. Imported only when the protocol is ``grpc``: it needs grpcio."""

from __future__ import annotations

import importlib
import re
import threading
from collections.abc import Mapping, Sequence
from typing import Any

from ..._version import __version__
from ...trace._safety import log_once
from .retry import Backoff, clamp_delay, grpc_retryable
from .sender import Attempt

INSTALL_HINT = "pip install 'c13-middleware[grpc,otlp]'"

try:
    import grpc
except ImportError as exc:
    raise ImportError(f"OTLP/gRPC export needs the grpcio package: {INSTALL_HINT}") from exc

EXPORT_METHOD = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"
STATUS_DETAILS_KEY = "grpc-status-details-bin"
# Set by gRPC itself, or not text: a header by one of these names is not sent.
RESERVED_METADATA = frozenset({"content-type", "content-encoding", "content-length", "te", "user-agent", "host"})
METADATA_KEY = re.compile(r"[0-9a-z_.-]+")


def call_metadata(headers: Mapping[str, str]) -> tuple[tuple[str, str], ...]:
    """The headers as call metadata, keys in lower case as gRPC requires; keys gRPC reserves or rejects are left
    out (and logged once)."""
    metadata = []
    for name, value in headers.items():
        key = name.lower()
        if (
            key in RESERVED_METADATA
            or key.startswith("grpc-")
            or key.endswith("-bin")
            or not METADATA_KEY.fullmatch(key)
        ):
            log_once(f"otlp-grpc-metadata:{key}", "c13_middleware: OTLP/gRPC: header %r cannot be sent as gRPC "
                     "metadata; left out", name)  # fmt: skip
            continue
        metadata.append((key, value))
    return tuple(metadata)


def load_status_messages() -> tuple[Any, Any] | None:
    """google.rpc's ``Status`` and ``RetryInfo`` (the googleapis-common-protos package), or None without it."""
    try:
        status = importlib.import_module("google.rpc.status_pb2")
        details = importlib.import_module("google.rpc.error_details_pb2")
    except ImportError:
        return None
    return status.Status, details.RetryInfo


def retry_info(
    trailers: Sequence[tuple[str, str | bytes]] | None, messages: tuple[Any, Any] | None
) -> tuple[bool, float | None]:
    """Whether the rich status in ``trailers`` carries a ``RetryInfo``, and its ``retry_delay`` in seconds if set.

    Without the google.rpc messages nothing can be read: no ``RetryInfo``.
    """
    if messages is None:
        return False, None
    status_type, retry_info_type = messages
    for key, value in trailers or ():
        if key != STATUS_DETAILS_KEY or not isinstance(value, bytes):
            continue
        try:
            for detail in status_type.FromString(value).details:
                if detail.Is(retry_info_type.DESCRIPTOR):
                    info = retry_info_type()
                    detail.Unpack(info)
                    if not info.HasField("retry_delay"):
                        return True, None
                    delay = info.retry_delay
                    return True, clamp_delay(delay.seconds + delay.nanos / 1e9)
        except Exception:  # unreadable details say nothing
            return False, None
    return False, None


def _read(path: str | None) -> bytes | None:
    if path is None:
        return None
    with open(path, "rb") as file:
        return file.read()


def channel_credentials(
    certificate_file: str | None, client_certificate_file: str | None, client_key_file: str | None
) -> grpc.ChannelCredentials:
    """TLS trusting ``certificate_file`` (else gRPC's roots), presenting the client certificate if given. Without
    a key file, the key is read from the certificate file, as ``ssl.SSLContext.load_cert_chain`` does."""
    key_file = client_key_file or client_certificate_file
    return grpc.ssl_channel_credentials(_read(certificate_file), _read(key_file), _read(client_certificate_file))


class GRPCSender:
    """The ``Sender`` for OTLP/gRPC. Not for concurrent use: the exporter sends one request at a time."""

    def __init__(
        self,
        target: str,
        *,
        secure: bool,
        headers: Mapping[str, str],
        compress: bool,
        backoff: Backoff,
        certificate_file: str | None = None,
        client_certificate_file: str | None = None,
        client_key_file: str | None = None,
        method: str = EXPORT_METHOD,
    ) -> None:
        options = [
            ("grpc.primary_user_agent", f"c13-middleware/{__version__}"),
            # gRPC waits up to 120 s between reconnections by default, failing every call meanwhile: after a
            # collector restart, exports would keep failing long after it is back.
            ("grpc.initial_reconnect_backoff_ms", max(1, int(backoff.initial * 1000))),
            ("grpc.max_reconnect_backoff_ms", max(1, int(backoff.maximum * 1000))),
        ]
        compression = grpc.Compression.Gzip if compress else grpc.Compression.NoCompression
        if secure:
            credentials = channel_credentials(certificate_file, client_certificate_file, client_key_file)
            self._channel = grpc.secure_channel(target, credentials, options, compression)
        else:
            self._channel = grpc.insecure_channel(target, options, compression)
        # No serializers: the request is already serialized, and the exporter reads the response bytes.
        self._export: grpc.UnaryUnaryMultiCallable[bytes, bytes] = self._channel.unary_unary(method)
        self._metadata = call_metadata(headers)
        self._status_messages = load_status_messages()
        self._lock = threading.Lock()
        self._in_flight: grpc.Future[Any] | None = None
        self._aborted = False

    def prepare(self, body: bytes) -> bytes:
        return body  # the channel compresses

    def send(self, body: bytes, timeout: float) -> Attempt:
        with self._lock:  # so that abort() either cancels this call or stops it from starting
            if self._aborted:
                return Attempt(False, kind="grpc-aborted", problem="was shut down")
            call = self._export.future(body, timeout=timeout, metadata=self._metadata)
            self._in_flight = call
        try:
            response = call.result()
        except grpc.FutureCancelledError:
            return Attempt(False, retryable=True, kind="grpc-CANCELLED", problem="cancelled the call")
        except grpc.RpcError:
            return self._failure(call)
        finally:
            with self._lock:
                self._in_flight = None
        return Attempt(True, body=response)

    def _failure(self, call: grpc.Call) -> Attempt:
        code = call.code()
        name = code.name if code is not None else "UNKNOWN"
        has_retry_info, delay = retry_info(call.trailing_metadata(), self._status_messages)
        retryable = grpc_retryable(name, has_retry_info)
        details = call.details()
        return Attempt(
            False,
            retryable=retryable,
            retry_after=delay if retryable else None,
            kind=f"grpc-{name}",
            problem=f"answered {name}" + (f" ({details})" if details else ""),
        )

    def abort(self) -> None:
        with self._lock:
            self._aborted = True
            call = self._in_flight
        if call is not None:
            call.cancel()

    def close(self) -> None:
        self._channel.close()
