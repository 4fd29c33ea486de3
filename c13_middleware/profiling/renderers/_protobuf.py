"""A minimal protobuf writer: varints, length-delimited fields and packed repeated integers (proto3 wire format)."""

from __future__ import annotations

from collections.abc import Iterable

__all__ = ["Message"]


def _varint(value: int, out: bytearray) -> None:
    if value < 0:
        value += 1 << 64  # int64 negative values: ten-byte two's complement
    while value > 0x7F:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)


class Message:
    """Append fields in order; ``bytes(message)`` is the encoding. Zero scalars are skipped (proto3 defaults)."""

    __slots__ = ("_buffer",)

    def __init__(self) -> None:
        self._buffer = bytearray()

    def uint(self, field: int, value: int) -> Message:
        if value:
            _varint(field << 3, self._buffer)
            _varint(value, self._buffer)
        return self

    def bool(self, field: int, value: bool) -> Message:
        return self.uint(field, 1 if value else 0)

    def raw(self, field: int, value: bytes) -> Message:
        _varint((field << 3) | 2, self._buffer)
        _varint(len(value), self._buffer)
        self._buffer += value
        return self

    def string(self, field: int, value: str) -> Message:
        return self.raw(field, value.encode("utf-8"))

    def message(self, field: int, value: Message) -> Message:
        return self.raw(field, value.encode())

    def packed(self, field: int, values: Iterable[int]) -> Message:
        body = bytearray()
        for value in values:
            _varint(value, body)
        if body:
            self.raw(field, bytes(body))
        return self

    def encode(self) -> bytes:
        return bytes(self._buffer)
