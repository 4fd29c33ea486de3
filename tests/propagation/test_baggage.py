"""baggage, cases taken from W3C Baggage (baggage/HTTP_HEADER_FORMAT.md)."""

from __future__ import annotations

import time
from typing import Any

import pytest
from hypothesis import given, strategies as st

from c13_middleware.propagation import _baggage
from c13_middleware.propagation._baggage import MAX_BYTES, MAX_ELEMENTS, MAX_MEMBERS, Baggage, BaggageEntry
from tests.propagation.counting import FLOODS, CountingFields, max_handed

E = BaggageEntry


def parse(*values: str) -> Baggage:
    return Baggage.from_headers(list(values))


def test_spec_example_with_properties() -> None:
    b = parse("key1=value1;property1;property2, key2 = value2, key3=value3; propertyKey=propertyValue")
    assert b.items() == (
        ("key1", E("value1", "property1;property2")),
        ("key2", E("value2", "")),
        ("key3", E("value3", "propertyKey=propertyValue")),
    )


def test_spec_example_single_header() -> None:
    b = parse("userId=alice,serverNode=DF%2028,isProduction=false")
    assert b.get("userId") == E("alice") and b.get("serverNode") == E("DF 28") and b.get("isProduction") == E("false")
    assert b.to_header() == "userId=alice,serverNode=DF%2028,isProduction=false"


def test_spec_example_split_into_several_headers() -> None:
    assert parse("userId=alice", "serverNode=DF%2028,isProduction=false") == parse(
        "userId=alice,serverNode=DF%2028,isProduction=false"
    )


def test_spec_example_with_spaces() -> None:
    b = parse("userId =   alice", "serverNode = DF%2028, isProduction = false")
    assert b == parse("userId=alice,serverNode=DF%2028,isProduction=false")


def test_properties_are_kept_as_trimmed_raw_text() -> None:
    b = parse("k=v ; p1 ; p2 = x=y ;\tp3=%20")
    assert b.get("k") == E("v", "p1;p2=x=y;p3=%20")  # property values are opaque: not decoded


def test_percent_encoded_utf8_is_decoded() -> None:
    b = parse("a=%E2%82%AC,b=%e2%82%ac,c=%25,d=caf%C3%A9%20au%20lait,e=%2C%3B%22%5C")
    assert [e.value for _, e in b.items()] == ["\u20ac", "\u20ac", "%", "caf\u00e9 au lait", ',;"\\']


def test_malformed_escapes_drop_only_that_member() -> None:
    assert parse("a=%zz,b=%4,c=100%,d=%2,e=%%41,ok=%41").items() == (("ok", E("A")),)


def test_invalid_utf8_drops_only_that_member() -> None:
    assert parse("a=1,b=%FF,c=%C3,d=2").items() == (("a", E("1")), ("d", E("2")))


def test_value_may_contain_equal_signs_and_be_empty() -> None:
    assert parse("k=a=b==").get("k") == E("a=b==")
    assert parse("k=").get("k") == E("")
    assert parse("k = ;p").get("k") == E("", "p")


def test_keys_are_case_sensitive_tokens() -> None:
    b = parse("Key=1,key=2,!#$%&'*+-.^_`|~09azAZ=3")
    assert [k for k, _ in b.items()] == ["Key", "key", "!#$%&'*+-.^_`|~09azAZ"]


@pytest.mark.parametrize(
    "member",
    [
        "bad key=1",  # a space in the key
        "k=a b",  # a space inside the value
        'k="quoted"',
        "k=back\\slash",
        "justakey",
        "=v",
        "k\u00e9=v",
        "k=caf\u00e9",  # not percent-encoded
        "k=v;",  # an empty property
        "k=v;;p",
        "k=v;p p",
        "k=v;p=a b",
        "k=v;=x",
        "k=\tv\x7f",
        "(k)=v",
        "k:x=v",
    ],
)
def test_invalid_members_are_skipped_alone(member: str) -> None:
    assert parse(f"a=1,{member},b=2").items() == (("a", E("1")), ("b", E("2")))


@pytest.mark.parametrize("header", ["", " ", ",", " , ,\t,"])
def test_empty_members_are_ignored(header: str) -> None:
    assert parse(header) is Baggage.EMPTY
    assert len(parse("a=1", header, "b=2")) == 2


def test_a_later_duplicate_wins_at_the_first_position() -> None:
    b = parse("k=1;p,j=2", "k=3")
    assert b.items() == (("k", E("3")), ("j", E("2")))


def test_parse_keeps_64_members_and_ignores_the_rest() -> None:
    header = ",".join(f"k{i}=v" for i in range(100))
    b = parse(header)
    assert len(b) == MAX_MEMBERS == 64
    assert b.get("k63") is not None and b.get("k64") is None


def test_invalid_members_do_not_count_toward_64() -> None:
    header = ",".join(["bad key=1"] * 10 + [f"k{i}=v" for i in range(64)])
    assert len(parse(header)) == 64


def test_parse_reads_only_members_within_8192_bytes() -> None:
    first = "a=" + "x" * 4000
    second = "b=" + "y" * 4000
    third = "c=" + "z" * 200  # ends after byte 8192
    b = parse(",".join([first, second, third]))
    assert [k for k, _ in b.items()] == ["a", "b"]
    exact = "c=" + "z" * (MAX_BYTES - len(first) - len(second) - 2 - 2)  # ends exactly at byte 8192
    assert [k for k, _ in parse(",".join([first, second, exact])).items()] == ["a", "b", "c"]
    assert [k for k, _ in parse(",".join([first, second, exact, "d=1"])).items()] == ["a", "b", "c"]


def test_the_8192_byte_bound_spans_fields() -> None:
    first = "a=" + "x" * 4000
    second = "b=" + "y" * 4000
    assert [k for k, _ in parse(first, second, "c=" + "z" * 200).items()] == ["a", "b"]
    exact = "c=" + "z" * (MAX_BYTES - len(first) - len(second) - 2 - 2)
    assert [k for k, _ in parse(first, second, exact, "d=1").items()] == ["a", "b", "c"]


@pytest.mark.parametrize("name", sorted(FLOODS))
def test_parsing_reads_a_bounded_number_of_characters(name: str) -> None:
    counted = CountingFields(FLOODS[name])
    Baggage.from_headers(counted)
    assert counted.handed <= max_handed(MAX_BYTES, FLOODS[name])


@pytest.mark.parametrize(
    "fields",
    [
        pytest.param(["," * 1_000_000], id="1 MB of commas"),
        pytest.param(["," * 8_000] * 97, id="97 fields of 8000 commas"),
        pytest.param(["bad key=1," * 100_000], id="1 MB of invalid members"),
    ],
)
def test_parsing_examines_a_bounded_number_of_elements(fields: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    calls = 0
    real = _baggage._parse_member

    def counting(member: str) -> Any:
        nonlocal calls
        calls += 1
        return real(member)

    monkeypatch.setattr(_baggage, "_parse_member", counting)
    started = time.perf_counter()
    Baggage.from_headers(fields)
    assert calls <= MAX_ELEMENTS
    assert time.perf_counter() - started < 0.02  # generous: bounded work takes well under 1 ms


def test_members_beyond_the_element_bound_are_not_read() -> None:
    assert len(parse("a=1" + "," * (MAX_ELEMENTS - 1) + "b=2")) == 2
    assert parse("a=1" + "," * MAX_ELEMENTS + "b=2").items() == (("a", E("1")),)


def test_one_oversized_member_yields_nothing() -> None:
    assert parse("a=" + "x" * MAX_BYTES) is Baggage.EMPTY


def test_a_bare_string_counts_as_one_field() -> None:
    assert Baggage.from_headers("a=1,b=2") == parse("a=1,b=2")


def test_non_string_input_does_not_raise() -> None:
    assert Baggage.from_headers([b"a=1"]) is Baggage.EMPTY  # type: ignore[list-item]
    assert Baggage.from_headers(None) is Baggage.EMPTY  # type: ignore[arg-type]
    assert Baggage.from_headers(["a=1", 5]) is Baggage.EMPTY  # type: ignore[list-item]


def test_to_header_percent_encodes_outside_baggage_octets() -> None:
    b = Baggage.EMPTY.set("k", ' ,;"\\%\u20ac\t\n').set("safe", "a=b/c:d?e&f!#$'()*+-.<>@[]^_`{|}~")
    assert b.to_header() == "k=%20%2C%3B%22%5C%25%E2%82%AC%09%0A,safe=a=b/c:d?e&f!#$'()*+-.<>@[]^_`{|}~"


def test_to_header_writes_properties() -> None:
    b = Baggage.EMPTY.set("k", "v", "p1 ; p2= x").set("j", "w")
    assert b.get("k") == E("v", "p1;p2=x")
    assert b.to_header() == "k=v;p1;p2=x,j=w"


def test_to_header_drops_members_over_64() -> None:
    b = Baggage.EMPTY
    for i in range(70):
        b = b.set(f"k{i}", "v")
    header = b.to_header()
    assert len(b) == 70 and header.count(",") == 63 and header.endswith("k63=v")


def test_to_header_drops_whole_entries_that_do_not_fit_8192_bytes() -> None:
    b = Baggage.EMPTY.set("a", "x" * 5000).set("big", "y" * 4000).set("small", "z")
    header = b.to_header()
    assert header == "a=" + "x" * 5000 + ",small=z"
    assert len(header.encode()) <= MAX_BYTES


def test_to_header_counts_encoded_bytes() -> None:
    b = Baggage.EMPTY.set("a", "\u20ac" * 900).set("b", "v")  # 8100 encoded bytes for a
    header = b.to_header()
    assert len(header) == 2 + 8100 + 4 and header.endswith(",b=v")
    assert Baggage.EMPTY.set("a", "\u20ac" * 911).to_header() == ""  # 8199 bytes


def test_to_header_of_empty_baggage() -> None:
    assert Baggage.EMPTY.to_header() == ""


def test_to_header_skips_entries_it_cannot_represent() -> None:
    b = Baggage([("bad name", E("v")), ("k", E("v")), ("s", E("\ud800")), ("p", E("v", "bad prop"))])
    assert b.to_header() == "k=v"


@pytest.mark.parametrize(
    ("name", "value", "properties"),
    [
        ("bad name", "v", ""),
        ("", "v", ""),
        ("k", "\ud800", ""),
        ("k", "v", "p p"),
        ("k", "v", ";"),
        (1, "v", ""),
        ("k", 1, ""),
    ],
)
def test_set_with_invalid_input_returns_self(name: str, value: str, properties: str) -> None:
    b = parse("a=1")
    assert b.set(name, value, properties) is b


def test_set_updates_in_place_and_appends_new_names() -> None:
    b = parse("a=1,b=2").set("a", "9").set("c", "3")
    assert b.items() == (("a", E("9")), ("b", E("2")), ("c", E("3")))


def test_set_does_not_mutate() -> None:
    b = parse("a=1")
    b.set("b", "2")
    assert b.items() == (("a", E("1")),)


def test_delete_get_contains_len() -> None:
    b = parse("a=1,b=2")
    assert b.delete("a").items() == (("b", E("2")),)
    assert b.delete("missing") is b
    assert "a" in b and "z" not in b and b.get("z") is None and len(b) == 2


def test_equality_is_order_sensitive_and_hashable() -> None:
    assert parse("a=1,b=2") == parse("a=1", "b=2")
    assert hash(parse("a=1,b=2")) == hash(parse("a=1", "b=2"))
    assert parse("a=1,b=2") != parse("b=2,a=1")
    assert parse("a=1") != {"a": "1"}
    assert repr(parse("a=1")) == "Baggage((('a', BaggageEntry(value='1', properties='')),))"


# Strategies generating from the grammar.
tokens = st.text(
    alphabet="!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=1, max_size=20
)
octets = st.from_regex(r"[\x21\x23-\x2b\x2d-\x3a\x3c-\x5b\x5d-\x7e]{0,20}", fullmatch=True)
properties = st.lists(st.one_of(tokens, st.builds(lambda k, v: f"{k}={v}", tokens, octets)), max_size=3).map(";".join)
baggages = st.lists(st.tuples(tokens, st.text(max_size=40), properties), max_size=12, unique_by=lambda e: e[0]).map(
    lambda entries: Baggage((k, E(v, p)) for k, v, p in entries)
)


@given(baggages)
def test_parse_format_round_trip(b: Baggage) -> None:
    assert Baggage.from_headers([b.to_header()]) == b


@given(baggages, st.integers(1, 3))
def test_format_split_and_reparse(b: Baggage, parts: int) -> None:
    members = b.to_header().split(",") if len(b) else []
    fields = [",".join(members[i::parts]) for i in range(parts)]
    expected = Baggage(kv for i in range(parts) for kv in b.items()[i::parts])
    assert Baggage.from_headers(fields) == expected


def _check(b: Baggage) -> None:
    assert len(b) <= MAX_MEMBERS
    header = b.to_header()
    assert len(header) <= MAX_BYTES and header.isascii()
    assert Baggage.from_headers([header]) == b


@given(st.lists(st.text(), max_size=3))
def test_parse_never_raises_on_text(values: list[str]) -> None:
    _check(Baggage.from_headers(values))


@given(st.lists(st.binary().map(lambda b: b.decode("latin-1")), max_size=3))
def test_parse_never_raises_on_latin1_bytes(values: list[str]) -> None:
    _check(Baggage.from_headers(values))


@given(st.lists(st.text(alphabet='ab=;,% \t"\\2CEF', max_size=40), max_size=3))
def test_parse_never_raises_on_near_valid_text(values: list[str]) -> None:
    _check(Baggage.from_headers(values))
