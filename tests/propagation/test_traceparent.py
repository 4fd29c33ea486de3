"""traceparent parsing/formatting, cases taken from W3C Trace Context Level 2 sections 3.2 and 4."""

from __future__ import annotations

import pytest
from hypothesis import given, strategies as st

from c13_middleware.propagation._span_context import RANDOM_FLAG, SAMPLED_FLAG, SpanContext
from c13_middleware.propagation._traceparent import format_traceparent, parse_traceparent
from c13_middleware.propagation._tracestate import TraceState

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
SPAN = "00f067aa0ba902b7"
VALID = f"00-{TRACE}-{SPAN}-01"


def test_spec_example_sampled() -> None:
    ctx = parse_traceparent([VALID])
    assert ctx == SpanContext(int(TRACE, 16), int(SPAN, 16), SAMPLED_FLAG, TraceState.EMPTY, True)
    assert ctx is not None and ctx.sampled and not ctx.random and ctx.is_remote and ctx.is_valid


def test_spec_example_not_sampled() -> None:
    ctx = parse_traceparent([f"00-{TRACE}-{SPAN}-00"])
    assert ctx is not None and ctx.trace_flags == 0 and not ctx.sampled


def test_result_has_empty_trace_state_and_is_a_span_context() -> None:
    ctx = parse_traceparent([VALID])
    assert type(ctx) is SpanContext
    assert ctx.trace_state is TraceState.EMPTY


@pytest.mark.parametrize(
    ("flags", "sampled", "random"), [("00", False, False), ("01", True, False), ("02", False, True), ("03", True, True)]
)
def test_random_flag_is_preserved(flags: str, sampled: bool, random: bool) -> None:
    ctx = parse_traceparent([f"00-{TRACE}-{SPAN}-{flags}"])
    assert ctx is not None and (ctx.sampled, ctx.random) == (sampled, random)


@pytest.mark.parametrize(("flags", "kept"), [("ff", 0x03), ("09", 0x01), ("04", 0x00), ("fe", 0x02), ("80", 0x00)])
def test_reserved_flag_bits_are_cleared(flags: str, kept: int) -> None:
    # "The behavior of other flags ... is reserved for future use. Vendors MUST set those to zero."
    ctx = parse_traceparent([f"00-{TRACE}-{SPAN}-{flags}"])
    assert ctx is not None and ctx.trace_flags == kept


def test_version_ff_is_invalid() -> None:
    assert parse_traceparent([f"ff-{TRACE}-{SPAN}-01"]) is None
    assert parse_traceparent([f"ff-{TRACE}-{SPAN}-01-more"]) is None


@pytest.mark.parametrize(
    "value",
    [
        f"01-{TRACE}-{SPAN}-01",  # a higher version of exactly 55 characters
        f"cc-{TRACE}-{SPAN}-01-what-the-future-will-be-like",
        f"fe-{TRACE}-{SPAN}-01-",
        f"99-{TRACE}-{SPAN}-01-x",
    ],
)
def test_future_versions_are_parsed_by_the_version_00_rules(value: str) -> None:
    ctx = parse_traceparent([value])
    assert ctx is not None and (ctx.trace_id, ctx.span_id, ctx.trace_flags) == (int(TRACE, 16), int(SPAN, 16), 1)


@pytest.mark.parametrize(
    "value",
    [
        f"cc-{TRACE}-{SPAN}-01what",  # the 56th character must be "-"
        f"cc-{TRACE}-{SPAN}-01.x",
        f"cc-{TRACE}-{SPAN}-0",  # shorter than 55
        f"cc-{TRACE}-{SPAN}-0x-more",
        f"cc-{TRACE.upper()}-{SPAN}-01-more",
        f"cc-{'0' * 32}-{SPAN}-01-more",
        f"cc-{TRACE}-{'0' * 16}-01-more",
        f"CC-{TRACE}-{SPAN}-01-more",
        f"c-{TRACE}-{SPAN}-01-more",
    ],
)
def test_invalid_future_versions(value: str) -> None:
    assert parse_traceparent([value]) is None


@pytest.mark.parametrize("extra", ["-", "-01", "x", "0", " x"])
def test_version_00_must_be_exactly_55_characters(extra: str) -> None:
    assert parse_traceparent([VALID + extra]) is None
    assert parse_traceparent([VALID[:-1]]) is None


def test_all_zero_ids_are_invalid() -> None:
    assert parse_traceparent([f"00-{'0' * 32}-{SPAN}-01"]) is None
    assert parse_traceparent([f"00-{TRACE}-{'0' * 16}-01"]) is None
    assert parse_traceparent([f"00-{'0' * 31}1-{'0' * 15}1-00"]) is not None


@pytest.mark.parametrize(
    "value",
    [
        f"00-{TRACE.upper()}-{SPAN}-01",
        f"00-{TRACE[:-1]}A-{SPAN}-01",
        f"00-{TRACE}-{SPAN.upper()}-01",
        f"00-{TRACE}-{SPAN[:-1]}B-01",
        f"00-{TRACE}-{SPAN}-0A",
        f"0A-{TRACE}-{SPAN}-01",
        VALID.upper(),
    ],
)
def test_upper_case_hex_is_invalid(value: str) -> None:
    assert parse_traceparent([value]) is None


@pytest.mark.parametrize(
    "value",
    [
        f"00-{TRACE[:-1]}-{SPAN}-01",
        f"00-{TRACE}0-{SPAN}-01",
        f"00-{TRACE}-{SPAN[:-1]}-01",
        f"00-{TRACE}-{SPAN}0-01",
        f"00-{TRACE}-{SPAN}-1",
        f"00-{TRACE}-{SPAN}-001",
        f"0-{TRACE}-{SPAN}-01",
        f"000-{TRACE}-{SPAN}-01",
        "",
        "00",
        f"00-{TRACE}-{SPAN}",
    ],
)
def test_wrong_lengths_are_invalid(value: str) -> None:
    assert parse_traceparent([value]) is None


# Characters int(x, 16) would accept or that look harmless: all must be rejected.
@pytest.mark.parametrize("bad", ["g", "z", "_", "+", " ", ".", "-", "\t", "\n", "\x00", "é", "\u0660"])
@pytest.mark.parametrize("position", [0, 5, 20, 40, 54])
def test_illegal_characters_are_invalid(bad: str, position: int) -> None:
    value = VALID[:position] + bad + VALID[position + 1 :]
    assert parse_traceparent([value]) is None


@pytest.mark.parametrize(
    "value",
    [
        f"00-0x{TRACE[2:]}-{SPAN}-01",  # int() accepts a 0x prefix
        f"00-{TRACE[:10]}_{TRACE[11:]}-{SPAN}-01",  # and underscores
        f"00-+{TRACE[1:]}-{SPAN}-01",  # and a sign
        f"00-{TRACE}-+{SPAN[1:]}-01",
        f"00-{TRACE}-{SPAN}-+1",
        f"00-{TRACE}-{SPAN}- 1",
        f"00_{TRACE}_{SPAN}_01",
        f"00-{TRACE}_{SPAN}-01",
        f"00-{TRACE}-{SPAN}_01",
    ],
)
def test_things_int_would_accept_are_invalid(value: str) -> None:
    assert parse_traceparent([value]) is None


def test_two_traceparent_fields_are_invalid() -> None:
    assert parse_traceparent([VALID, VALID]) is None
    assert parse_traceparent([VALID, ""]) is None


def test_no_field_is_none() -> None:
    assert parse_traceparent([]) is None
    assert parse_traceparent(()) is None


@pytest.mark.parametrize("ows", [" ", "\t", "  \t ", ""])
def test_optional_whitespace_around_the_value_is_ignored(ows: str) -> None:
    assert parse_traceparent([f"{ows}{VALID}{ows}"]) == parse_traceparent([VALID])
    assert parse_traceparent([f"{ows}{VALID}"]) is not None
    assert parse_traceparent([f"{VALID}{ows}"]) is not None
    assert parse_traceparent([f"{ows}cc-{TRACE}-{SPAN}-01-future{ows}"]) is not None


@pytest.mark.parametrize("ws", ["\n", "\r", "\v", "\f", "\xa0", "\u2003"])
def test_other_whitespace_is_not_optional_whitespace(ws: str) -> None:
    assert parse_traceparent([ws + VALID]) is None
    assert parse_traceparent([VALID + ws]) is None


def test_a_bare_string_counts_as_one_field() -> None:
    assert parse_traceparent(VALID) == parse_traceparent([VALID])


def test_non_string_input_does_not_raise() -> None:
    assert parse_traceparent([VALID.encode()]) is None  # type: ignore[list-item]
    assert parse_traceparent([None]) is None  # type: ignore[list-item]
    assert parse_traceparent(None) is None  # type: ignore[arg-type]
    assert parse_traceparent([1]) is None  # type: ignore[list-item]


def test_format_spec_example() -> None:
    ctx = SpanContext(int(TRACE, 16), int(SPAN, 16), SAMPLED_FLAG)
    assert format_traceparent(ctx) == VALID


def test_format_pads_lowercases_and_writes_version_00() -> None:
    assert format_traceparent(SpanContext(0xABC, 0xD, RANDOM_FLAG)) == f"00-{'0' * 29}abc-{'0' * 15}d-02"


def test_format_downgrades_a_future_version() -> None:
    ctx = parse_traceparent([f"cc-{TRACE}-{SPAN}-01-future"])
    assert ctx is not None and format_traceparent(ctx) == VALID


def test_format_writes_only_known_flags() -> None:
    assert format_traceparent(SpanContext(1, 1, 0xFF)).endswith("-03")
    assert format_traceparent(SpanContext(1, 1, 0x04)).endswith("-00")


@pytest.mark.parametrize(("trace_id", "span_id"), [(0, 1), (1, 0), (1 << 128, 1), (1, 1 << 64), (-1, 1), (1, -1)])
def test_format_rejects_ids_that_cannot_be_written(trace_id: int, span_id: int) -> None:
    with pytest.raises(ValueError, match="traceparent"):
        format_traceparent(SpanContext(trace_id, span_id))


def test_format_accepts_the_largest_ids() -> None:
    assert format_traceparent(SpanContext((1 << 128) - 1, (1 << 64) - 1, 3)) == f"00-{'f' * 32}-{'f' * 16}-03"


valid_contexts = st.builds(
    SpanContext,
    trace_id=st.integers(1, (1 << 128) - 1),
    span_id=st.integers(1, (1 << 64) - 1),
    trace_flags=st.integers(0, 3),
    trace_state=st.just(TraceState.EMPTY),
    is_remote=st.just(True),
)


@given(valid_contexts)
def test_parse_format_round_trip(ctx: SpanContext) -> None:
    assert parse_traceparent([format_traceparent(ctx)]) == ctx


@given(st.integers(1, (1 << 128) - 1), st.integers(1, (1 << 64) - 1), st.integers(0, 255))
def test_format_parse_round_trip_masks_unknown_flags(trace_id: int, span_id: int, flags: int) -> None:
    ctx = parse_traceparent([format_traceparent(SpanContext(trace_id, span_id, flags))])
    assert ctx == SpanContext(trace_id, span_id, flags & 3, TraceState.EMPTY, True)


def _check_accepted(values: list[str]) -> None:
    ctx = parse_traceparent(values)
    if ctx is not None:
        assert 0 < ctx.trace_id < 1 << 128 and 0 < ctx.span_id < 1 << 64 and 0 <= ctx.trace_flags <= 3
        stripped = values[0].strip(" \t")
        assert format_traceparent(ctx)[3:52] == stripped[3:52]


@given(st.lists(st.text(), max_size=3))
def test_parse_never_raises_on_text(values: list[str]) -> None:
    _check_accepted(values)


@given(st.lists(st.binary().map(lambda b: b.decode("latin-1")), max_size=3))
def test_parse_never_raises_on_latin1_bytes(values: list[str]) -> None:
    _check_accepted(values)


@given(
    st.integers(0, 60),
    st.text(alphabet="0123456789abcdefABCDEF-_+ \tx", min_size=0, max_size=3),
    st.sampled_from(["00", "01", "cc", "ff", "0g"]),
    st.text(max_size=8),
)
def test_parse_never_raises_on_near_valid_values(position: int, insert: str, version: str, tail: str) -> None:
    base = f"{version}-{TRACE}-{SPAN}-01"
    value = base[:position] + insert + base[position + len(insert) :] + tail
    _check_accepted([value])
