"""W3C ``traceparent`` parsing and formatting (Trace Context Level 2, sections 3.2 and 4)."""

from __future__ import annotations

import re
from collections.abc import Sequence

from ._span_context import RANDOM_FLAG, SAMPLED_FLAG, SpanContext
from ._tracestate import TraceState

# Version 00 defines two flags: sampled (bit 0) and, in Level 2, random-trace-id (bit 1). The other
# bits are reserved and "Vendors MUST set those to zero"; the processing model also says unknown flags
# are set to 0 on outgoing requests. So they are cleared on parse (for every version) and masked again
# on format: a reserved bit received from upstream can never be forwarded by us.
KNOWN_FLAGS = SAMPLED_FLAG | RANDOM_FLAG

VERSION = "00"
_LENGTH = 55  # len("00-" + 32 hex + "-" + 16 hex + "-" + 2 hex)
_OWS = " \t"
_MAX_TRACE_ID = (1 << 128) - 1
_MAX_SPAN_ID = (1 << 64) - 1

# The first 55 characters of every version, checked by the version-00 rules: lower-case hex only.
# A regex is used because int(x, 16) alone also accepts "_", "+", "0x", spaces and upper case.
_head = re.compile(r"([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})").match
_flags = {f"{i:02x}": i & KNOWN_FLAGS for i in range(256)}
_new = tuple.__new__  # skips SpanContext.__new__'s Python-level argument handling: about 2x faster


def parse_traceparent(values: Sequence[str]) -> SpanContext | None:
    """Parse the ``traceparent`` field values of one request; ``None`` when invalid or absent.

    ``values`` holds every ``traceparent`` field received: more than one field is invalid. Optional
    whitespace (space, tab) around the value is ignored. Version ``ff`` is invalid; version ``00``
    must be exactly 55 characters; a higher version must be at least 55 characters, the first 55 are
    parsed with the version-00 rules, and a 56th character, if any, must be ``-``. Trace-id and
    parent-id must not be all zeros. The result is remote, with an empty trace state. Never raises.
    """
    try:
        if isinstance(values, str):
            values = (values,)
        if len(values) != 1:
            return None
        value = values[0]
        if len(value) != _LENGTH:
            value = value.strip(_OWS)
            length = len(value)
            if length != _LENGTH and (length < _LENGTH or value[_LENGTH] != "-" or value.startswith(VERSION)):
                return None
        m = _head(value)
        if m is None:
            return None
        version, trace_hex, span_hex, flags_hex = m.groups()
        if version == "ff":
            return None
        trace_id = int(trace_hex, 16)
        span_id = int(span_hex, 16)
        if not trace_id or not span_id:
            return None
        return _new(SpanContext, (trace_id, span_id, _flags[flags_hex], TraceState.EMPTY, True))
    except Exception:  # a propagation header must never break a request
        return None


def format_traceparent(ctx: SpanContext) -> str:
    """Always version ``00``, lower-case, only the known flags. Raises ``ValueError`` when an id is
    zero or out of range (check ``ctx.is_valid`` first)."""
    trace_id, span_id = ctx.trace_id, ctx.span_id
    if not (0 < trace_id <= _MAX_TRACE_ID and 0 < span_id <= _MAX_SPAN_ID):
        raise ValueError("traceparent needs a non-zero 128-bit trace id and 64-bit span id")
    return f"00-{trace_id:032x}-{span_id:016x}-{ctx.trace_flags & KNOWN_FLAGS:02x}"
