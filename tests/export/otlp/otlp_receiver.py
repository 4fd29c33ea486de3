"""A small local OTLP/HTTP receiver for the export tests: records what it is sent and answers as scripted.

``Collector`` is what it shares with the gRPC one (grpc_receiver.py), so that the delivery tests run on both.
"""

from __future__ import annotations

import collections
import gzip
import json
import socket
import ssl
import subprocess
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Generic, TypeVar

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


R = TypeVar("R")  # a request as recorded
A = TypeVar("A")  # an answer as scripted


class Collector(Generic[R, A]):
    """Requests recorded in arrival order; answers scripted in order, then ``default``. The answer factories say
    the same things in each protocol's terms, for the tests that both protocols run."""

    protocol: str  # what the exporter must speak
    endpoint: str  # where it must send

    def __init__(self, default: A) -> None:
        self.received: list[R] = []
        self.replies: collections.deque[A] = collections.deque()
        self.default = default
        self.release = threading.Event()  # ends the waits of hanging answers
        self.arrived = threading.Condition()

    def reply(self, *replies: A) -> None:
        """Answer the next requests with these, then with ``default``."""
        self.replies.extend(replies)

    def wait_for(self, count: int, timeout: float = 5.0) -> bool:
        with self.arrived:
            return self.arrived.wait_for(lambda: len(self.received) >= count, timeout)

    def next_answer(self, request: R) -> A:
        """Record ``request`` and pick its answer."""
        answer = self.replies.popleft() if self.replies else self.default
        with self.arrived:
            self.received.append(request)
            self.arrived.notify_all()
        return answer

    def close(self) -> None:
        raise NotImplementedError

    def retryable(self, delay: int | None = None) -> A:
        """An answer to retry (after ``delay`` seconds, when the server says)."""
        raise NotImplementedError

    def retryable_answers(self) -> list[A]:
        """One answer of each retryable kind."""
        raise NotImplementedError

    def final(self) -> A:
        """An answer never to retry, even though the server gives a delay."""
        raise NotImplementedError

    def final_answers(self) -> list[A]:
        """Answers never to retry, of several kinds."""
        raise NotImplementedError

    def hanging(self) -> A:
        """No answer until the collector is closed."""
        raise NotImplementedError

    def partial_success(self, rejected: int, message: str, *, as_json: bool = False) -> A:
        raise NotImplementedError


class Receiver(Collector[Received, Reply]):
    protocol = "http/protobuf"

    def __init__(self, ssl_context: ssl.SSLContext | None = None, port: int = 0) -> None:
        super().__init__(Reply())
        self.server = ThreadingHTTPServer(("127.0.0.1", port), _handler(self))
        self.server.daemon_threads = True
        if ssl_context is not None:
            self.server.socket = ssl_context.wrap_socket(self.server.socket, server_side=True)
        self.scheme = "https" if ssl_context is not None else "http"
        self.connections: set[socket.socket] = set()
        self.port = self.server.server_address[1]
        self.endpoint = self.url
        self._thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()

    @property
    def base_url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"{self.base_url}/v1/traces"

    def close(self) -> None:
        """Stop, as a collector that goes down does: kept-alive connections are closed too."""
        self.release.set()
        self.server.shutdown()
        self.server.server_close()
        with self.arrived:
            connections, self.connections = self.connections, set()
        for connection in connections:
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self._thread.join(5)

    def retryable(self, delay: int | None = None) -> Reply:
        return Reply(503, {} if delay is None else {"Retry-After": str(delay)})

    def retryable_answers(self) -> list[Reply]:
        return [Reply(status) for status in (429, 502, 503, 504)]

    def final(self) -> Reply:
        return Reply(400, {"Retry-After": "0"})

    def final_answers(self) -> list[Reply]:
        return [Reply(status) for status in (400, 401, 404, 413, 500)]

    def hanging(self) -> Reply:
        return Reply(hang=True)

    def partial_success(self, rejected: int, message: str, *, as_json: bool = False) -> Reply:
        if as_json:
            body = json.dumps({"partialSuccess": {"rejectedSpans": str(rejected), "errorMessage": message}})
            return Reply(body=body.encode())
        return Reply(body=partial_success_proto(rejected, message))


def _handler(receiver: Receiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as collectors do
        timeout = 10  # idle connections end instead of holding a thread forever

        def log_message(self, format: str, *args: Any) -> None:  # quiet
            return None

        def setup(self) -> None:
            super().setup()
            with receiver.arrived:
                receiver.connections.add(self.connection)

        def finish(self) -> None:
            with receiver.arrived:
                receiver.connections.discard(self.connection)
            super().finish()

        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            headers = {k.lower(): v for k, v in self.headers.items()}
            body = gzip.decompress(raw) if headers.get("content-encoding") == "gzip" else raw
            reply = receiver.next_answer(Received(self.path, headers, raw, body, time.monotonic(), self.client_address))
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


def make_certificate(folder: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and its key (needs the openssl command)."""
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
         "-keyout", str(key), "-out", str(cert), "-days", "1", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True, capture_output=True,
    )  # fmt: skip
    return cert, key


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
