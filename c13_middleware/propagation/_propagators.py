"""Propagators (W3C Trace Context + Baggage) over any header carrier, and carrier adapters.

Nothing here raises on bad input: a malformed header, or a buggy getter/setter, means "absent".
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, MutableMapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeAlias

from ._baggage import Baggage
from ._span_context import SpanContext
from ._traceparent import format_traceparent, parse_traceparent
from ._tracestate import TraceState

HeaderGetter: TypeAlias = Callable[[str], Sequence[str]]
"""Called with a lower-case header name; returns all field values in order (``[]`` if absent)."""
HeaderSetter: TypeAlias = Callable[[str, str], None]
"""Called with a lower-case header name and a value; replaces any existing field of that name."""

_log = logging.getLogger(__name__)
_new = tuple.__new__


@dataclass(frozen=True, slots=True)
class Propagated:
    """What crosses the wire."""

    span_context: SpanContext | None = None
    baggage: Baggage = Baggage.EMPTY


_NOTHING = Propagated()


class Propagator(Protocol):
    fields: tuple[str, ...]

    def extract(self, get: HeaderGetter, into: Propagated) -> Propagated: ...

    def inject(self, set: HeaderSetter, ctx: Propagated) -> None: ...


def _values(get: HeaderGetter, name: str) -> Sequence[str]:
    try:
        values = get(name)
    except Exception:
        _log.debug("header getter failed for %r", name, exc_info=True)
        return ()
    if isinstance(values, str):  # a common getter bug; a str is also a Sequence[str]
        return (values,)
    return values or ()


class TraceContextPropagator:
    """``traceparent`` + ``tracestate``. ``tracestate`` is read only when ``traceparent`` is valid."""

    fields: tuple[str, ...] = ("traceparent", "tracestate")

    def extract(self, get: HeaderGetter, into: Propagated) -> Propagated:
        try:
            ctx = parse_traceparent(_values(get, "traceparent"))
            if ctx is None:
                return into
            tracestate = _values(get, "tracestate")
            if tracestate:
                state = TraceState.from_headers(tracestate)
                if state:  # NamedTuple._replace is 3x slower than this
                    ctx = _new(SpanContext, (ctx[0], ctx[1], ctx[2], state, True))
            return Propagated(ctx, into.baggage)
        except Exception:
            _log.debug("trace context extraction failed", exc_info=True)
            return into

    def inject(self, set: HeaderSetter, ctx: Propagated) -> None:
        try:
            span = ctx.span_context
            if span is None or not span.is_valid:
                return
            set("traceparent", format_traceparent(span))
            tracestate = span.trace_state.to_header()
            if tracestate:
                set("tracestate", tracestate)
        except Exception:
            _log.debug("trace context injection failed", exc_info=True)


class BaggagePropagator:
    fields: tuple[str, ...] = ("baggage",)

    def extract(self, get: HeaderGetter, into: Propagated) -> Propagated:
        try:
            values = _values(get, "baggage")
            baggage = Baggage.from_headers(values) if values else Baggage.EMPTY
            return Propagated(into.span_context, baggage) if baggage else into
        except Exception:
            _log.debug("baggage extraction failed", exc_info=True)
            return into

    def inject(self, set: HeaderSetter, ctx: Propagated) -> None:
        try:
            header = ctx.baggage.to_header() if ctx.baggage else ""
            if header:
                set("baggage", header)
        except Exception:
            _log.debug("baggage injection failed", exc_info=True)


class CompositePropagator:
    """Runs ``propagators`` in order: each ``extract`` refines the previous result."""

    def __init__(self, propagators: Sequence[Propagator]) -> None:
        self._propagators = tuple(propagators)
        self.fields: tuple[str, ...] = tuple(dict.fromkeys(f for p in self._propagators for f in p.fields))

    def extract(self, get: HeaderGetter, into: Propagated) -> Propagated:
        for propagator in self._propagators:
            try:
                into = propagator.extract(get, into)
            except Exception:
                _log.debug("%r.extract failed", propagator, exc_info=True)
        return into

    def inject(self, set: HeaderSetter, ctx: Propagated) -> None:
        for propagator in self._propagators:
            try:
                propagator.inject(set, ctx)
            except Exception:
                _log.debug("%r.inject failed", propagator, exc_info=True)


DEFAULT_PROPAGATOR = CompositePropagator([TraceContextPropagator(), BaggagePropagator()])


def extract(get: HeaderGetter, propagator: Propagator = DEFAULT_PROPAGATOR) -> Propagated:
    try:
        result = propagator.extract(get, _NOTHING)
    except Exception:
        _log.debug("extraction failed", exc_info=True)
        return _NOTHING
    return result if isinstance(result, Propagated) else _NOTHING


def inject(set: HeaderSetter, ctx: Propagated, propagator: Propagator = DEFAULT_PROPAGATOR) -> None:
    try:
        propagator.inject(set, ctx)
    except Exception:
        _log.debug("injection failed", exc_info=True)


# --- carriers: every getter returns () and every setter does nothing when its input is unusable --------

_FIELDS = {b"traceparent": "traceparent", b"tracestate": "tracestate", b"baggage": "baggage"}
_FIELD_NAMES = frozenset(_FIELDS.values())
_ENVIRON_KEYS = {"traceparent": "HTTP_TRACEPARENT", "tracestate": "HTTP_TRACESTATE", "baggage": "HTTP_BAGGAGE"}


def _unfold(name: str, value: str) -> list[str]:
    # A carrier that folds repeated fields into one comma-joined value (WSGI, plain dicts) hides a
    # second traceparent field. No valid traceparent contains a comma, so splitting it back out makes
    # "two fields -> invalid" hold here too. List-valued fields (tracestate, baggage) need no split.
    return value.split(",") if name == "traceparent" else [value]


def asgi_getter(headers: Iterable[tuple[bytes, bytes]]) -> HeaderGetter:
    """ASGI ``scope["headers"]``: names are lower-case bytes (ASGI spec), values decoded as latin-1.
    The propagation fields are collected in one pass on first use; other names are scanned."""
    items = headers if isinstance(headers, (list, tuple)) else tuple(headers)
    found: dict[str, list[str]] | None = None

    def get(name: str) -> Sequence[str]:
        nonlocal found
        try:
            if name not in _FIELD_NAMES:
                key = name.encode("latin-1")
                return [v.decode("latin-1") for k, v in items if k == key]
            if found is None:
                found = {}
                for k, v in items:
                    field = _FIELDS.get(k)
                    if field is not None:
                        found.setdefault(field, []).append(v.decode("latin-1"))
            return found.get(name, ())
        except Exception:
            return ()

    return get


def asgi_setter(headers: list[tuple[bytes, bytes]]) -> HeaderSetter:
    """Edits ``headers`` in place: existing fields of that name (any case) are replaced."""

    def set(name: str, value: str) -> None:
        try:
            field = (name.lower().encode("latin-1"), value.encode("latin-1"))
            if any(k.lower() == field[0] for k, _ in headers):
                headers[:] = [h for h in headers if h[0].lower() != field[0]]
            headers.append(field)
        except Exception:
            _log.debug("asgi_setter failed for %r", name, exc_info=True)

    return set


def environ_getter(environ: Mapping[str, Any]) -> HeaderGetter:
    """WSGI environ: ``traceparent`` -> ``HTTP_TRACEPARENT``. The server has already joined repeated
    fields with commas; ``traceparent`` is split back on "," (see ``_unfold``)."""

    def get(name: str) -> Sequence[str]:
        try:
            key = _ENVIRON_KEYS.get(name)
            if key is None:
                key = name.upper().replace("-", "_")
                key = key if key in ("CONTENT_TYPE", "CONTENT_LENGTH") else "HTTP_" + key
            value = environ.get(key)
            return _unfold(name, value) if isinstance(value, str) else ()
        except Exception:
            return ()

    return get


def mapping_getter(headers: Mapping[str, str] | Mapping[str, Sequence[str]]) -> HeaderGetter:
    """A mapping of header name -> value (``str``, possibly comma-folded) or -> list of values.
    Names match case-insensitively; ``bytes`` names/values are decoded as latin-1."""
    index: dict[str, list[str]] | None = None

    def build() -> dict[str, list[str]]:
        built: dict[str, list[str]] = {}
        pairs: Iterable[tuple[object, object]] = headers.items()
        for raw_key, value in pairs:
            key = (raw_key.decode("latin-1") if isinstance(raw_key, bytes) else str(raw_key)).lower()
            out = built.setdefault(key, [])
            for v in (value,) if isinstance(value, (str, bytes)) or not isinstance(value, Iterable) else value:
                if isinstance(v, bytes):
                    v = v.decode("latin-1")
                if isinstance(v, str):
                    out.extend(_unfold(key, v))
        return built

    def get(name: str) -> Sequence[str]:
        nonlocal index
        try:
            if index is None:
                index = build()
            return index.get(name, ())
        except Exception:
            return ()

    return get


def mapping_setter(d: MutableMapping[str, str]) -> HeaderSetter:
    """``d[name] = value``, first removing keys that differ from ``name`` only by case."""

    def set(name: str, value: str) -> None:
        try:
            for key in [k for k in d if isinstance(k, str) and k != name and k.lower() == name]:
                del d[key]
            d[name] = value
        except Exception:
            _log.debug("mapping_setter failed for %r", name, exc_info=True)

    return set


def metadata_getter(md: Iterable[tuple[str, str | bytes]] | None) -> HeaderGetter:
    """gRPC metadata (``context.invocation_metadata()``): lower-case keys, repeated keys allowed."""
    items = () if md is None else md if isinstance(md, (list, tuple)) else tuple(md)

    def get(name: str) -> Sequence[str]:
        try:
            return [v if isinstance(v, str) else v.decode("latin-1") for k, v in items if k == name]
        except Exception:
            return ()

    return get


def metadata_setter(md: list[tuple[str, str]]) -> HeaderSetter:
    """Edits the metadata list in place: existing entries with that key are replaced."""

    def set(name: str, value: str) -> None:
        try:
            if any(k == name for k, _ in md):
                md[:] = [(k, v) for k, v in md if k != name]
            md.append((name, value))
        except Exception:
            _log.debug("metadata_setter failed for %r", name, exc_info=True)

    return set
