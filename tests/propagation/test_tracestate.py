"""tracestate, cases taken from W3C Trace Context Level 2 section 3.3 and the mutation rules of 3.5."""

from __future__ import annotations

import time
from typing import Any

import pytest
from hypothesis import given, strategies as st

from c13_middleware.propagation import _tracestate
from c13_middleware.propagation._tracestate import (
    MAX_ELEMENTS,
    MAX_INPUT_LENGTH,
    TraceState,
    is_valid_key,
    is_valid_value,
)
from tests.propagation.counting import FLOODS, CountingFields, max_handed

EXAMPLE = "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE"


def parse(*values: str) -> TraceState:
    return TraceState.from_headers(list(values))


def members(n: int, start: int = 0) -> str:
    return ",".join(f"k{i}=v{i}" for i in range(start, start + n))


def test_spec_example() -> None:
    ts = parse(EXAMPLE)
    assert ts.items() == (("rojo", "00f067aa0ba902b7"), ("congo", "t61rcWkgMzE"))
    assert ts.get("congo") == "t61rcWkgMzE" and ts.get("rojo") == "00f067aa0ba902b7"
    assert ts.get("absent") is None
    assert len(ts) == 2


def test_header_round_trip_of_the_spec_example() -> None:
    assert parse(EXAMPLE).to_header() == EXAMPLE


def test_several_fields_combine_in_order() -> None:
    assert parse("a=1", "b=2") == parse("a=1,b=2")
    assert parse("a=1", "b=2").items() == (("a", "1"), ("b", "2"))
    assert parse("b=2", "a=1").items() == (("b", "2"), ("a", "1"))


def test_optional_whitespace_around_members_is_ignored() -> None:
    assert parse(" a=1 ,\tb=2\t, c=3  ").items() == (("a", "1"), ("b", "2"), ("c", "3"))


@pytest.mark.parametrize("header", ["", " ", ",", " , ,\t,", ",,,"])
def test_empty_headers_and_members_are_accepted(header: str) -> None:
    assert parse(header) is TraceState.EMPTY
    assert parse("a=1", header, "b=2").items() == (("a", "1"), ("b", "2"))
    assert parse(f"a=1,{header},b=2").items() == (("a", "1"), ("b", "2"))


def test_no_field_is_empty() -> None:
    assert TraceState.from_headers([]) is TraceState.EMPTY


def test_32_members_are_accepted() -> None:
    assert len(parse(members(32))) == 32
    assert len(parse(members(16), ",,", members(16, 16), " , ")) == 32


def test_33_members_discard_the_whole_header() -> None:
    assert parse(members(33)) is TraceState.EMPTY
    assert parse(members(16), members(17, 16)) is TraceState.EMPTY


@pytest.mark.parametrize(
    "key",
    [
        "a",
        "z",
        "0",
        "9abc",  # Level 2: a key may begin with a digit
        "a0_-*/",
        "abc_def-ghi*jkl/mno",
        "tenant@system",  # Level 1 multi-tenant key
        "0tenant@sys",
        "fw529a3039@dt",
        "a@b@c",  # Level 2: "@" is just a key character
        "a@0123456789abcdefghij",  # system part longer than Level 1's 14
        "a" * 256,
        "1" + "@" * 255,
    ],
)
def test_valid_keys(key: str) -> None:
    assert is_valid_key(key)
    assert parse(f"{key}=v").items() == ((key, "v"),)


@pytest.mark.parametrize(
    "key",
    ["", "A", "Abc", "aBc", "_a", "-a", "*a", "/a", "@a", "a.b", "a b", "a:b", "é", "a" * 257, "a\tb", "a+b"],
)
def test_invalid_keys(key: str) -> None:
    assert not is_valid_key(key)
    assert parse(f"{key}=v") is TraceState.EMPTY
    assert parse(f"ok=1,{key}=v,fine=2") is TraceState.EMPTY


@pytest.mark.parametrize(
    "value",
    ["v", "a b", " leading", "   x", "x" * 256, "!\"#$%&'()*+-./:;<>?@[\\]^_`{|}~", "0"],
)
def test_valid_values(value: str) -> None:
    assert is_valid_value(value)
    assert parse(f"k={value}").get("k") == value


def test_leading_spaces_of_a_value_are_kept() -> None:
    # "All leading spaces MUST be preserved as part of the value."
    assert parse("k=  v").get("k") == "  v"
    assert parse("a=1,  k=  v  ,b=2").get("k") == "  v"


def test_trailing_spaces_are_optional_whitespace() -> None:
    assert parse("k=v   ").get("k") == "v"
    assert parse("k=v \t ,a=1").get("k") == "v"


@pytest.mark.parametrize("value", ["", " ", "a=b", "x" * 257, "a\tb", "a\x7fb", "caf\u00e9", "a\nb", "a\x00"])
def test_invalid_values(value: str) -> None:
    assert not is_valid_value(value)
    assert parse(f"k={value}") is TraceState.EMPTY
    assert parse(f"ok=1,k={value}") is TraceState.EMPTY


@pytest.mark.parametrize("member", ["novalue", "k =v", "k= ", "k", "=v", "k==v", "k=v=w", "k=a,b"])
def test_any_invalid_member_discards_the_whole_header(member: str) -> None:
    assert parse(f"a=1,{member},b=2") is TraceState.EMPTY


def test_a_duplicate_key_keeps_the_first_entry_and_the_others() -> None:
    # Level 2 lets a vendor discard duplicate keys (the duplicates, not the header); the W3C test suite expects the
    # header inherited. The first entry is the left-most, most recent position.
    assert parse("a=1,b=2,a=3").items() == (("a", "1"), ("b", "2"))
    assert parse("foo=1,foo=2").items() == (("foo", "1"),)
    assert parse("a=1", "a=1").items() == (("a", "1"),)
    assert parse("a=1", "b=2,a=3", "c=4").items() == (("a", "1"), ("b", "2"), ("c", "4"))


def test_duplicates_count_toward_the_32_members() -> None:
    assert len(parse(members(31), "k0=again")) == 31
    assert parse(members(32), "k0=again") is TraceState.EMPTY


@pytest.mark.parametrize("name", sorted(FLOODS))
def test_parsing_reads_a_bounded_number_of_characters(name: str) -> None:
    counted = CountingFields(FLOODS[name])
    TraceState.from_headers(counted)
    assert counted.handed <= max_handed(MAX_INPUT_LENGTH, FLOODS[name])


@pytest.mark.parametrize(
    "fields",
    [
        pytest.param(["," * 1_000_000], id="1 MB of commas"),
        pytest.param(["," * 8_000] * 97, id="97 fields of 8000 commas"),
        pytest.param([" ," * 500_000], id="1 MB of whitespace members"),
        pytest.param([members(32) + "," * 1_000_000], id="32 members then 1 MB of commas"),
    ],
)
def test_parsing_examines_a_bounded_number_of_elements(fields: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    calls = 0
    real = _tracestate._member

    def counting(member: str) -> Any:
        nonlocal calls
        calls += 1
        return real(member)

    monkeypatch.setattr(_tracestate, "_member", counting)
    started = time.perf_counter()
    TraceState.from_headers(fields)
    elapsed = time.perf_counter() - started
    # Each element costs at most two matches (as it is, then stripped of optional whitespace).
    assert calls <= 2 * MAX_ELEMENTS
    # Before the bounds this took 65-85 ms; bounded, it takes well under 1 ms. Generous for a loaded machine.
    assert elapsed < 0.02


def test_members_beyond_the_input_bound_are_not_read() -> None:
    padding = "," * (MAX_INPUT_LENGTH - 10)
    assert parse("a=1," + padding + ",b=2").items() == (("a", "1"),)
    assert parse("a=1", padding, "b=2").items() == (("a", "1"),)
    assert parse("a=1,b=2").items() == (("a", "1"), ("b", "2"))


def test_members_beyond_the_element_bound_are_not_read() -> None:
    assert parse("a=1" + "," * (MAX_ELEMENTS - 1) + "b=2").items() == (("a", "1"), ("b", "2"))
    assert parse("a=1" + "," * MAX_ELEMENTS + "b=2").items() == (("a", "1"),)


def test_a_bare_string_counts_as_one_field() -> None:
    assert TraceState.from_headers("a=1,b=2") == parse("a=1,b=2")


def test_non_string_input_does_not_raise() -> None:
    assert TraceState.from_headers([b"a=1"]) is TraceState.EMPTY  # type: ignore[list-item]
    assert TraceState.from_headers(["a=1", None]) is TraceState.EMPTY  # type: ignore[list-item]
    assert TraceState.from_headers(None) is TraceState.EMPTY  # type: ignore[arg-type]


def test_set_adds_to_the_front() -> None:
    ts = parse("rojo=00f067aa0ba902b7").set("congo", "t61rcWkgMzE")
    assert ts.to_header() == "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7"


def test_set_moves_a_modified_key_to_the_front() -> None:
    # Spec example: congo re-enters and its entry moves left with the new value.
    ts = parse("rojo=00f067aa0ba902b7,congo=t61rcWkgMzE").set("congo", "ucfJifl5GOE")
    assert ts.to_header() == "congo=ucfJifl5GOE,rojo=00f067aa0ba902b7"
    assert parse("a=1,b=2,c=3").set("b", "9").items() == (("b", "9"), ("a", "1"), ("c", "3"))


def test_set_does_not_mutate() -> None:
    ts = parse("a=1")
    ts2 = ts.set("b", "2")
    assert ts.items() == (("a", "1"),) and ts2 is not ts and len(ts2) == 2


@pytest.mark.parametrize(("key", "value"), [("A", "v"), ("k", ""), ("k", "a,b"), ("k", "v "), (1, "v"), ("k", None)])
def test_set_with_an_invalid_key_or_value_returns_self(key: str, value: str) -> None:
    ts = parse("a=1")
    assert ts.set(key, value) is ts


def test_set_on_a_full_list_drops_the_right_most_member() -> None:
    full = parse(members(32))
    ts = full.set("new", "x")
    assert len(ts) == 32
    assert ts.items()[0] == ("new", "x")
    assert ts.get("k31") is None and ts.get("k30") == "v30"


def test_updating_a_key_of_a_full_list_drops_nothing() -> None:
    ts = parse(members(32)).set("k31", "z")
    assert len(ts) == 32 and ts.items()[0] == ("k31", "z") and ts.get("k30") == "v30"


def test_delete() -> None:
    ts = parse("a=1,b=2,c=3")
    assert ts.delete("b").items() == (("a", "1"), ("c", "3"))
    assert ts.delete("missing") is ts
    assert ts.delete("a").delete("b").delete("c") == TraceState.EMPTY


def test_empty_to_header() -> None:
    assert TraceState.EMPTY.to_header() == ""


def test_equality_and_hash_follow_the_entries() -> None:
    assert parse("a=1,b=2") == parse("a=1", "b=2")
    assert hash(parse("a=1,b=2")) == hash(parse("a=1", "b=2"))
    assert parse("a=1,b=2") != parse("b=2,a=1")
    assert parse("a=1") != "a=1"
    assert repr(parse("a=1")) == "TraceState((('a', '1'),))"


def _entry(key: str, length: int) -> tuple[str, str]:
    return key, "v" * (length - len(key) - 1)  # "key=vvv" is `length` characters


def test_a_header_up_to_512_characters_is_not_truncated() -> None:
    entries = (_entry("a", 200), _entry("b", 200), _entry("c", 110))  # 510 + 2 commas
    assert len(TraceState(entries).to_header()) == 512
    assert TraceState(entries).to_header().count(",") == 2


def test_truncation_removes_large_entries_first_from_the_right() -> None:
    entries = (_entry("a", 100), _entry("big1", 200), _entry("b", 100), _entry("big2", 200), _entry("c", 100))
    header = TraceState(entries).to_header()  # 700 + 4 > 512: dropping big2 is enough
    assert [m.split("=")[0] for m in header.split(",")] == ["a", "big1", "b", "c"]
    assert len(header) <= 512


def test_truncation_removes_all_large_entries_before_small_ones() -> None:
    entries = (_entry("big1", 300), _entry("a", 100), _entry("big2", 300), _entry("b", 100), _entry("c", 100))
    header = TraceState(entries).to_header()  # 904: dropping big2 leaves 603, so big1 goes too
    assert [m.split("=")[0] for m in header.split(",")] == ["a", "b", "c"]


def test_truncation_then_removes_from_the_right_end() -> None:
    entries = tuple(_entry(f"k{i}", 100) for i in range(8))  # no entry is larger than 128
    header = TraceState(entries).to_header()
    assert [m.split("=")[0] for m in header.split(",")] == ["k0", "k1", "k2", "k3", "k4"]
    assert len(header) == 504


def test_truncation_never_cuts_an_entry() -> None:
    entries = (_entry("a", 129), _entry("b", 128), *(_entry(f"k{i}", 50) for i in range(6)))
    header = TraceState(entries).to_header()
    assert len(header) <= 512
    for member in header.split(","):
        key, _, value = member.partition("=")
        assert dict(entries)[key] == value
    assert "a=" not in header  # the only entry over 128 characters goes first
    assert header.startswith("b=")


def test_a_single_entry_over_512_characters_is_dropped() -> None:
    ts = TraceState.EMPTY.set("k" * 256, "v" * 256)  # 513 characters
    assert len(ts) == 1 and ts.to_header() == ""


# Strategies generating from the grammar.
keys = st.from_regex(r"[a-z0-9][a-z0-9_\-*/@]{0,20}", fullmatch=True)
values = st.from_regex(r"[\x20-\x2b\x2d-\x3c\x3e-\x7e]{0,30}[\x21-\x2b\x2d-\x3c\x3e-\x7e]", fullmatch=True)
trace_states = st.lists(st.tuples(keys, values), max_size=32, unique_by=lambda kv: kv[0]).map(
    lambda entries: TraceState(tuple(entries))
)


@given(trace_states)
def test_parse_format_round_trip(ts: TraceState) -> None:
    header = ts.to_header()
    parsed = TraceState.from_headers([header])
    assert len(header) <= 512
    if len(",".join(f"{k}={v}" for k, v in ts.items())) <= 512:
        assert parsed == ts
    else:
        kept = iter(ts.items())
        assert all(entry in kept for entry in parsed.items())  # an ordered subsequence


@given(trace_states, st.integers(1, 4))
def test_splitting_into_several_fields_parses_the_same(ts: TraceState, parts: int) -> None:
    items = [f"{k}={v}" for k, v in ts.items()]
    fields = [",".join(items[i::parts]) for i in range(parts)]
    reordered = TraceState(tuple(kv for i in range(parts) for kv in ts.items()[i::parts]))
    assert TraceState.from_headers(fields) == reordered


@given(trace_states, keys, values)
def test_set_puts_the_entry_first_and_keeps_the_rest_in_order(ts: TraceState, key: str, value: str) -> None:
    new = ts.set(key, value)
    assert new.items()[0] == (key, value)
    rest = [kv for kv in ts.items() if kv[0] != key][:31]
    assert list(new.items()[1:]) == rest


def _check(ts: TraceState) -> None:
    assert len(ts) <= 32
    assert all(is_valid_key(k) and is_valid_value(v) for k, v in ts.items())
    assert len({k for k, _ in ts.items()}) == len(ts)


@given(st.lists(st.text(), max_size=3))
def test_parse_never_raises_on_text(values: list[str]) -> None:
    _check(TraceState.from_headers(values))


@given(st.lists(st.binary().map(lambda b: b.decode("latin-1")), max_size=3))
def test_parse_never_raises_on_latin1_bytes(values: list[str]) -> None:
    _check(TraceState.from_headers(values))


@given(st.lists(st.text(alphabet="ab1@_-*/= ,\t\x7fA", max_size=40), max_size=3))
def test_parse_never_raises_on_near_valid_text(values: list[str]) -> None:
    _check(TraceState.from_headers(values))
