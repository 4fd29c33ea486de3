"""W3C Trace Context and Baggage: the span context, ``traceparent``, ``tracestate``, ``baggage`` and propagators.

The lowest layer: it imports nothing else from c13, and it is the only home of the W3C header rules.
"""

from __future__ import annotations

from ._baggage import Baggage
from ._propagators import (
    BaggagePropagator,
    CompositePropagator,
    Propagated,
    Propagator,
    TraceContextPropagator,
    extract,
    inject,
)
from ._span_context import SpanContext
from ._tracestate import TraceState

__all__ = [
    "Baggage",
    "BaggagePropagator",
    "CompositePropagator",
    "Propagated",
    "Propagator",
    "SpanContext",
    "TraceContextPropagator",
    "TraceState",
    "extract",
    "inject",
]
