"""Edge cases of the core: failure paths, fork and id corner cases, listeners, small helpers."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest

from c13_middleware import (
    Config,
    InMemoryExporter,
    Resource,
    SpanContext,
    SpanLimits,
    Tracer,
    current_span,
    get_baggage,
    use_baggage,
    use_span,
)
from c13_middleware._version import __version__
from c13_middleware.propagation._baggage import Baggage
from c13_middleware.trace import _ids
from c13_middleware.trace._context import SPAN_ACTIVATION_LISTENER, is_suppressed, suppress_instrumentation
from c13_middleware.trace._resource import SCHEMA_URL, parse_resource_attributes
from c13_middleware.trace._safety import log_once, reset_log_once
from c13_middleware.trace._span import InstrumentationScope


def test_ids_are_never_zero(monkeypatch: pytest.MonkeyPatch) -> None:
    values = iter([0, 0, 5])
    monkeypatch.setattr(_ids, "_getrandbits", lambda bits: next(values))
    assert _ids.new_trace_id() == 5
    values = iter([0, 7])
    assert _ids.new_span_id() == 7


def test_ids_reseed_after_fork_changes_the_sequence() -> None:
    state = _ids._random.getstate()
    first = _ids._random.getrandbits(64)
    _ids._random.setstate(state)
    _ids._reseed()
    assert _ids._random.getrandbits(64) != first


def test_span_limits_are_validated() -> None:
    with pytest.raises(ValueError, match="max_attributes"):
        SpanLimits(max_attributes=-1)
    with pytest.raises(ValueError, match="max_attribute_length"):
        SpanLimits(max_attribute_length=0)
    assert SpanLimits(max_attribute_length=None).max_attribute_length is None


def test_resource_value_semantics() -> None:
    a = Resource({"service.name": "x", "k": 1})
    assert a == Resource({"k": 1, "service.name": "x"}) and hash(a) == hash(Resource({"service.name": "x", "k": 1}))
    assert a != Resource({"service.name": "y"}) and a != "x"
    assert a.service_name == "x" and "service.name" in repr(a)
    with pytest.raises(TypeError):
        a.attributes["k"] = 2  # type: ignore[index]


def test_malformed_resource_attributes_are_skipped(caplog: pytest.LogCaptureFixture) -> None:
    assert parse_resource_attributes("a=1,,novalue,=x, b = c%2Cd ") == {"a": "1", "b": "c,d"}


def test_log_once_logs_each_kind_once(caplog: pytest.LogCaptureFixture) -> None:
    reset_log_once()
    with caplog.at_level(logging.WARNING, logger="c13_middleware"):
        assert log_once("k", "first %s", 1)
        assert not log_once("k", "again")
        assert log_once("other", "second")
    assert [r.getMessage() for r in caplog.records] == ["first 1", "second"]


def test_activation_listener_sees_enter_and_exit(tracer: Tracer) -> None:
    seen: list[tuple[int, bool]] = []
    token = SPAN_ACTIVATION_LISTENER.set(lambda span_id, entering: seen.append((span_id, entering)))
    try:
        with tracer.start_as_current_span("s") as span:
            pass
    finally:
        SPAN_ACTIVATION_LISTENER.reset(token)
    assert seen == [(span.context.span_id, True), (span.context.span_id, False)]


def test_use_span_without_recording_exception(tracer: Tracer) -> None:
    span = tracer.start_span("s")
    with pytest.raises(KeyError), use_span(span, record_exception=False):
        raise KeyError("x")
    assert not span.events and span.status.code.name == "UNSET"
    span.end()


def test_use_span_closed_in_another_context_does_not_raise(tracer: Tracer) -> None:
    span = tracer.start_span("s")

    async def main() -> None:
        manager = use_span(span)
        manager.__enter__()

        async def close_elsewhere() -> None:
            manager.__exit__(None, None, None)

        await asyncio.create_task(close_elsewhere())  # another task: another context

    asyncio.run(main())
    span.end()


def test_suppression_flag() -> None:
    assert not is_suppressed()
    with suppress_instrumentation():
        assert is_suppressed()
    assert not is_suppressed()


def test_use_baggage() -> None:
    bag = Baggage.EMPTY.set("user", "alice")
    with use_baggage(bag):
        assert get_baggage() == bag
    assert get_baggage() == Baggage.EMPTY


def test_span_repr_and_properties(tracer: Tracer) -> None:
    span = tracer.start_span("work")
    assert "open" in repr(span) and "'work'" in repr(span)
    assert span.scope == InstrumentationScope("c13_middleware", __version__, SCHEMA_URL)
    assert span.limits == tracer.limits and span.tracer is tracer
    assert span.duration_ns is None
    span.set_attributes({"a": 1, "b": "x"})
    span.end()
    assert "ended" in repr(span) and span.attributes == {"a": 1, "b": "x"}


def test_set_error_without_exception(tracer: Tracer) -> None:
    span = tracer.start_span("s")
    span.set_error()
    span.end()
    assert span.status.code.name == "ERROR" and span.attributes["error.type"] == "_OTHER"


def test_record_exception_with_extra_attributes(tracer: Tracer) -> None:
    span = tracer.start_span("s")
    span.record_exception(ValueError("v"), {"extra": 1})
    span.end()
    assert span.events[0].attributes["extra"] == 1


def test_long_and_sequence_attribute_values_are_cut() -> None:
    tracer = Tracer(span_limits=SpanLimits(max_attribute_length=2))
    span = tracer.start_span("s", attributes={"t": ("abc",), "e": (), "i": (1, 2)})
    span.set_attribute("long", "abcdef")
    assert span.attributes == {"t": ("ab",), "e": (), "i": (1, 2), "long": "ab"}
    span.end()


def test_tracer_with_config_and_overrides() -> None:
    exporter = InMemoryExporter()
    tracer = Tracer(Config(service_name="base"), service_name="override", exporter=exporter, export_mode="simple")
    assert tracer.resource.attributes["service.name"] == "override"
    tracer.start_span("s").end()
    assert len(exporter.get_finished_spans()) == 1
    assert tracer.force_flush()
    tracer.shutdown()
    bare = Tracer(Config())
    assert bare.force_flush() and bare.processor is None
    bare.shutdown()
    bare.start_span("nowhere").end()  # no processor: recorded, sent nowhere


def test_explicit_span_context_parent(tracer: Tracer) -> None:
    parent = SpanContext(0x1234, 0x5678, 1, is_remote=True)
    span = tracer.start_span("child", parent=parent)
    assert span.parent == parent and span.context.trace_id == 0x1234
    span.end()
    assert current_span() is None


def test_span_context_hex_views() -> None:
    ctx = SpanContext(0xABC, 0xDEF, 3)
    assert ctx.trace_id_hex == "00000000000000000000000000000abc" and ctx.span_id_hex == "0000000000000def"
    assert ctx.sampled and ctx.random and ctx.is_valid
    assert not SpanContext(0, 1).is_valid


def test_disabled_tracer_does_not_sample(monkeypatch: Any) -> None:
    tracer = Tracer(Config(disabled=True))
    span = tracer.start_span("s")
    assert not span.is_recording() and not span.context.sampled
    span.end()
