"""A small local OTLP/HTTP receiver for the export tests: records what it is sent and answers as scripted."""

from __future__ import annotations

import collections
import gzip
import json
import ssl
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTracePartialSuccess,
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)


@dataclass
class Received:
    path: str
    headers: dict[str, str]  # lower-case names
    raw: bytes  # as sent (maybe gzipped)
    body: bytes  # decompressed
    at: float  # time.monotonic() on arrival
    client: tuple[str, int]

    def proto(self) -> ExportTraceServiceRequest:
        return ExportTraceServiceRequest.FromString(self.body)

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Reply:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes | None = None  # None: an empty ExportTraceServiceResponse in the request's encoding
    hang: bool = False  # wait until the receiver is released (or 30 s) before answering
    close: bool = False  # close the connection after answering, without saying so (a stale keep-alive)


class Receiver:
    def __init__(self, ssl_context: ssl.SSLContext | None = None) -> None:
        self.received: list[Received] = []
        self.replies: collections.deque[Reply] = collections.deque()
        self.default = Reply()
        self.release = threading.Event()
        self.arrived = threading.Condition()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self.server.daemon_threads = True
        if ssl_context is not None:
            self.server.socket = ssl_context.wrap_socket(self.server.socket, server_side=True)
        self.scheme = "https" if ssl_context is not None else "http"
        self.port = self.server.server_address[1]
        self._thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()

    @property
    def base_url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"{self.base_url}/v1/traces"

    def reply(self, *replies: Reply) -> None:
        """Answer the next requests with these, then with ``default``."""
        self.replies.extend(replies)

    def wait_for(self, count: int, timeout: float = 5.0) -> bool:
        with self.arrived:
            return self.arrived.wait_for(lambda: len(self.received) >= count, timeout)

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(5)


def _handler(receiver: Receiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as collectors do
        timeout = 10  # idle connections end instead of holding a thread forever

        def log_message(self, format: str, *args: Any) -> None:  # quiet
            return None

        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            headers = {k.lower(): v for k, v in self.headers.items()}
            body = gzip.decompress(raw) if headers.get("content-encoding") == "gzip" else raw
            reply = receiver.replies.popleft() if receiver.replies else receiver.default
            with receiver.arrived:
                receiver.received.append(Received(self.path, headers, raw, body, time.monotonic(), self.client_address))
                receiver.arrived.notify_all()
            if reply.hang:
                receiver.release.wait(30)
            is_json = headers.get("content-type") == "application/json"
            payload = reply.body
            if payload is None:
                payload = b"{}" if is_json else ExportTraceServiceResponse().SerializeToString()
            try:
                self.send_response(reply.status)
                self.send_header("Content-Type", "application/json" if is_json else "application/x-protobuf")
                self.send_header("Content-Length", str(len(payload)))
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(payload)
            except OSError:  # the client gave up waiting (a timeout test)
                self.close_connection = True
            if reply.close:
                self.close_connection = True

    return Handler


def partial_success_proto(rejected: int, message: str) -> bytes:
    return ExportTraceServiceResponse(
        partial_success=ExportTracePartialSuccess(rejected_spans=rejected, error_message=message)
    ).SerializeToString()


def any_value(value: Any) -> Any:
    """A decoded ``AnyValue`` as a Python value (arrays as tuples)."""
    which = value.WhichOneof("value")
    if which == "array_value":
        return tuple(any_value(v) for v in value.array_value.values)
    if which is None:
        return None
    return getattr(value, which)


def attributes(key_values: Any) -> dict[str, Any]:
    return {kv.key: any_value(kv.value) for kv in key_values}


def json_any_value(value: dict[str, Any]) -> Any:
    """A JSON ``AnyValue`` decoded the way a collector does (int64 strings → int, NaN strings → float)."""
    ((which, inner),) = value.items()
    if which == "arrayValue":
        return tuple(json_any_value(v) for v in inner.get("values", []))
    if which == "intValue":
        assert isinstance(inner, str), "int64 must be a decimal string in OTLP JSON"
        return int(inner)
    if which == "doubleValue":
        return float(inner)
    return inner


def json_attributes(key_values: list[dict[str, Any]]) -> dict[str, Any]:
    return {kv["key"]: json_any_value(kv["value"]) for kv in key_values}
