"""What the viewer's two HTTP servers (the OTLP receiver and the query API) share: the threading server, the token
check, bounded request bodies (gzip bombs included) and JSON answers.

Security model (docs/viewer.md): bound to loopback with no token, any local client may read and write, and the
``Host`` header must name a loopback host (a web page that rebinds its DNS name to 127.0.0.1 cannot read the API).
With a token, every request must carry it: ``Authorization: Bearer <token>`` (receiver and API), or for the API a
``c13_view_token`` cookie, which a request with ``?token=<token>`` sets.
"""

from __future__ import annotations

import hmac
import ipaddress
import json
import socket
import zlib
from http.cookies import SimpleCookie
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

MAX_BODY = 32 * 1024 * 1024  # bytes, compressed or not
LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1", "[::1]"})
COOKIE = "c13_view_token"


class BodyError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def is_loopback_literal(host: str) -> bool:
    """Whether a Host header names loopback by itself: ``localhost`` or a loopback address. Never resolved: a
    rebinding attacker's name resolves to 127.0.0.1 too."""
    if host.lower() in LOOPBACK_HOSTS:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def is_loopback(host: str) -> bool:
    """Whether a listen address (``--host``) is loopback, resolving a name."""
    if is_loopback_literal(host):
        return True
    try:
        addresses = [str(info[4][0]) for info in socket.getaddrinfo(host, None)]
        return all(address.startswith("127.") or address == "::1" for address in addresses)
    except OSError:
        return False


def gunzip(data: bytes, limit: int) -> bytes:
    """Decompress, refusing (413) anything that would exceed ``limit`` bytes, without inflating it first."""
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        out = inflater.decompress(data, limit + 1)
    except zlib.error:
        raise BodyError(400, "the body is not valid gzip") from None
    if len(out) > limit or inflater.unconsumed_tail:
        raise BodyError(413, f"the decompressed body exceeds {limit} bytes")
    if not inflater.eof:
        raise BodyError(400, "the gzip body is truncated")
    return out


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler], token: str | None,
                 app: Any) -> None:  # fmt: skip
        self.token = token
        self.app = app
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        super().__init__(address, handler)


class Handler(BaseHTTPRequestHandler):
    server: Server
    protocol_version = "HTTP/1.1"
    timeout = 30
    allow_cookie = False  # the API accepts the token as a cookie; the receiver only as a header

    def log_message(self, format: str, *args: Any) -> None:
        return None

    # --- access ----------------------------------------------------------------------------------------------------
    def authorized(self) -> bool:
        """Checks the Host header (no token) or the token; answers 403/401 itself when refusing."""
        token = self.server.token
        if token is None:
            host = urlsplit("//" + (self.headers.get("Host") or "")).hostname or ""
            if host and not is_loopback_literal(host):
                self.send_json(403, {"error": "this viewer answers only requests to a loopback host name"})
                return False
            return True
        offered = ""
        auth = self.headers.get("Authorization") or ""
        if auth[:7].lower() == "bearer ":
            offered = auth[7:].strip()
        elif self.allow_cookie:
            cookie = SimpleCookie()
            try:
                cookie.load(self.headers.get("Cookie") or "")
            except Exception:
                cookie = SimpleCookie()
            if COOKIE in cookie:
                offered = cookie[COOKIE].value
            query = parse_qs(urlsplit(self.path).query).get("token")
            if query and hmac.compare_digest(query[0].encode(), token.encode()):
                self.set_cookie = True
                return True
        if offered and hmac.compare_digest(offered.encode(), token.encode()):
            return True
        self.send_json(401, {"error": "a token is required"}, {"WWW-Authenticate": 'Bearer realm="c13 view"'})
        return False

    set_cookie = False

    # --- bodies ----------------------------------------------------------------------------------------------------
    def read_body(self, limit: int = MAX_BODY) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() not in ("", "identity"):
            self.close_connection = True
            raise BodyError(411, "send the body with a Content-Length")
        raw_length = self.headers.get("Content-Length")
        if raw_length is None or not raw_length.isdigit():
            self.close_connection = True
            raise BodyError(411, "Content-Length is required")
        length = int(raw_length)
        if length > limit:
            self.close_connection = True  # the unread body would otherwise be taken for the next request
            if length <= 2 * limit:  # read it (and drop it), so that the sender sees the 413, not a broken pipe
                remaining = length
                while remaining > 0:
                    chunk = self.rfile.read(min(1 << 20, remaining))
                    if not chunk:
                        break
                    remaining -= len(chunk)
            raise BodyError(413, f"the body exceeds {limit} bytes")
        data = self.rfile.read(length)
        if len(data) != length:
            self.close_connection = True
            raise BodyError(400, "the body was cut short")
        encoding = (self.headers.get("Content-Encoding") or "identity").lower()
        if encoding == "gzip":
            return gunzip(data, limit)
        if encoding != "identity":
            raise BodyError(415, f"unsupported Content-Encoding {encoding[:20]!r}")
        return data

    # --- answers ---------------------------------------------------------------------------------------------------
    def send_bytes(self, status: int, body: bytes, content_type: str, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Cache-Control", "no-store")
        if self.set_cookie and self.server.token:
            self.send_header("Set-Cookie", f"{COOKIE}={self.server.token}; HttpOnly; SameSite=Strict; Path=/")
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def send_json(self, status: int, value: Any, headers: dict[str, str] | None = None) -> None:
        # <, > and & only ever occur inside JSON strings: escaped, the answer stays inert even if embedded in HTML.
        text = json.dumps(value, separators=(",", ":"), ensure_ascii=True)
        body = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026").encode()
        self.send_bytes(status, body, "application/json; charset=utf-8", headers)


__all__ = ["MAX_BODY", "BodyError", "Handler", "Server", "gunzip", "is_loopback", "is_loopback_literal"]
