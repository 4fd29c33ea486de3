from __future__ import annotations

import logging

import pytest

from c13_middleware import (
    InMemoryExporter,
    Link,
    Resource,
    Span,
    SpanContext,
    SpanKind,
    SpanLimits,
    SpanStatus,
    StatusCode,
    Tracer,
)


def test_span_records_name_kind_times_and_ids(tracer: Tracer, exporter: InMemoryExporter) -> None:
    span = tracer.start_span("work", kind=SpanKind.CLIENT)
    assert span.is_recording()
    span.end()
    (done,) = exporter.get_finished_spans()
    assert done is span
    assert done.name == "work" and done.kind is SpanKind.CLIENT
    assert isinstance(done.context.trace_id, int) and 0 < done.context.trace_id < 2**128
    assert isinstance(done.context.span_id, int) and 0 < done.context.span_id < 2**64
    assert done.end_time is not None and done.end_time >= done.start_time
    assert done.duration_ns == done.end_time - done.start_time
    assert done.parent is None
    assert done.resource.attributes["service.name"] == "test-service"


def test_attributes_accept_only_valid_types(tracer: Tracer, caplog: pytest.LogCaptureFixture) -> None:
    span = tracer.start_span("s", attributes={"a": 1, "bad": object()})
    span.set_attribute("s", "x")
    span.set_attribute("f", 1.5)
    span.set_attribute("b", True)
    span.set_attribute("seq", ["a", "b"])
    with caplog.at_level(logging.WARNING, logger="c13_middleware"):
        span.set_attribute("mixed", ["a", 1])
        span.set_attribute("none", None)  # type: ignore[arg-type]
        span.set_attribute("dict", {"k": 1})  # type: ignore[arg-type]
    span.end()
    assert span.attributes == {"a": 1, "s": "x", "f": 1.5, "b": True, "seq": ("a", "b")}


def test_attribute_subclasses_are_stored_as_base_values(tracer: Tracer) -> None:
    span = tracer.start_span("s")
    span.set_attribute("kind", SpanKind.SERVER)  # an IntEnum
    assert span.attributes["kind"] == 2 and type(span.attributes["kind"]) is int
    span.end()


def test_attribute_limits_count_and_length() -> None:
    exporter = InMemoryExporter()
    tracer = Tracer(
        exporter=exporter, export_mode="simple", span_limits=SpanLimits(max_attributes=2, max_attribute_length=3)
    )
    span = tracer.start_span("s", attributes={"a": "abcdef", "b": ["xyzw", "q"], "c": 1})
    span.set_attribute("d", 2)
    span.set_attribute("a", "ok")  # replacing an existing key is not a new attribute
    span.end()
    assert span.attributes == {"a": "ok", "b": ("xyz", "q")}
    assert span.dropped_attributes_count == 2


def test_events_and_links_limits() -> None:
    tracer = Tracer(span_limits=SpanLimits(max_events=1, max_links=1))
    link_ctx = SpanContext(1, 2, 1)
    span = tracer.start_span("s", links=[Link(link_ctx), Link(SpanContext(3, 4))])
    span.add_event("one", {"k": "v"})
    span.add_event("two")
    assert [e.name for e in span.events] == ["one"]
    assert span.events[0].attributes == {"k": "v"}
    assert span.dropped_events_count == 1
    assert [link.context for link in span.links] == [link_ctx]
    assert span.dropped_links_count == 1
    span.end()


def test_writes_after_end_are_ignored_and_end_twice_is_noop(tracer: Tracer, exporter: InMemoryExporter) -> None:
    span = tracer.start_span("s")
    span.end()
    end = span.end_time
    span.set_attribute("late", 1)
    span.add_event("late")
    span.set_status(StatusCode.ERROR, "late")
    span.update_name("renamed")
    span.end()
    assert span.end_time == end
    assert span.attributes == {} and not span.events and span.status == SpanStatus()
    assert span.name == "s"
    assert len(exporter.get_finished_spans()) == 1


def test_record_exception_has_type_message_and_stacktrace(tracer: Tracer) -> None:
    span = tracer.start_span("s")
    try:
        raise KeyError("missing")
    except KeyError as exc:
        span.record_exception(exc)
        span.set_error(exc)
    span.end()
    (event,) = span.events
    assert event.name == "exception"
    assert event.attributes["exception.type"] == "KeyError"
    assert event.attributes["exception.message"] == "'missing'"
    assert "raise KeyError" in str(event.attributes["exception.stacktrace"])
    assert span.status.code is StatusCode.ERROR
    assert span.attributes["error.type"] == "KeyError"


def test_exception_type_is_qualified_for_non_builtins(tracer: Tracer) -> None:
    class Boom(Exception):
        pass

    span = tracer.start_span("s")
    span.record_exception(Boom("x"))
    span.end()
    assert (
        span.events[0].attributes["exception.type"]
        == f"{__name__}.test_exception_type_is_qualified_for_non_builtins.<locals>.Boom"
    )


def test_status_rules(tracer: Tracer) -> None:
    span = tracer.start_span("s")
    span.set_status(StatusCode.ERROR, "bad")
    assert span.status == SpanStatus(StatusCode.ERROR, "bad")
    span.set_status(StatusCode.UNSET)
    assert span.status.code is StatusCode.ERROR  # UNSET never overwrites
    span.set_status(SpanStatus(StatusCode.OK, "ignored description"))
    assert span.status == SpanStatus(StatusCode.OK, "")
    span.set_status(StatusCode.ERROR, "after ok")
    assert span.status.code is StatusCode.OK  # OK is final
    span.end()


def test_span_kind_numbers_match_otlp() -> None:
    assert [k.value for k in SpanKind] == [1, 2, 3, 4, 5]
    assert [c.value for c in StatusCode] == [0, 1, 2]


def test_invalid_keys_are_dropped(tracer: Tracer) -> None:
    span = tracer.start_span("s", attributes={"": "empty key", 3: "int key", "ok": "v"})  # type: ignore[dict-item]
    span.end()
    assert span.attributes == {"ok": "v"}


class _Owner:
    """A minimal span owner: what a span needs from whoever started it, and no tracer."""

    scope = "hand-made"

    def __init__(self) -> None:
        self.resource = Resource({"service.name": "owner"})
        self.limits = SpanLimits(max_attributes=1)
        self.ended: list[Span] = []

    def on_end(self, span: Span) -> None:
        self.ended.append(span)


def test_a_span_needs_only_its_owner_protocol() -> None:
    owner = _Owner()
    context = SpanContext(trace_id=1, span_id=2, trace_flags=1)
    span = Span("manual", context, SpanKind.INTERNAL, None, owner, {})
    span.set_attribute("a", 1)
    span.set_attribute("b", 2)
    span.end()
    assert owner.ended == [span]
    assert span.attributes == {"a": 1} and span.dropped_attributes_count == 1
    assert span.scope == "hand-made" and span.resource.attributes["service.name"] == "owner"
    assert span.tracer is owner
