"""W3C ``tracestate``: an immutable, ordered list of vendor entries (Trace Context Level 2, section 3.3)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import ClassVar

from ._lists import combined_value

MAX_MEMBERS = 32
MAX_HEADER_LENGTH = 512
# Input bounds (docs/security.md): only list elements ending within the first 8 KiB of the combined value are read,
# and at most 128 elements (empty ones included) are examined. A valid list is at most 32 members of at most 513
# characters, and at most 512 characters are propagated, so nothing a vendor may rely on is lost.
MAX_INPUT_LENGTH = 8192
MAX_ELEMENTS = 4 * MAX_MEMBERS
# Truncation removes entries longer than this first (spec: "Entries larger than 128 characters long").
LARGE_ENTRY_LENGTH = 128

# Level 2 key grammar: key = ( lcalpha / DIGIT ) 0*255 ( keychar ), keychar includes "@".
# It is a superset of Level 1's simple-key / multi-tenant-key, so every Level 1 key is accepted too.
_KEY = r"[a-z0-9][a-z0-9_\-*/@]{0,255}"
# value = 0*255(chr) nblk-chr: 1..256 chars of %x20-2B / %x2D-3C / %x3E-7E, not ending in a space.
# The look-behind form is about twice as fast as "{0,255}[nblk]", which always backtracks one char.
_VALUE = r"[\x20-\x2b\x2d-\x3c\x3e-\x7e]{1,256}(?<! )"
_OWS = " \t"

_member = re.compile(f"({_KEY})=({_VALUE})").fullmatch
_key = re.compile(_KEY).fullmatch
_value = re.compile(_VALUE).fullmatch


def is_valid_key(key: str) -> bool:
    return isinstance(key, str) and _key(key) is not None


def is_valid_value(value: str) -> bool:
    return isinstance(value, str) and _value(value) is not None


class TraceState:
    """Entries are ``(key, value)`` pairs, left-most first.

    The constructor trusts its input; ``set`` validates and ``from_headers`` parses.
    """

    __slots__ = ("_entries",)
    EMPTY: ClassVar[TraceState]

    def __init__(self, entries: tuple[tuple[str, str], ...] = ()) -> None:
        self._entries = entries

    def __len__(self) -> int:
        return len(self._entries)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, TraceState) and self._entries == other._entries

    def __hash__(self) -> int:
        return hash(self._entries)

    def __repr__(self) -> str:
        return f"TraceState({self._entries!r})"

    def items(self) -> tuple[tuple[str, str], ...]:
        return self._entries

    def get(self, key: str) -> str | None:
        for k, v in self._entries:
            if k == key:
                return v
        return None

    def set(self, key: str, value: str) -> TraceState:
        """Add or update ``key``; the entry moves to the front (left), as the spec requires for
        modified and added keys. If the list would exceed 32 members, the right-most is dropped.
        An invalid key or value returns ``self`` unchanged."""
        if not (is_valid_key(key) and is_valid_value(value)):
            return self
        rest = tuple(e for e in self._entries if e[0] != key)
        return TraceState(((key, value), *rest[: MAX_MEMBERS - 1]))

    def delete(self, key: str) -> TraceState:
        rest = tuple(e for e in self._entries if e[0] != key)
        return self if len(rest) == len(self._entries) else TraceState(rest)

    def to_header(self) -> str:
        """``k=v,k2=v2``; at most 512 characters. When longer, whole entries are removed: first
        those longer than 128 characters, from the right, then from the right end, until it fits."""
        parts = [f"{k}={v}" for k, v in self._entries]
        header = ",".join(parts)
        if len(header) <= MAX_HEADER_LENGTH:
            return header
        keep = [True] * len(parts)
        length = len(header)
        for large_first in (True, False):
            for i in range(len(parts) - 1, -1, -1):
                if length <= MAX_HEADER_LENGTH:
                    break
                if keep[i] and (not large_first or len(parts[i]) > LARGE_ENTRY_LENGTH):
                    keep[i] = False
                    length -= len(parts[i]) + 1  # the entry and one comma
        return ",".join(p for p, k in zip(parts, keep, strict=True) if k)

    @classmethod
    def from_headers(cls, values: Sequence[str]) -> TraceState:
        """Parse all ``tracestate`` field values, combined in order (RFC 9110 section 5.3). Never raises.

        Empty and whitespace-only members are skipped. A key that repeats keeps its first entry; the later ones
        are dropped (Level 2 lets a vendor discard duplicate keys, and the first is the left-most, most recent
        position). The whole header is discarded (``EMPTY``) when any member read is invalid or when more than
        32 members are read. Work is bounded: only elements that end within the first ``MAX_INPUT_LENGTH``
        characters are read, and at most ``MAX_ELEMENTS`` of them, empty ones included, are examined.
        """
        try:
            if isinstance(values, str):
                values = (values,)
            if not values:
                return EMPTY
            entries: dict[str, str] = {}
            count = 0
            elements = combined_value(values, MAX_INPUT_LENGTH).split(",", MAX_ELEMENTS)
            for member in elements[:MAX_ELEMENTS]:
                m = _member(member)
                if m is None:
                    member = member.strip(_OWS)
                    if not member:
                        continue
                    m = _member(member)
                    if m is None:
                        return EMPTY
                count += 1
                if count > MAX_MEMBERS:
                    return EMPTY
                entries.setdefault(*m.groups())
            return cls(tuple(entries.items())) if entries else EMPTY
        except Exception:  # a propagation header must never break a request
            return EMPTY


EMPTY = TraceState()
TraceState.EMPTY = EMPTY
