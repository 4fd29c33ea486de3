"""What the exporter's retry loop needs of a transport (OTLP/HTTP or OTLP/gRPC): one attempt at a time, and its
outcome in the same terms whatever the protocol, so that retrying, dropping and counting are written once."""

from __future__ import annotations

from typing import NamedTuple, Protocol


class Attempt(NamedTuple):
    accepted: bool
    retryable: bool = False
    retry_after: float | None = None  # seconds, when the server said how long to wait
    kind: str = ""  # what went wrong, as a short key: each kind is logged once
    problem: str = ""  # the same for people, e.g. "answered 503 Service Unavailable"
    body: bytes = b""  # an accepted request's response
    json: bool = False  # whether ``body`` is OTLP JSON (else a binary ExportTraceServiceResponse)


class Sender(Protocol):
    def prepare(self, body: bytes) -> bytes:
        """The serialized request as this transport sends it (compressed, for HTTP), once per export."""
        ...

    def send(self, body: bytes, timeout: float) -> Attempt:
        """One attempt of at most ``timeout`` seconds. A network or server failure is an ``Attempt``, not raised."""
        ...

    def abort(self) -> None:
        """From any thread: break off an attempt in flight."""
        ...

    def close(self) -> None: ...
