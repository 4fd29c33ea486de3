"""POSTs to one OTLP/HTTP endpoint over a kept-alive ``http.client`` connection (standard library only)."""

from __future__ import annotations

import gzip
import http.client
import socket
import ssl
import threading
from collections.abc import Mapping
from typing import NamedTuple
from urllib.parse import urlsplit

from ..._version import __version__
from .retry import RETRYABLE_STATUS, parse_retry_after
from .sender import Attempt

MAX_RESPONSE_BYTES = 64 * 1024  # an export response is small; a larger body is cut and the connection dropped

# What a failed attempt can raise: OSError covers refused connections, resets and timeouts.
TRANSPORT_ERRORS = (OSError, http.client.HTTPException)


class Response(NamedTuple):
    status: int
    reason: str
    headers: Mapping[str, str]  # lower-case names
    body: bytes


def build_ssl_context(
    certificate_file: str | None, client_certificate_file: str | None, client_key_file: str | None
) -> ssl.SSLContext | None:
    """A context trusting ``certificate_file`` and presenting the client certificate, or None for the defaults."""
    if not (certificate_file or client_certificate_file):
        return None
    context = ssl.create_default_context(cafile=certificate_file)
    if client_certificate_file:
        context.load_cert_chain(client_certificate_file, client_key_file)
    return context


RESERVED_HEADERS = frozenset({"content-type", "content-encoding", "content-length"})  # set from the settings


class HTTPSender:
    """One connection, reused between requests and reopened when it breaks. Not for concurrent use: the exporter
    sends one request at a time. ``abort`` (from any thread) breaks off a request in flight."""

    def __init__(
        self,
        url: str,
        content_type: str,
        headers: Mapping[str, str] | None = None,
        ssl_context: ssl.SSLContext | None = None,
        *,
        compress: bool = False,
    ) -> None:
        parts = urlsplit(url)
        self.url = url
        self.headers = {
            **{k: v for k, v in (headers or {}).items() if k.lower() not in RESERVED_HEADERS},
            "Content-Type": content_type,
            "User-Agent": f"c13-middleware/{__version__}",
        }
        if compress:
            self.headers["Content-Encoding"] = "gzip"
        self.compress = compress
        self.https = parts.scheme == "https"
        self.host = parts.hostname or "localhost"
        self.port = parts.port or (443 if self.https else 80)
        self.path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        self._ssl_context = ssl_context
        self._conn: http.client.HTTPConnection | None = None
        self._lock = threading.Lock()
        self._aborted = False

    def _connect(self, timeout: float) -> http.client.HTTPConnection:
        if self.https:
            return http.client.HTTPSConnection(self.host, self.port, timeout=timeout, context=self._ssl_context)
        return http.client.HTTPConnection(self.host, self.port, timeout=timeout)

    def prepare(self, body: bytes) -> bytes:
        return gzip.compress(body, compresslevel=6) if self.compress else body

    def send(self, body: bytes, timeout: float) -> Attempt:
        try:
            response = self.post(body, self.headers, timeout)
        except TRANSPORT_ERRORS as exc:
            name = type(exc).__name__
            return Attempt(False, retryable=True, kind=f"unreachable:{name}", problem=f"is unreachable ({name}: {exc})")
        if 200 <= response.status < 300:
            return Attempt(True, body=response.body, json="json" in response.headers.get("content-type", ""))
        retryable = response.status in RETRYABLE_STATUS
        return Attempt(
            False,
            retryable=retryable,
            retry_after=parse_retry_after(response.headers.get("retry-after")) if retryable else None,
            kind=f"http-{response.status}",
            problem=f"answered {response.status} {response.reason}",
        )

    def post(self, body: bytes, headers: Mapping[str, str], timeout: float) -> Response:
        """Send once; raise one of ``TRANSPORT_ERRORS`` when no response came back.

        A kept-alive connection that the server closed while idle fails on first use; that attempt is repeated at
        once on a new connection (the request never reached the server).
        """
        with self._lock:
            conn, reused = self._conn, self._conn is not None
            if conn is None:
                conn = self._conn = self._connect(timeout)
        try:
            return self._exchange(conn, body, headers, timeout)
        except TRANSPORT_ERRORS as exc:
            self._discard(conn)
            if not reused or self._aborted or not isinstance(exc, (ConnectionError, http.client.BadStatusLine)):
                raise
        with self._lock:
            conn = self._conn = self._connect(timeout)
        try:
            return self._exchange(conn, body, headers, timeout)
        except TRANSPORT_ERRORS:
            self._discard(conn)
            raise

    def _exchange(
        self, conn: http.client.HTTPConnection, body: bytes, headers: Mapping[str, str], timeout: float
    ) -> Response:
        conn.timeout = timeout  # used when (re)connecting
        if conn.sock is not None:
            conn.sock.settimeout(timeout)
        conn.request("POST", self.path, body=body, headers=dict(headers))
        response = conn.getresponse()
        data = response.read(MAX_RESPONSE_BYTES)
        if not response.isclosed():  # more body than we read: the connection cannot be reused
            self._discard(conn)
        names = {name.lower(): value for name, value in response.getheaders()}
        return Response(response.status, response.reason, names, data)

    def _discard(self, conn: http.client.HTTPConnection) -> None:
        with self._lock:
            if self._conn is conn:
                self._conn = None
        conn.close()

    def abort(self) -> None:
        """Break off a request in flight (its attempt then fails at once) and refuse to reconnect quietly."""
        self._aborted = True
        with self._lock:
            conn = self._conn
        sock = conn.sock if conn is not None else None
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def close(self) -> None:
        with self._lock:
            conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()
