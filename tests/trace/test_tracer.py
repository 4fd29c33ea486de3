from __future__ import annotations

import asyncio
import contextvars
import threading

import pytest

from c13_middleware import (
    AlwaysOffSampler,
    InMemoryExporter,
    Sampler,
    SamplingDecision,
    SamplingResult,
    Span,
    SpanContext,
    SpanKind,
    StatusCode,
    Tracer,
    TraceState,
    configure,
    current_span,
    get_tracer,
    suppress_instrumentation,
    use_span,
)
from c13_middleware.propagation._span_context import RANDOM_FLAG, SAMPLED_FLAG
from c13_middleware.trace._tracer import tracer_of


def test_new_trace_is_random_and_sampled(tracer: Tracer) -> None:
    span = tracer.start_span("root")
    assert span.context.trace_flags == SAMPLED_FLAG | RANDOM_FLAG
    assert span.context.random and span.context.sampled
    span.end()


def test_continued_trace_keeps_incoming_random_flag_and_tracestate(tracer: Tracer) -> None:
    state = TraceState((("vendor", "v1"),))
    without_random = SpanContext(0xABC, 0xDEF, SAMPLED_FLAG, state, is_remote=True)
    span = tracer.start_span("child", parent=without_random)
    assert span.context.trace_id == 0xABC
    assert span.parent == without_random
    assert not span.context.random
    assert span.context.trace_state == state
    span.end()
    with_random = SpanContext(0xABC, 0xDEF, SAMPLED_FLAG | RANDOM_FLAG, is_remote=True)
    other = tracer.start_span("child", parent=with_random)
    assert other.context.random
    other.end()


def test_invalid_parent_starts_a_new_trace(tracer: Tracer) -> None:
    span = tracer.start_span("s", parent=SpanContext(0, 0, 1))
    assert span.parent is None and span.context.trace_id != 0
    span.end()


def test_current_span_and_children(tracer: Tracer, exporter: InMemoryExporter) -> None:
    with tracer.start_as_current_span("parent") as parent:
        assert current_span() is parent
        assert tracer.current_span() is parent
        child = tracer.start_span("child")
        child.end()
        explicit = tracer.start_child_span(parent, "explicit")
        explicit.end()
        root = tracer.start_span("new root", parent=None)
        root.end()
    assert current_span() is None
    assert child.parent == parent.context and explicit.parent == parent.context
    assert root.parent is None and root.context.trace_id != parent.context.trace_id
    assert {s.name for s in exporter.get_finished_spans()} == {"parent", "child", "explicit", "new root"}


def test_context_manager_records_and_reraises(tracer: Tracer) -> None:
    with pytest.raises(ValueError, match="nope"):
        with tracer.start_as_current_span("failing") as span:
            raise ValueError("nope")
    assert span.ended
    assert span.status.code is StatusCode.ERROR
    assert span.events[0].attributes["exception.type"] == "ValueError"


def test_current_span_follows_asyncio_tasks(tracer: Tracer) -> None:
    async def child(name: str) -> tuple[str, int | None]:
        await asyncio.sleep(0)
        span = current_span()
        return name, span.context.span_id if span else None

    async def main() -> None:
        with tracer.start_as_current_span("a") as a:
            task_a = asyncio.create_task(child("a"))
        with tracer.start_as_current_span("b") as b:
            task_b = asyncio.create_task(child("b"))
        assert await task_a == ("a", a.context.span_id)
        assert await task_b == ("b", b.context.span_id)

    asyncio.run(main())


def test_current_span_follows_threads_that_copy_context(tracer: Tracer) -> None:
    seen: list[object] = []
    with tracer.start_as_current_span("outer") as outer:
        ctx = contextvars.copy_context()
        thread = threading.Thread(target=lambda: seen.append(ctx.run(current_span)))
        thread.start()
        thread.join()
        plain = threading.Thread(target=lambda: seen.append(current_span()))
        plain.start()
        plain.join()
    assert seen == [outer, None]


def test_dropped_spans_propagate_but_do_not_record() -> None:
    exporter = InMemoryExporter()
    tracer = Tracer(exporter=exporter, export_mode="simple", sampler=AlwaysOffSampler())
    with tracer.start_as_current_span("dropped") as span:
        assert not span.is_recording()
        assert span.context.is_valid and not span.context.sampled
        span.set_attribute("k", "v")
        child = tracer.start_span("child")
        assert child.context.trace_id == span.context.trace_id
        child.end()
    assert span.attributes == {}
    assert exporter.get_finished_spans() == []


def test_record_only_spans_reach_processors_but_not_exporters() -> None:
    class RecordOnly(Sampler):
        def should_sample(self, *args: object, **kwargs: object) -> SamplingResult:
            return SamplingResult(SamplingDecision.RECORD_ONLY, {"sampler.note": "kept"})

    exporter = InMemoryExporter()
    tracer = Tracer(exporter=exporter, export_mode="simple", sampler=RecordOnly())
    span = tracer.start_span("s", attributes={"a": 1})
    assert span.is_recording() and not span.context.sampled
    assert span.attributes == {"a": 1, "sampler.note": "kept"}
    span.end()
    assert exporter.get_finished_spans() == []


def test_suppressed_block_starts_no_recording_spans(tracer: Tracer, exporter: InMemoryExporter) -> None:
    with suppress_instrumentation():
        span = tracer.start_span("hidden")
        span.end()
    assert not span.context.sampled
    assert exporter.get_finished_spans() == []


def test_disabled_sdk_records_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_SDK_DISABLED", "true")
    exporter = InMemoryExporter()
    tracer = configure(exporter=exporter, export_mode="simple")
    with tracer.start_as_current_span("s") as span:
        assert not span.is_recording()
    assert exporter.get_finished_spans() == []


def test_span_ends_through_the_pipeline_of_its_tracer() -> None:
    first, second = InMemoryExporter(), InMemoryExporter()
    old = configure(exporter=first, export_mode="simple")
    span = old.start_span("started before reconfigure")
    new = configure(exporter=second, export_mode="simple")
    assert get_tracer() is new
    span.end()
    assert [s.name for s in first.get_finished_spans()] == ["started before reconfigure"]
    assert second.get_finished_spans() == []
    assert span.tracer is old
    assert tracer_of(span) is old


def test_tracer_of_falls_back_to_the_default_without_a_tracer_behind_the_span(tracer: Tracer) -> None:
    class Owner:
        scope = "hand-made"
        resource = tracer.resource
        limits = tracer.limits

        def on_end(self, span: Span) -> None:
            pass

    hand_made = Span("manual", SpanContext(1, 2, SAMPLED_FLAG), SpanKind.INTERNAL, None, Owner(), {})
    assert tracer_of(hand_made) is get_tracer()
    assert tracer_of(None) is get_tracer()
    assert tracer_of(tracer.start_span("s")) is tracer


def test_use_span_does_not_end_by_default(tracer: Tracer) -> None:
    span = tracer.start_span("s")
    with use_span(span):
        assert current_span() is span
    assert not span.ended
    span.end()
