"""Propagators and carrier adapters."""

from __future__ import annotations

import types
from collections.abc import Sequence

import pytest
from hypothesis import given, strategies as st

from c13_middleware.propagation._baggage import Baggage, BaggageEntry
from c13_middleware.propagation._propagators import (
    DEFAULT_PROPAGATOR,
    BaggagePropagator,
    CompositePropagator,
    HeaderGetter,
    HeaderSetter,
    Propagated,
    Propagator,
    TraceContextPropagator,
    asgi_getter,
    asgi_setter,
    environ_getter,
    extract,
    inject,
    mapping_getter,
    mapping_setter,
    metadata_getter,
    metadata_setter,
)
from c13_middleware.propagation._span_context import SpanContext
from c13_middleware.propagation._tracestate import TraceState

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
SPAN = "00f067aa0ba902b7"
TP = f"00-{TRACE}-{SPAN}-03"
TS = "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE"
BG = "userId=alice,serverNode=DF%2028"
CTX = SpanContext(int(TRACE, 16), int(SPAN, 16), 3, TraceState((("rojo", SPAN), ("congo", "t61rcWkgMzE"))), True)
BAGGAGE = Baggage([("userId", BaggageEntry("alice")), ("serverNode", BaggageEntry("DF 28"))])


def getter(headers: dict[str, list[str]]) -> HeaderGetter:
    return lambda name: headers.get(name, [])


def test_extract_everything() -> None:
    got = extract(getter({"traceparent": [TP], "tracestate": [TS], "baggage": [BG]}))
    assert got == Propagated(CTX, BAGGAGE)


def test_extract_nothing() -> None:
    assert extract(getter({})) == Propagated(None, Baggage.EMPTY)


def test_tracestate_is_ignored_without_a_valid_traceparent() -> None:
    assert extract(getter({"tracestate": [TS]})).span_context is None
    assert extract(getter({"traceparent": ["00-bad"], "tracestate": [TS]})).span_context is None


def test_an_invalid_tracestate_does_not_affect_traceparent() -> None:
    got = extract(getter({"traceparent": [TP], "tracestate": ["Bad Key=1"]})).span_context
    assert got == CTX._replace(trace_state=TraceState.EMPTY)


def test_tracestate_fields_are_combined() -> None:
    got = extract(getter({"traceparent": [TP], "tracestate": ["rojo=00f067aa0ba902b7", "congo=t61rcWkgMzE"]}))
    assert got.span_context == CTX


def test_two_traceparent_fields_restart_the_trace() -> None:
    assert extract(getter({"traceparent": [TP, TP], "tracestate": [TS]})).span_context is None


def test_baggage_is_extracted_without_a_traceparent() -> None:
    assert extract(getter({"baggage": [BG]})) == Propagated(None, BAGGAGE)


def test_extract_keeps_what_into_had_when_headers_are_absent_or_invalid() -> None:
    into = Propagated(CTX, BAGGAGE)
    empty = getter({"traceparent": ["junk"], "baggage": ["bad key=1"]})
    assert TraceContextPropagator().extract(empty, into) is into
    assert BaggagePropagator().extract(empty, into) is into


def test_inject_everything() -> None:
    out: dict[str, str] = {}
    inject(mapping_setter(out), Propagated(CTX, BAGGAGE))
    assert out == {"traceparent": TP, "tracestate": TS, "baggage": "userId=alice,serverNode=DF%2028"}


def test_inject_writes_tracestate_only_when_not_empty() -> None:
    out: dict[str, str] = {}
    inject(mapping_setter(out), Propagated(CTX._replace(trace_state=TraceState.EMPTY)))
    assert out == {"traceparent": TP}


@pytest.mark.parametrize("span", [None, SpanContext(0, 1), SpanContext(1, 0)])
def test_inject_writes_no_traceparent_for_a_missing_or_invalid_span(span: SpanContext | None) -> None:
    out: dict[str, str] = {}
    inject(mapping_setter(out), Propagated(span, BAGGAGE))
    assert out == {"baggage": "userId=alice,serverNode=DF%2028"}


def test_inject_of_nothing_writes_nothing() -> None:
    out: dict[str, str] = {}
    inject(mapping_setter(out), Propagated())
    assert out == {}


def test_inject_then_extract_round_trip() -> None:
    out: dict[str, str] = {}
    sent = Propagated(CTX, BAGGAGE.set("k", "v, w;x", "p=1"))
    inject(mapping_setter(out), sent)
    assert extract(mapping_getter(out)) == sent


def test_default_propagator_fields() -> None:
    assert DEFAULT_PROPAGATOR.fields == ("traceparent", "tracestate", "baggage")
    assert TraceContextPropagator().fields == ("traceparent", "tracestate")
    assert BaggagePropagator().fields == ("baggage",)


class Fake:
    """A third-party propagator: reads "x-id" and sets the baggage entry "id"."""

    fields: tuple[str, ...] = ("x-id", "baggage")

    def extract(self, get: HeaderGetter, into: Propagated) -> Propagated:
        values = get("x-id")
        return Propagated(into.span_context, into.baggage.set("id", values[0])) if values else into

    def inject(self, set: HeaderSetter, ctx: Propagated) -> None:
        entry = ctx.baggage.get("id")
        if entry is not None:
            set("x-id", entry.value)


class Broken:
    fields: tuple[str, ...] = ("broken",)

    def extract(self, get: HeaderGetter, into: Propagated) -> Propagated:
        raise RuntimeError("boom")

    def inject(self, set: HeaderSetter, ctx: Propagated) -> None:
        raise RuntimeError("boom")


def test_composite_fields_are_the_union_in_order() -> None:
    composite = CompositePropagator([TraceContextPropagator(), Fake(), BaggagePropagator()])
    assert composite.fields == ("traceparent", "tracestate", "x-id", "baggage")


def test_composite_extract_refines_in_order() -> None:
    composite = CompositePropagator([TraceContextPropagator(), BaggagePropagator(), Fake()])
    got = composite.extract(getter({"traceparent": [TP], "baggage": ["a=1"], "x-id": ["42"]}), Propagated())
    assert got.span_context is not None and got.span_context.trace_id == int(TRACE, 16)
    assert got.baggage.items() == (("a", BaggageEntry("1")), ("id", BaggageEntry("42")))


def test_composite_skips_a_broken_propagator() -> None:
    composite = CompositePropagator([Broken(), TraceContextPropagator(), Broken(), Fake()])
    got = composite.extract(getter({"traceparent": [TP], "x-id": ["7"]}), Propagated())
    assert got.span_context is not None and got.baggage.get("id") == BaggageEntry("7")
    out: dict[str, str] = {}
    composite.inject(mapping_setter(out), got)
    assert set(out) == {"traceparent", "x-id"}


def test_a_propagator_satisfies_the_protocol() -> None:
    propagators: list[Propagator] = [TraceContextPropagator(), BaggagePropagator(), DEFAULT_PROPAGATOR, Fake()]
    assert all(isinstance(p.fields, tuple) for p in propagators)


def test_extract_survives_a_raising_getter() -> None:
    def get(name: str) -> Sequence[str]:
        raise KeyError(name)

    assert extract(get) == Propagated()
    assert extract(getter({}), Broken()) == Propagated()


def test_extract_accepts_a_getter_returning_a_string_or_none() -> None:
    headers = {"traceparent": TP, "baggage": BG}
    got = extract(lambda name: headers.get(name))  # type: ignore[arg-type,return-value]
    assert got == Propagated(CTX._replace(trace_state=TraceState.EMPTY), BAGGAGE)


def test_extract_survives_getters_returning_junk() -> None:
    assert extract(lambda name: [b"bytes"]) == Propagated()  # type: ignore[list-item]
    assert extract(lambda name: 42) == Propagated()  # type: ignore[arg-type,return-value]
    assert extract(lambda name: [None, 1]) == Propagated()  # type: ignore[list-item]


def test_extract_ignores_a_propagator_that_returns_junk() -> None:
    class Junk(Broken):
        def extract(self, get: HeaderGetter, into: Propagated) -> Propagated:
            return "junk"  # type: ignore[return-value]

    assert extract(getter({}), Junk()) == Propagated()


def test_inject_survives_a_raising_setter() -> None:
    calls: list[str] = []

    def set_(name: str, value: str) -> None:
        calls.append(name)
        raise OSError("closed")

    inject(set_, Propagated(CTX, BAGGAGE))
    inject(set_, Propagated(CTX, BAGGAGE), Broken())
    assert calls == ["traceparent", "baggage"]  # each propagator tried; tracestate skipped after the failure


def test_inject_survives_a_junk_context() -> None:
    out: dict[str, str] = {}
    inject(mapping_setter(out), Propagated("junk", "junk"))  # type: ignore[arg-type]
    assert out == {}


# --- carriers -------------------------------------------------------------------------------------


def asgi_headers() -> list[tuple[bytes, bytes]]:
    return [
        (b"host", b"example.com"),
        (b"traceparent", TP.encode()),
        (b"tracestate", b"rojo=00f067aa0ba902b7"),
        (b"x-custom", b"caf\xe9"),
        (b"tracestate", b"congo=t61rcWkgMzE"),
        (b"baggage", BG.encode()),
    ]


def test_asgi_getter() -> None:
    get = asgi_getter(asgi_headers())
    assert list(get("traceparent")) == [TP]
    assert list(get("tracestate")) == ["rojo=00f067aa0ba902b7", "congo=t61rcWkgMzE"]
    assert list(get("x-custom")) == ["caf\u00e9"]  # latin-1
    assert list(get("absent")) == [] and list(get("baggage")) == [BG]
    assert extract(get) == Propagated(CTX, BAGGAGE)


def test_asgi_getter_with_two_traceparent_fields() -> None:
    get = asgi_getter([(b"traceparent", TP.encode()), (b"traceparent", TP.encode())])
    assert extract(get).span_context is None


def test_asgi_getter_accepts_a_one_shot_iterable() -> None:
    get = asgi_getter(iter(asgi_headers()))
    assert (
        list(get("x-custom")) == ["caf\u00e9"]
        and list(get("traceparent")) == [TP]
        and list(get("host")) == ["example.com"]
    )


def test_asgi_setter_replaces_existing_fields_in_place() -> None:
    headers = [(b"content-type", b"text/plain"), (b"traceparent", b"old"), (b"Traceparent", b"old2")]
    original = headers
    set_ = asgi_setter(headers)
    set_("traceparent", TP)
    set_("baggage", "a=1")
    assert original is headers
    assert headers == [(b"content-type", b"text/plain"), (b"traceparent", TP.encode()), (b"baggage", b"a=1")]


def test_asgi_round_trip() -> None:
    headers: list[tuple[bytes, bytes]] = []
    inject(asgi_setter(headers), Propagated(CTX, BAGGAGE))
    assert extract(asgi_getter(headers)) == Propagated(CTX, BAGGAGE)


def test_environ_getter() -> None:
    environ = {
        "HTTP_TRACEPARENT": TP,
        "HTTP_TRACESTATE": "rojo=00f067aa0ba902b7, congo=t61rcWkgMzE",  # two fields, folded by the server
        "HTTP_BAGGAGE": BG,
        "HTTP_X_REQUEST_ID": "abc",
        "CONTENT_TYPE": "text/plain",
        "wsgi.input": object(),
    }
    get = environ_getter(environ)
    assert list(get("traceparent")) == [TP]
    assert list(get("x-request-id")) == ["abc"]
    assert list(get("content-type")) == ["text/plain"]
    assert list(get("absent")) == []
    assert extract(get) == Propagated(CTX, BAGGAGE)


def test_environ_getter_splits_a_folded_traceparent() -> None:
    # Two traceparent fields arrive as "v1, v2": they must still count as two fields (invalid).
    get = environ_getter({"HTTP_TRACEPARENT": f"{TP}, {TP}"})
    assert len(get("traceparent")) == 2
    assert extract(get).span_context is None
    future = f"cc-{TRACE}-{SPAN}-01-future"
    assert extract(environ_getter({"HTTP_TRACEPARENT": f"{future},{TP}"})).span_context is None


def test_environ_getter_ignores_non_string_values() -> None:
    assert list(environ_getter({"HTTP_TRACEPARENT": 1})("traceparent")) == []


def test_mapping_getter_is_case_insensitive() -> None:
    get = mapping_getter({"TraceParent": TP, "TRACESTATE": ["rojo=00f067aa0ba902b7", "congo=t61rcWkgMzE"]})
    assert list(get("traceparent")) == [TP]
    assert extract(get).span_context == CTX


def test_mapping_getter_values() -> None:
    headers = {"a": "1", "B": ("2", "3"), "c": b"caf\xe9", "d": [b"x", "y", 5], "e": 7, b"f": "bytes-key"}
    get = mapping_getter(headers)  # type: ignore[arg-type]
    assert [list(get(n)) for n in "abcdef"] == [["1"], ["2", "3"], ["caf\u00e9"], ["x", "y"], [], ["bytes-key"]]


def test_mapping_getter_merges_names_differing_by_case() -> None:
    get = mapping_getter({"traceparent": TP, "Traceparent": TP})
    assert len(get("traceparent")) == 2 and extract(get).span_context is None


def test_mapping_getter_splits_a_folded_traceparent() -> None:
    assert extract(mapping_getter({"traceparent": f"{TP}, {TP}"})).span_context is None


def test_mapping_setter_replaces_other_casings() -> None:
    d = {"TraceParent": "old", "x": "y"}
    mapping_setter(d)("traceparent", TP)
    assert d == {"x": "y", "traceparent": TP}


def test_metadata_getter() -> None:
    md = (("traceparent", TP), ("tracestate", b"rojo=00f067aa0ba902b7"), ("tracestate", "congo=t61rcWkgMzE"))
    get = metadata_getter(md)
    assert list(get("tracestate")) == ["rojo=00f067aa0ba902b7", "congo=t61rcWkgMzE"]
    assert extract(get).span_context == CTX
    assert list(metadata_getter(None)("traceparent")) == []
    assert list(metadata_getter(iter(md))("traceparent")) == [TP]


def test_metadata_setter_replaces_in_place() -> None:
    md = [("traceparent", "old"), ("user-agent", "grpc"), ("traceparent", "old2")]
    metadata_setter(md)("traceparent", TP)
    metadata_setter(md)("baggage", "a=1")
    assert md == [("user-agent", "grpc"), ("traceparent", TP), ("baggage", "a=1")]


def test_metadata_round_trip() -> None:
    md: list[tuple[str, str]] = []
    inject(metadata_setter(md), Propagated(CTX, BAGGAGE))
    assert extract(metadata_getter(md)) == Propagated(CTX, BAGGAGE)


header_names = st.sampled_from(["traceparent", "tracestate", "baggage", "TraceParent", "other"])
header_values = st.one_of(st.text(), st.binary().map(lambda b: b.decode("latin-1")), st.just(TP), st.just(TS))


@given(st.dictionaries(header_names, st.lists(header_values, max_size=3)))
def test_extract_never_raises_on_arbitrary_headers(headers: dict[str, list[str]]) -> None:
    got = extract(mapping_getter(headers))
    assert isinstance(got, Propagated)
    out: dict[str, str] = {}
    inject(mapping_setter(out), got)
    assert extract(mapping_getter(out)) == got


@given(st.lists(st.tuples(st.binary(max_size=12), st.binary(max_size=80)), max_size=6))
def test_asgi_extract_never_raises(headers: list[tuple[bytes, bytes]]) -> None:
    assert isinstance(extract(asgi_getter(headers)), Propagated)


def test_propagators_return_a_junk_into_unchanged() -> None:
    junk: object = object()
    get = getter({"traceparent": [TP], "baggage": [BG]})
    results = [TraceContextPropagator().extract(get, junk), BaggagePropagator().extract(get, junk)]  # type: ignore[arg-type]
    assert all(r is junk for r in results)


def test_carrier_getters_never_raise() -> None:
    assert list(asgi_getter([(b"traceparent", "not bytes")])("traceparent")) == []  # type: ignore[list-item]
    assert list(asgi_getter([(b"x", b"1")])("\u20ac")) == []
    assert list(environ_getter(None)("traceparent")) == []  # type: ignore[arg-type]
    assert list(mapping_getter(None)("traceparent")) == []  # type: ignore[arg-type]
    assert list(metadata_getter([("traceparent", 5)])("traceparent")) == []  # type: ignore[list-item]


def test_carrier_setters_never_raise() -> None:
    headers: list[tuple[bytes, bytes]] = [(b"a", b"1")]
    asgi_setter(headers)("k", "\u20ac")  # not latin-1
    assert headers == [(b"a", b"1")]
    frozen: dict[str, str] = {}
    mapping_setter(types.MappingProxyType(frozen))("k", "v")  # type: ignore[arg-type]
    metadata_setter(())("k", "v")  # type: ignore[arg-type]
    assert frozen == {}
