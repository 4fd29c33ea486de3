"""Extract from and inject into header fields already collected by name: the server and client request paths.

The default propagator (W3C Trace Context + Baggage) runs here without its per-call layering (same parsers, same
rules); any other propagator runs as configured.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence

from ._baggage import Baggage
from ._propagators import DEFAULT_PROPAGATOR, HeaderSetter, Propagated, Propagator
from ._span_context import SpanContext
from ._traceparent import format_traceparent, parse_traceparent
from ._tracestate import TraceState

_EMPTY = Baggage.EMPTY
_NOTHING = Propagated()
_new_context = tuple.__new__


def extract_fields(
    fields: Mapping[str, Sequence[str]], propagator: Propagator = DEFAULT_PROPAGATOR
) -> tuple[SpanContext | None, Baggage]:
    """The caller's context and baggage from ``fields`` (lower-case header name → field values)."""
    if propagator is not DEFAULT_PROPAGATOR:
        incoming = propagator.extract(lambda name: fields.get(name, ()), _NOTHING)
        return incoming.span_context, incoming.baggage
    values = fields.get("traceparent")
    if values and len(values) == 1 and "," in values[0]:
        values = values[0].split(",")  # fields folded into one line (WSGI, proxies): two fields are invalid
    parent = parse_traceparent(values) if values else None
    if parent is not None:
        values = fields.get("tracestate")
        if values:
            state = (
                _tracestate(values[0])
                if len(values) == 1 and len(values[0]) <= _CACHED
                else TraceState.from_headers(values)
            )
            if state:
                parent = _new_context(SpanContext, (parent[0], parent[1], parent[2], state, True))
    values = fields.get("baggage")
    if not values:
        return parent, _EMPTY
    if len(values) == 1 and len(values[0]) <= _CACHED:
        return parent, _baggage(values[0])
    return parent, Baggage.from_headers(values)


def inject_fields(
    set: HeaderSetter, context: SpanContext, baggage: Baggage, propagator: Propagator = DEFAULT_PROPAGATOR
) -> None:
    """Write ``context`` and ``baggage`` with ``propagator``; the default one's fields are written directly."""
    if propagator is not DEFAULT_PROPAGATOR:
        propagator.inject(set, Propagated(context, baggage))
        return
    if context.trace_id and context.span_id:
        set("traceparent", format_traceparent(context))
        if context.trace_state:
            tracestate = context.trace_state.to_header()
            if tracestate:
                set("tracestate", tracestate)
    if baggage:
        header = baggage.to_header()
        if header:
            set("baggage", header)


# A service sees the same few tracestate and baggage values over and over (they come from the same callers), and both
# parse into immutable objects: a bounded cache turns most parses into one lookup. Only short values are cached, so a
# client sending large random headers cannot make the cache hold more than 256 × 1 KiB.
_CACHED = 1024


@functools.lru_cache(maxsize=256)
def _tracestate(value: str) -> TraceState:
    return TraceState.from_headers((value,))


@functools.lru_cache(maxsize=256)
def _baggage(value: str) -> Baggage:
    return Baggage.from_headers((value,))
