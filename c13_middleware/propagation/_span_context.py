"""The identity of a span as it crosses process boundaries (W3C Trace Context)."""

from __future__ import annotations

from typing import NamedTuple

from ._tracestate import TraceState

SAMPLED_FLAG = 0x01
# W3C Trace Context Level 2: the right-most 7 bytes of the trace id are random.
RANDOM_FLAG = 0x02

INVALID_TRACE_ID = 0
INVALID_SPAN_ID = 0


class SpanContext(NamedTuple):
    """Immutable: a tuple, so it is cheap to build, compare and hash.

    ``trace_id`` (128 bits) and ``span_id`` (64 bits) are ints, as in OpenTelemetry.
    """

    trace_id: int
    span_id: int
    trace_flags: int = 0
    trace_state: TraceState = TraceState.EMPTY
    is_remote: bool = False

    @property
    def sampled(self) -> bool:
        return bool(self.trace_flags & SAMPLED_FLAG)

    @property
    def random(self) -> bool:
        return bool(self.trace_flags & RANDOM_FLAG)

    @property
    def is_valid(self) -> bool:
        return self.trace_id != INVALID_TRACE_ID and self.span_id != INVALID_SPAN_ID

    @property
    def trace_id_hex(self) -> str:
        return f"{self.trace_id:032x}"

    @property
    def span_id_hex(self) -> str:
        return f"{self.span_id:016x}"


INVALID_SPAN_CONTEXT = SpanContext(INVALID_TRACE_ID, INVALID_SPAN_ID)
