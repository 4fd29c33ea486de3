"""W3C ``baggage``: an immutable, ordered mapping of application key/values (W3C Baggage, HTTP header format)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import ClassVar, NamedTuple
from urllib.parse import quote

from ._lists import combined_value

MAX_MEMBERS = 64
MAX_BYTES = 8192
# Input bound (docs/security.md): at most this many list elements, valid or not, are examined.
MAX_ELEMENTS = 4 * MAX_MEMBERS

_OWS = " \t"
# key = token (RFC 7230 section 3.2.6)
_TOKEN = r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+"
# baggage-octet = %x21 / %x23-2B / %x2D-3A / %x3C-5B / %x5D-7E
_OCTETS = "".join(chr(c) for c in range(0x21, 0x7F) if c not in b'",;\\')
_OCTET = r"[\x21\x23-\x2b\x2d-\x3a\x3c-\x5b\x5d-\x7e]"
_token = re.compile(_TOKEN).fullmatch
_octets = re.compile(f"{_OCTET}*").fullmatch
# list-member = key OWS "=" OWS value *( OWS ";" OWS property ), with OWS around the member too.
_member = re.compile(rf"[ \t]*({_TOKEN})[ \t]*=[ \t]*({_OCTET}*)[ \t]*(?:;(.*))?", re.S).fullmatch
_escapes = re.compile(r"(?:%[0-9A-Fa-f]{2})+")
_bad_escape = re.compile(r"%(?![0-9A-Fa-f]{2})").search
_properties = re.compile(rf"{_TOKEN}(?:={_OCTET}*)?(?:;{_TOKEN}(?:={_OCTET}*)?)*").fullmatch
_unencoded = re.compile(r"[\x21\x23\x24\x26-\x2b\x2d-\x3a\x3c-\x5b\x5d-\x7e]*").fullmatch  # octets minus "%"
_SAFE = _OCTETS.replace("%", "")
_new = tuple.__new__


class BaggageEntry(NamedTuple):
    value: str
    # Raw, already-valid property text without optional whitespace, e.g. "propKey1;propKey2=val".
    properties: str = ""


def _normalize_properties(text: str) -> str | None:
    """``property *( OWS ";" OWS property )`` with OWS removed, or ``None`` when invalid."""
    out = []
    for prop in text.split(";"):
        key, eq, value = prop.partition("=")
        key = key.strip(_OWS)
        if not _token(key):
            return None
        if eq:
            value = value.strip(_OWS)
            if not _octets(value):
                return None
            out.append(f"{key}={value}")
        else:
            out.append(key)
    return ";".join(out)


def _unescape(match: re.Match[str]) -> str:
    return bytes.fromhex(match[0].replace("%", "")).decode("utf-8")


def _parse_member(member: str) -> tuple[str, BaggageEntry] | None:
    m = _member(member)
    if m is None:
        return None
    key, value, props = m.groups()
    if "%" in value:
        # The value is URL-encoded UTF-8: a malformed escape ("%zz", "100%") or invalid UTF-8 drops the
        # member. So re-encoding never makes a member longer, and parsed baggage always fits the limits.
        if _bad_escape(value):
            return None
        try:
            value = _escapes.sub(_unescape, value)  # 2x faster than urllib.parse.unquote
        except UnicodeDecodeError:
            return None
    properties = "" if props is None else _normalize_properties(props)
    return None if properties is None else (key, _new(BaggageEntry, (value, properties)))


def _format_member(name: str, entry: BaggageEntry) -> str | None:
    value, properties = entry
    if not _token(name) or (properties and not _properties(properties)):
        return None
    if not _unencoded(value):
        try:
            value = quote(value, safe=_SAFE, errors="strict")
        except UnicodeEncodeError:  # lone surrogates: not representable in UTF-8
            return None
    if properties:
        return f"{name}={value};{properties}"
    return f"{name}={value}"


class Baggage:
    """Name -> ``BaggageEntry``, in insertion order. Equality is order-sensitive (as the header is).

    The constructor trusts its input; ``set`` validates; ``to_header`` skips anything unrepresentable.
    """

    __slots__ = ("_entries",)
    EMPTY: ClassVar[Baggage]

    def __init__(self, entries: Iterable[tuple[str, BaggageEntry]] = ()) -> None:
        self._entries: dict[str, BaggageEntry] = dict(entries)

    @classmethod
    def _wrap(cls, entries: dict[str, BaggageEntry]) -> Baggage:
        baggage = object.__new__(cls)
        baggage._entries = entries
        return baggage

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Baggage) and self.items() == other.items()

    def __hash__(self) -> int:
        return hash(self.items())

    def __repr__(self) -> str:
        return f"Baggage({self.items()!r})"

    def items(self) -> tuple[tuple[str, BaggageEntry], ...]:
        return tuple(self._entries.items())

    def get(self, name: str) -> BaggageEntry | None:
        return self._entries.get(name)

    def set(self, name: str, value: str, properties: str = "") -> Baggage:
        """Add ``name`` at the end, or update it in place. ``properties`` is property text as in the
        header (``"p1;p2=v"``, optional whitespace allowed). An invalid name, a value that is not a
        UTF-8-encodable ``str``, or invalid properties return ``self`` unchanged."""
        if not (isinstance(name, str) and _token(name) and isinstance(value, str) and isinstance(properties, str)):
            return self
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return self
        props = _normalize_properties(properties) if properties else ""
        if props is None:
            return self
        entries = dict(self._entries)
        entries[name] = BaggageEntry(value, props)
        return Baggage._wrap(entries)

    def delete(self, name: str) -> Baggage:
        if name not in self._entries:
            return self
        return Baggage._wrap({k: e for k, e in self._entries.items() if k != name})

    def to_header(self) -> str:
        """``k=v;props,k2=v2``, values percent-encoded (UTF-8) outside ``baggage-octet`` and ``%`` itself.

        Never over the limits: entries are taken in order, and one that would make the header exceed
        64 members or 8192 bytes is dropped whole (a later, smaller one may still fit)."""
        parts: list[str] = []
        size = -1  # no comma before the first member
        for name, entry in self._entries.items():
            if len(parts) == MAX_MEMBERS:
                break
            part = _format_member(name, entry)
            if part is not None and size + 1 + len(part) <= MAX_BYTES:
                parts.append(part)
                size += 1 + len(part)
        return ",".join(parts)

    @classmethod
    def from_headers(cls, values: Sequence[str]) -> Baggage:
        """Parse all ``baggage`` field values, combined in order. Never raises.

        Invalid list-members are skipped (the spec allows removing them). A later duplicate name
        wins; the entry keeps the first one's position. Over the limits, what fits is kept: only
        list-members that end within the first 8192 bytes of the combined value are read, at most
        ``MAX_ELEMENTS`` list elements (valid or not) are examined, and reading stops after 64 valid members.
        """
        try:
            if isinstance(values, str):
                values = (values,)
            if not values:
                return EMPTY
            elements = combined_value(values, MAX_BYTES).split(",", MAX_ELEMENTS)
            entries: dict[str, BaggageEntry] = {}
            count = 0
            for member in elements[:MAX_ELEMENTS]:
                parsed = _parse_member(member)
                if parsed is not None:
                    entries[parsed[0]] = parsed[1]
                    count += 1
                    if count == MAX_MEMBERS:
                        break
            return cls._wrap(entries) if entries else EMPTY
        except Exception:  # a propagation header must never break a request
            return EMPTY


EMPTY = Baggage()
Baggage.EMPTY = EMPTY
