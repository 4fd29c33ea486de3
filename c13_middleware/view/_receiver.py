"""The OTLP/HTTP receiver: ``POST /v1/traces`` and ``POST /v1development/profiles``, binary protobuf or JSON.

Answers as OTLP/HTTP specifies: 200 with an empty ``Export*ServiceResponse`` (in the request's encoding); 400 with
a ``google.rpc.Status`` for a malformed request, of which nothing is stored; 413 for a body over the limit (after
decompression too); 415 for another content type; 429 with ``Retry-After`` when the store's queue is full.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._decode import Malformed, decode_profiles, decode_traces
from ._http import BodyError, Handler

if TYPE_CHECKING:
    from ._store import Store

JSON, PROTOBUF = "application/json", "application/x-protobuf"
RETRY_AFTER_S = 1


def status_message(code: int, message: str) -> bytes:
    """A serialized ``google.rpc.Status`` (code = 1, message = 2), written by hand: two fields."""
    text = message.encode("utf-8")[:1000]
    out = bytearray([0x08])
    while True:
        byte, code = code & 0x7F, code >> 7
        out.append(byte | (0x80 if code else 0))
        if not code:
            break
    out.append(0x12)
    length = len(text)
    while True:
        byte, length = length & 0x7F, length >> 7
        out.append(byte | (0x80 if length else 0))
        if not length:
            break
    return bytes(out) + text


class ReceiverHandler(Handler):
    def do_POST(self) -> None:
        store: Store = self.server.app.store
        path = self.path.split("?", 1)[0]
        if path not in ("/v1/traces", "/v1development/profiles"):
            self.send_json(404, {"error": "OTLP paths: /v1/traces, /v1development/profiles"})
            return
        if not self.authorized():
            return
        content_type = (self.headers.get("Content-Type") or "").split(";", 1)[0].strip().lower()
        if content_type not in (JSON, PROTOBUF):
            self.close_connection = True
            self.send_json(415, {"error": f"Content-Type must be {PROTOBUF} or {JSON}"})
            return
        is_json = content_type == JSON
        try:
            body = self.read_body(self.server.app.max_body)
            item: Any = decode_traces(body, is_json) if path == "/v1/traces" else decode_profiles(body, is_json)
        except BodyError as exc:
            self._error(exc.status, str(exc), is_json)
            return
        except Malformed as exc:
            self.server.app.counters["malformed"] += 1
            self._error(400, str(exc), is_json)
            return
        if not store.submit(item):
            self._error(429, "the viewer is busy storing; retry later", is_json, {"Retry-After": str(RETRY_AFTER_S)})
            return
        self.send_bytes(200, b"{}" if is_json else b"", JSON if is_json else PROTOBUF)

    def _error(self, status: int, message: str, is_json: bool, headers: dict[str, str] | None = None) -> None:
        code = {400: 3, 413: 8, 429: 8}.get(status, 2)  # INVALID_ARGUMENT, RESOURCE_EXHAUSTED, UNKNOWN
        if is_json:
            self.send_json(status, {"code": code, "message": message}, headers)
        else:
            self.send_bytes(status, status_message(code, message), PROTOBUF, headers)

    def do_GET(self) -> None:
        self.send_json(405, {"error": "the OTLP receiver takes POST"}, {"Allow": "POST"})


__all__ = ["ReceiverHandler", "status_message"]
