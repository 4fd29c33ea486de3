"""extract_fields / inject_fields: the request paths' extraction and injection over collected header fields."""

from __future__ import annotations

from c13_middleware.propagation._baggage import Baggage
from c13_middleware.propagation._fields import _baggage, _tracestate, extract_fields, inject_fields
from c13_middleware.propagation._propagators import (
    DEFAULT_PROPAGATOR,
    CompositePropagator,
    Propagated,
    TraceContextPropagator,
    mapping_getter,
)

TRACEPARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


def test_the_fast_path_agrees_with_the_default_propagator() -> None:
    cases: list[dict[str, list[str]]] = [
        {"traceparent": [TRACEPARENT], "tracestate": ["a=1,b=2"], "baggage": ["user=alice;p=1, tenant=t"]},
        {"traceparent": [TRACEPARENT, TRACEPARENT]},  # two fields: invalid
        {"traceparent": [TRACEPARENT + "," + TRACEPARENT]},  # the same, folded into one line
        {"traceparent": ["00-00000000000000000000000000000000-b7ad6b7169203331-01"], "tracestate": ["a=1"]},
        {"tracestate": ["a=1"], "baggage": ["k=v"]},  # tracestate without a valid traceparent is ignored
        {"baggage": ["a=1", "b=2"]},
        {"traceparent": ["garbage"], "baggage": ["%%%"]},
    ]
    for fields in cases:
        expected = DEFAULT_PROPAGATOR.extract(mapping_getter(fields), Propagated())
        parent, baggage = extract_fields(fields)
        assert parent == expected.span_context, fields
        assert baggage == expected.baggage, fields


def test_short_values_are_cached_long_ones_are_not() -> None:
    _tracestate.cache_clear()
    _baggage.cache_clear()
    for _ in range(3):
        extract_fields({"traceparent": [TRACEPARENT], "tracestate": ["a=1"], "baggage": ["k=v"]})
    assert _tracestate.cache_info().hits == 2 and _baggage.cache_info().hits == 2
    long_value = ",".join(f"k{i}=v" for i in range(200))  # over 1 KiB
    _, baggage = extract_fields({"baggage": [long_value]})
    assert len(baggage) == 64  # the spec's member limit
    assert _baggage.cache_info().currsize == 1


def test_another_propagator_runs_as_configured() -> None:
    only_context = CompositePropagator([TraceContextPropagator()])
    parent, baggage = extract_fields({"traceparent": [TRACEPARENT], "baggage": ["k=v"]}, only_context)
    assert parent is not None and parent.span_id == 0xB7AD6B7169203331
    assert baggage == Baggage.EMPTY


def test_inject_writes_what_the_default_propagator_writes() -> None:
    parent, _ = extract_fields({"traceparent": [TRACEPARENT], "tracestate": ["a=1"]})
    assert parent is not None
    baggage = Baggage.EMPTY.set("user", "alice")
    fast: dict[str, str] = {}
    inject_fields(fast.__setitem__, parent, baggage)
    slow: dict[str, str] = {}
    only_context = CompositePropagator([TraceContextPropagator()])
    inject_fields(slow.__setitem__, parent, baggage, only_context)
    assert fast == {"traceparent": TRACEPARENT, "tracestate": "a=1", "baggage": "user=alice"}
    assert slow == {"traceparent": TRACEPARENT, "tracestate": "a=1"}  # that propagator writes no baggage
    empty: dict[str, str] = {}
    inject_fields(empty.__setitem__, parent._replace(trace_id=0), Baggage.EMPTY)
    assert empty == {}
