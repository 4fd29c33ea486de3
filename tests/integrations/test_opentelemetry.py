"""c13 as OpenTelemetry's tracer provider: the API surface, one current span for both worlds, propagation, the
default and its limits, and the FastAPI + SQLAlchemy scenario with only ``opentelemetry-api`` importable.

OpenTelemetry's globals (provider, runtime context, propagator) are process-wide: tests here install the bridge
through the ``bridge`` fixture, which puts them back afterwards; what concerns a fresh process runs in one, with
``opentelemetry.sdk`` made unimportable (the dev extra installs the SDK for the benchmarks).
"""

from __future__ import annotations

import asyncio
import contextvars
import json
import logging
import subprocess
import sys
import textwrap
import threading
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from opentelemetry import baggage as otel_baggage, context as otel_context, propagate, trace as otel_trace
from opentelemetry.context.contextvars_context import ContextVarsRuntimeContext
from opentelemetry.instrumentation.utils import is_instrumentation_enabled, suppress_instrumentation as otel_suppress
from opentelemetry.trace import (
    Link as OtelLink,
    NonRecordingSpan,
    SpanContext as OtelSpanContext,
    Status,
    StatusCode as OtelStatusCode,
    TraceFlags,
)
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from starlette.concurrency import iterate_in_threadpool
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from c13_middleware import (
    AlwaysOffSampler,
    Baggage,
    InMemoryExporter,
    Span,
    SpanKind,
    SpanLimits,
    StatusCode,
    Tracer,
    configure,
    current_span,
    suppress_instrumentation,
    use_baggage,
)
from c13_middleware.integrations import opentelemetry as bridge_module
from c13_middleware.trace._context import is_suppressed
from tests.conftest import traced_starlette
from tests.integrations.otel_bridge import is_child

ROOT = Path(__file__).resolve().parents[2]
DETACH_FAILED = "Failed to detach context"


def by_name(exporter: InMemoryExporter) -> dict[str, Span]:
    return {span.name: span for span in exporter.get_finished_spans()}


# --- the API surface ------------------------------------------------------------------------------------------------


def test_get_tracer_scope_reaches_otlp(bridge: Tracer, exporter: InMemoryExporter) -> None:
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

    from c13_middleware.export.otlp.encode_json import JsonEncoder
    from c13_middleware.export.otlp.encode_proto import ProtobufEncoder

    tracer = otel_trace.get_tracer("lib.db", "2.1", schema_url="https://opentelemetry.io/schemas/1.30.0",
                                   attributes={"lib.flavour": "sql"})  # fmt: skip
    assert otel_trace.get_tracer("lib.db", "2.1", schema_url="https://opentelemetry.io/schemas/1.30.0",
                                 attributes={"lib.flavour": "sql"}) is tracer  # fmt: skip
    tracer.start_span("query").end()
    bridge.start_span("native").end()
    assert otel_trace.get_tracer_provider().force_flush()  # type: ignore[attr-defined]
    request = ExportTraceServiceRequest.FromString(ProtobufEncoder().encode(exporter.get_finished_spans()))
    scopes = {ss.scope.name: ss for rs in request.resource_spans for ss in rs.scope_spans}
    lib = scopes["lib.db"]
    assert lib.scope.version == "2.1" and lib.schema_url == "https://opentelemetry.io/schemas/1.30.0"
    assert [(a.key, a.value.string_value) for a in lib.scope.attributes] == [("lib.flavour", "sql")]
    assert [s.name for s in lib.spans] == ["query"] and [s.name for s in scopes["c13_middleware"].spans] == ["native"]
    document = json.loads(JsonEncoder().encode(exporter.get_finished_spans()))
    (json_lib,) = [ss for rs in document["resourceSpans"] for ss in rs["scopeSpans"] if ss["scope"]["name"] == "lib.db"]
    assert json_lib["scope"]["version"] == "2.1" and json_lib["schemaUrl"].endswith("1.30.0")
    assert json_lib["scope"]["attributes"] == [{"key": "lib.flavour", "value": {"stringValue": "sql"}}]


def test_start_span_options(bridge: Tracer, exporter: InMemoryExporter) -> None:
    tracer = otel_trace.get_tracer("lib")
    linked = OtelSpanContext(0xABC, 0xDEF, is_remote=True, trace_flags=TraceFlags(1))
    span = tracer.start_span(
        "call",
        kind=otel_trace.SpanKind.CLIENT,
        attributes={"peer": "db", "n": 3},
        links=[OtelLink(linked, {"why": "batch"}), OtelLink(otel_trace.INVALID_SPAN_CONTEXT), "not a link"],  # type: ignore[list-item]
        start_time=1_000_000_000,
    )
    assert isinstance(span, otel_trace.Span) and isinstance(span, Span) and span.is_recording()
    assert current_span() is None  # start_span does not make it current
    span.end(end_time=3_000_000_000)
    (done,) = exporter.get_finished_spans()
    assert done.kind is SpanKind.CLIENT and done.attributes == {"peer": "db", "n": 3}
    assert done.start_time == 1_000_000_000 and done.end_time == 3_000_000_000
    ((link_ctx, link_attrs, _),) = done.links  # an invalid context with no attributes is dropped (the API allows)
    assert (link_ctx.trace_id, link_ctx.span_id, link_ctx.is_remote) == (0xABC, 0xDEF, True)
    assert dict(link_attrs) == {"why": "batch"}


def test_a_past_start_time_gives_the_real_duration(bridge: Tracer) -> None:
    import time

    span = otel_trace.get_tracer("lib").start_span("late", start_time=time.time_ns() - 50_000_000)
    span.end()
    assert span.duration_ns is not None and span.duration_ns >= 50_000_000


def test_span_methods(bridge: Tracer, exporter: InMemoryExporter) -> None:
    with otel_trace.get_tracer("lib").start_as_current_span("work") as span:
        ctx = span.get_span_context()
        assert ctx.is_valid and ctx.trace_flags.sampled and not ctx.is_remote
        assert (ctx.trace_id, ctx.span_id) == (span.context.trace_id, span.context.span_id)
        span.set_attribute("a", 1)
        span.set_attributes({"b": "two", "c": [1.5, 2.5]})
        span.add_event("started", {"step": 1}, timestamp=123)
        span.add_link(OtelSpanContext(7, 8, is_remote=False), {"k": "v"})
        span.update_name("renamed")
        span.record_exception(ValueError("bad"), {"extra": True}, timestamp=456)
        span.set_status(Status(OtelStatusCode.ERROR, "it failed"))
        span.set_status(OtelStatusCode.OK)  # OK after ERROR: final, description dropped
        assert span.is_recording()
    assert not span.is_recording()
    done = by_name(exporter)["renamed"]
    assert done.attributes == {"a": 1, "b": "two", "c": (1.5, 2.5)}
    started, exception = done.events
    assert (started.name, started.timestamp, dict(started.attributes)) == ("started", 123, {"step": 1})
    assert exception.name == "exception" and exception.timestamp == 456
    assert exception.attributes["exception.type"] == "ValueError" and exception.attributes["extra"] is True
    assert [(link.context.span_id, dict(link.attributes)) for link in done.links] == [(8, {"k": "v"})]
    assert done.status.code is StatusCode.OK and done.status.description == ""


@pytest.mark.parametrize(("record", "set_status"), [(True, True), (False, False)])
def test_exceptions_leaving_the_block(
    bridge: Tracer, exporter: InMemoryExporter, record: bool, set_status: bool
) -> None:
    tracer = otel_trace.get_tracer("lib")
    with pytest.raises(KeyError):
        with tracer.start_as_current_span("cm", record_exception=record, set_status_on_exception=set_status):
            raise KeyError("k")
    with pytest.raises(KeyError):
        with tracer.start_span("plain", record_exception=record, set_status_on_exception=set_status):
            raise KeyError("k")
    for span in exporter.get_finished_spans():
        assert [e.name for e in span.events] == (["exception"] if record else [])
        assert span.status.code is (StatusCode.ERROR if set_status else StatusCode.UNSET)
        assert span.status.description == ("KeyError: 'k'" if set_status else "")


def test_end_on_exit_false_and_the_decorator(bridge: Tracer, exporter: InMemoryExporter) -> None:
    tracer = otel_trace.get_tracer("lib")
    with tracer.start_as_current_span("kept open", end_on_exit=False) as span:
        pass
    assert span.is_recording() and exporter.get_finished_spans() == []
    span.end()

    @tracer.start_as_current_span("sync fn")
    def sync_fn() -> Span | None:
        return current_span()

    @tracer.start_as_current_span("async fn")
    async def async_fn() -> Span | None:
        return current_span()

    first, second = sync_fn(), sync_fn()
    inner = asyncio.run(async_fn())
    assert first is not second and first is not None and first.name == "sync fn"
    assert inner is not None and inner.name == "async fn" and inner.ended


def test_c13_samplers_decide(exporter: InMemoryExporter, bridge: Tracer) -> None:
    configure(exporter=exporter, export_mode="simple", sampler=AlwaysOffSampler(), opentelemetry=False)
    with otel_trace.get_tracer("lib").start_as_current_span("dropped") as span:
        assert not span.is_recording()
        ctx = span.get_span_context()
        assert ctx.is_valid and not ctx.trace_flags.sampled
        assert otel_trace.get_current_span() is span
    assert exporter.get_finished_spans() == []


def test_opentelemetry_code_writes_to_the_c13_span_it_finds_current(bridge: Tracer, exporter: InMemoryExporter) -> None:
    with bridge.start_as_current_span("c13 work"):
        view = otel_trace.get_current_span()  # what an OpenTelemetry-instrumented library sees
        assert repr(view).startswith("<SpanView of") and view.is_recording()
        view.set_attribute("db.system", "postgresql")
        view.set_attributes({"db.operation": "SELECT"})
        view.add_event("retry", {"attempt": 2}, timestamp=123)
        view.add_link(OtelSpanContext(7, 8, is_remote=True), {"k": "v"})
        view.add_link(otel_trace.INVALID_SPAN_CONTEXT, {"why": "unknown parent"})  # kept: it carries something
        view.add_link(otel_trace.INVALID_SPAN_CONTEXT)  # dropped: it carries nothing
        view.update_name("SELECT orders")
        view.record_exception(TimeoutError("slow"), {"retry": True}, timestamp=456)
        view.set_status(OtelStatusCode.ERROR, "timed out")
    done = by_name(exporter)["SELECT orders"]
    assert done.attributes == {"db.system": "postgresql", "db.operation": "SELECT"}
    retry, exception = done.events
    assert (retry.name, retry.timestamp, dict(retry.attributes)) == ("retry", 123, {"attempt": 2})
    assert exception.timestamp == 456 and exception.attributes["exception.type"] == "TimeoutError"
    assert [(link.context.span_id, dict(link.attributes)) for link in done.links] == [
        (8, {"k": "v"}),
        (0, {"why": "unknown parent"}),
    ]
    assert done.status.code is StatusCode.ERROR and done.status.description == "timed out"


def test_opentelemetry_code_may_end_the_c13_span(bridge: Tracer, exporter: InMemoryExporter) -> None:
    with bridge.start_as_current_span("ended early") as span:
        otel_trace.get_current_span().end(end_time=span.start_time + 5_000)
        assert not otel_trace.get_current_span().is_recording()
    (done,) = exporter.get_finished_spans()  # once: leaving the block does not end it again
    assert done.end_time == done.start_time + 5_000


def test_links_beyond_the_limit_are_counted_not_kept(exporter: InMemoryExporter, bridge: Tracer) -> None:
    configure(exporter=exporter, export_mode="simple", span_limits=SpanLimits(max_links=1), opentelemetry=False)
    span = otel_trace.get_tracer("lib").start_span("fan-in")
    span.add_link(OtelSpanContext(1, 2, is_remote=True))
    span.add_link(OtelSpanContext(3, 4, is_remote=True))
    span.end()
    span.add_link(OtelSpanContext(5, 6, is_remote=True))  # after the end: ignored
    (done,) = exporter.get_finished_spans()
    assert [link.context.span_id for link in done.links] == [2] and done.dropped_links_count == 1


class _NotASpan:
    def get_span_context(self) -> object:
        raise RuntimeError("not a span after all")


def test_a_foreign_span_stays_itself_and_a_non_span_is_absent(bridge: Tracer, exporter: InMemoryExporter) -> None:
    foreign = NonRecordingSpan(OtelSpanContext(0xAB, 0xCD, is_remote=False, trace_flags=TraceFlags(1)))
    with otel_trace.use_span(foreign):
        assert otel_trace.get_current_span() is foreign  # OpenTelemetry code gets its own object back
    invalid = NonRecordingSpan(otel_trace.INVALID_SPAN_CONTEXT)
    for absent in (_NotASpan(), invalid):
        with otel_trace.use_span(absent):  # type: ignore[arg-type]
            assert current_span() is None
            with bridge.start_as_current_span("under " + type(absent).__name__):
                pass
        otel_trace.get_tracer("lib").start_span("child of " + type(absent).__name__,
                                                context=otel_trace.set_span_in_context(absent)).end()  # type: ignore[arg-type]  # fmt: skip
    spans = by_name(exporter)
    assert len(spans) == 4 and all(span.parent is None for span in spans.values())  # roots: nothing to continue


class _OtherRuntimeContext(ContextVarsRuntimeContext):
    """What OTEL_PYTHON_CONTEXT picks when it names another implementation."""


@pytest.mark.usefixtures("otel_globals")
def test_another_runtime_context_is_left_in_place(caplog: pytest.LogCaptureFixture) -> None:
    other = _OtherRuntimeContext()
    otel_context._RUNTIME_CONTEXT = other
    with caplog.at_level(logging.INFO, logger="c13_middleware"):
        assert bridge_module.install() is False
    assert otel_context._RUNTIME_CONTEXT is other and not bridge_module.installed()
    assert "OTEL_PYTHON_CONTEXT chose another OpenTelemetry runtime context (_OtherRuntimeContext)" in caplog.text


@pytest.mark.usefixtures("otel_globals")
def test_a_configured_propagator_is_left_in_place(caplog: pytest.LogCaptureFixture) -> None:
    chosen = TraceContextTextMapPropagator()  # OTEL_PROPAGATORS=tracecontext: not the API's default pair
    propagate.set_global_textmap(chosen)
    with caplog.at_level(logging.INFO, logger="c13_middleware"):
        assert bridge_module.install() is True  # the provider is installed all the same
    assert propagate.get_global_textmap() is chosen
    assert "global propagator was configured (TraceContextTextMapPropagator): c13 left it in place" in caplog.text


# --- one current span -----------------------------------------------------------------------------------------------


def test_parenting_both_ways(bridge: Tracer, exporter: InMemoryExporter) -> None:
    tracer = otel_trace.get_tracer("lib")
    with bridge.start_as_current_span("c13 outer") as outer:
        seen = otel_trace.get_current_span()
        assert seen.get_span_context().span_id == outer.context.span_id
        assert otel_trace.get_current_span() is seen  # the same object while the span stays current
        with tracer.start_as_current_span("otel middle") as middle:
            assert current_span() is middle and otel_trace.get_current_span() is middle
            with bridge.start_as_current_span("c13 inner"):
                pass
        assert otel_trace.get_current_span().get_span_context().span_id == outer.context.span_id
    assert otel_trace.get_current_span() is otel_trace.INVALID_SPAN
    spans = by_name(exporter)
    assert is_child(spans["otel middle"], spans["c13 outer"]) and is_child(spans["c13 inner"], spans["otel middle"])


def test_use_span_set_span_in_context_and_explicit_contexts(bridge: Tracer, exporter: InMemoryExporter) -> None:
    tracer = otel_trace.get_tracer("lib")
    parent = tracer.start_span("parent")
    with otel_trace.use_span(parent, end_on_exit=True):
        assert current_span() is parent
        with bridge.start_as_current_span("c13 child"):
            pass
    assert current_span() is None and parent.ended
    explicit = tracer.start_span("explicit", context=otel_trace.set_span_in_context(parent))
    explicit.end()
    root = tracer.start_span("root", context=otel_context.Context())
    root.end()
    spans = by_name(exporter)
    assert is_child(spans["c13 child"], spans["parent"]) and is_child(spans["explicit"], spans["parent"])
    assert spans["root"].parent is None and spans["root"].context.trace_id != parent.context.trace_id


def test_attach_a_remote_context(bridge: Tracer, exporter: InMemoryExporter) -> None:
    remote = NonRecordingSpan(OtelSpanContext(0x1234, 0x5678, is_remote=True, trace_flags=TraceFlags(1)))
    token = otel_context.attach(otel_trace.set_span_in_context(remote))
    try:
        assert otel_trace.get_current_span() is remote
        current = current_span()
        assert current is not None and current.context.span_id == 0x5678 and not current.is_recording()
        with bridge.start_as_current_span("continues"):
            pass
    finally:
        otel_context.detach(token)
    assert current_span() is None
    (span,) = exporter.get_finished_spans()
    assert span.context.trace_id == 0x1234 and span.parent is not None
    assert span.parent.span_id == 0x5678 and span.parent.is_remote


def test_other_context_keys_survive(bridge: Tracer) -> None:
    key = otel_context.create_key("mine")
    token = otel_context.attach(otel_context.set_value(key, "value"))
    try:
        with bridge.start_as_current_span("c13"):
            assert otel_context.get_value(key) == "value"
            assert otel_trace.get_current_span().get_span_context().span_id == current_span().context.span_id  # type: ignore[union-attr]
        assert otel_context.get_value(key) == "value"
    finally:
        otel_context.detach(token)
    assert otel_context.get_value(key) is None


def test_suppression_agrees_both_ways(bridge: Tracer, exporter: InMemoryExporter) -> None:
    with otel_suppress():
        assert is_suppressed()
        with bridge.start_as_current_span("c13 suppressed") as span:
            assert not span.is_recording()
    assert not is_suppressed()
    with suppress_instrumentation():
        assert not is_instrumentation_enabled()
        assert otel_context.get_value(otel_context._SUPPRESS_INSTRUMENTATION_KEY) is True
        with otel_trace.get_tracer("lib").start_as_current_span("otel suppressed") as otel_span:
            assert not otel_span.is_recording()
    assert is_instrumentation_enabled()
    assert exporter.get_finished_spans() == []


def test_attaching_something_that_is_not_a_context_is_attaching_an_empty_one(bridge: Tracer) -> None:
    with bridge.start_as_current_span("outer"):
        token = otel_context.attach(None)  # type: ignore[arg-type]
        assert current_span() is None and otel_trace.get_current_span() is otel_trace.INVALID_SPAN
        otel_context.detach(token)
        assert current_span() is not None


def test_odd_tokens(bridge: Tracer, caplog: pytest.LogCaptureFixture) -> None:
    from opentelemetry.context.contextvars_context import ContextVarsRuntimeContext

    replaced = ContextVarsRuntimeContext()  # a token attached before install() came from the API's own store
    old_token = replaced.attach(otel_context.Context({"k": 1}))
    otel_context.detach(old_token)
    assert replaced.get_current() == {}
    token = otel_context.attach(otel_trace.set_span_in_context(otel_trace.get_tracer("lib").start_span("s")))
    otel_context.detach(token)
    with caplog.at_level(logging.DEBUG):
        otel_context.detach(token)
        otel_context.detach(token)
    assert caplog.text.count("detached twice") == 1 and DETACH_FAILED not in caplog.text
    assert current_span() is None


# --- across tasks, generators and threads ---------------------------------------------------------------------------


def test_asyncio_tasks_keep_their_own_spans(bridge: Tracer, exporter: InMemoryExporter) -> None:
    tracer = otel_trace.get_tracer("lib")

    async def job(name: str) -> None:
        with tracer.start_as_current_span(name):
            await asyncio.sleep(0.01)
            token = otel_context.attach(otel_trace.set_span_in_context(tracer.start_span(f"{name} attached")))
            await asyncio.sleep(0.01)
            with bridge.start_as_current_span(f"{name} leaf"):
                await asyncio.sleep(0)
            otel_trace.get_current_span().end()
            otel_context.detach(token)

    async def main() -> None:
        with bridge.start_as_current_span("request"):
            await asyncio.gather(job("a"), job("b"))

    asyncio.run(main())
    spans = by_name(exporter)
    for name in "ab":
        assert is_child(spans[name], spans["request"])
        assert is_child(spans[f"{name} attached"], spans[name])
        assert is_child(spans[f"{name} leaf"], spans[f"{name} attached"])


def test_generators_closed_in_another_task_log_nothing(
    bridge: Tracer, exporter: InMemoryExporter, caplog: pytest.LogCaptureFixture
) -> None:
    tracer = otel_trace.get_tracer("lib")

    async def cm_chunks() -> AsyncIterator[int]:
        with tracer.start_as_current_span("cm stream"):
            for i in range(10):
                yield i

    async def use_span_chunks() -> AsyncIterator[int]:
        with otel_trace.use_span(tracer.start_span("use_span stream"), end_on_exit=True):
            for i in range(10):
                yield i

    async def main() -> None:
        for make in (cm_chunks, use_span_chunks):
            gen = make()

            async def start(gen: AsyncIterator[int] = gen) -> None:
                assert await gen.__anext__() == 0

            await asyncio.create_task(start())
            await asyncio.create_task(gen.aclose())  # type: ignore[attr-defined]
            assert current_span() is None

    with caplog.at_level(logging.DEBUG):
        asyncio.run(main())
    assert DETACH_FAILED not in caplog.text
    assert {s.name for s in exporter.get_finished_spans()} == {"cm stream", "use_span stream"}


def test_thread_pools(bridge: Tracer, exporter: InMemoryExporter, caplog: pytest.LogCaptureFixture) -> None:
    tracer = otel_trace.get_tracer("lib")

    def work(name: str) -> None:
        with tracer.start_as_current_span(name):
            with bridge.start_as_current_span(f"{name} leaf"):
                pass

    def chunks() -> Iterator[str]:
        with tracer.start_as_current_span("sync stream"):
            yield from ("a", "b", "c")

    async def main() -> None:
        with bridge.start_as_current_span("request"):
            await asyncio.to_thread(work, "to_thread")
            with ThreadPoolExecutor(2) as pool:
                ctx = contextvars.copy_context()
                pool.submit(ctx.run, work, "copied").result()
            # Starlette iterates a sync body in worker threads, each step in a fresh copy of the context.
            assert [chunk async for chunk in iterate_in_threadpool(chunks())] == ["a", "b", "c"]

    with caplog.at_level(logging.DEBUG):
        asyncio.run(main())
        thread = threading.Thread(target=work, args=("plain thread",))
        thread.start()
        thread.join()
    assert DETACH_FAILED not in caplog.text
    spans = by_name(exporter)
    for name in ("to_thread", "copied", "sync stream"):
        assert is_child(spans[name], spans["request"]), name
    assert is_child(spans["to_thread leaf"], spans["to_thread"]) and is_child(spans["copied leaf"], spans["copied"])
    assert spans["plain thread"].parent is None  # a plain Thread does not copy the context, by Python's design


def test_streaming_starlette_response(
    bridge: Tracer, options: dict[str, Any], exporter: InMemoryExporter, caplog: pytest.LogCaptureFixture
) -> None:
    tracer = otel_trace.get_tracer("lib")

    async def async_stream(request: Request) -> Response:
        async def body() -> AsyncIterator[str]:
            with tracer.start_as_current_span("async chunks"):
                for i in range(3):
                    with tracer.start_as_current_span(f"chunk {i}"):
                        yield f"{i}\n"
                        await asyncio.sleep(0)

        return StreamingResponse(body())

    def sync_stream(request: Request) -> Response:
        def body() -> Iterator[str]:
            with tracer.start_as_current_span("sync chunks"):
                yield from ("x\n", "y\n")

        return StreamingResponse(body())

    app = traced_starlette([Route("/async", async_stream), Route("/sync", sync_stream)], **options)
    with caplog.at_level(logging.DEBUG), TestClient(app) as client:
        assert client.get("/async").text == "0\n1\n2\n"
        assert client.get("/sync").text == "x\ny\n"
        with client.stream("GET", "/async") as response:  # the client leaves after the first chunk
            next(response.iter_text())
    assert DETACH_FAILED not in caplog.text
    servers = [s for s in exporter.get_finished_spans() if s.kind is SpanKind.SERVER]
    assert len(servers) == 3
    for span in exporter.get_finished_spans():
        if span.name in ("async chunks", "sync chunks"):
            assert any(is_child(span, server) for server in servers), span


# --- propagation ----------------------------------------------------------------------------------------------------


def test_propagate_inject_and_extract_use_c13s_context(bridge: Tracer) -> None:
    assert isinstance(propagate.get_global_textmap(), bridge_module.C13TextMapPropagator)
    headers: dict[str, str] = {}
    with bridge.start_as_current_span("outgoing") as span, use_baggage(Baggage().set("tenant", "acme")):
        token = otel_context.attach(otel_baggage.set_baggage("plan", "gold"))
        propagate.inject(headers)
        otel_context.detach(token)
    assert headers["traceparent"] == f"00-{span.context.trace_id_hex}-{span.context.span_id_hex}-03"
    assert headers["baggage"] == "tenant=acme,plan=gold"
    extracted = otel_trace.get_current_span(propagate.extract(headers)).get_span_context()
    assert (extracted.trace_id, extracted.span_id) == (span.context.trace_id, span.context.span_id)
    assert extracted.is_remote


def test_a_framework_reading_the_request_headers_again_gets_c13s_server_span(
    bridge: Tracer, options: dict[str, Any], exporter: InMemoryExporter
) -> None:
    seen: list[int] = []

    async def handler(request: Request) -> Response:
        ctx = propagate.extract(dict(request.headers))  # what an OpenTelemetry server instrumentation does
        seen.append(otel_trace.get_current_span(ctx).get_span_context().span_id)
        return Response("ok")

    client = TestClient(traced_starlette([Route("/", handler)], **options))
    client.get("/", headers={"traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"})
    client.get("/")
    first, second = exporter.get_finished_spans()
    assert seen == [first.context.span_id, second.context.span_id]


# --- fresh processes: the default, an SDK provider set first, only the API importable ------------------------------

BLOCK_SDK = """
import importlib.abc, sys
class _NoSDK(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == "opentelemetry.sdk" or name.startswith("opentelemetry.sdk."):
            raise ModuleNotFoundError(f"No module named {name!r} (blocked: only opentelemetry-api)", name=name)
        return None
sys.meta_path.insert(0, _NoSDK())
"""


def run_python(code: str, *, block_sdk: bool = True) -> dict[str, Any]:
    script = (BLOCK_SDK if block_sdk else "") + textwrap.dedent(code)
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, cwd=ROOT, check=False
    )
    assert result.returncode == 0, result.stderr
    last = result.stdout.strip().splitlines()[-1]
    found: dict[str, Any] = json.loads(last)
    found["stderr"] = result.stderr
    return found


def test_importing_c13_does_not_import_opentelemetry() -> None:
    found = run_python("""
        import json, sys
        import c13_middleware
        from c13_middleware import C13ASGIMiddleware
        print(json.dumps({"loaded": sorted(m for m in sys.modules if m.startswith("opentelemetry"))}))
    """)
    assert found["loaded"] == []


def test_without_the_api_the_default_does_nothing_and_asking_for_it_fails() -> None:
    found = run_python(
        """
        import json, sys
        sys.modules["opentelemetry.trace"] = None  # as if opentelemetry-api were not installed
        import c13_middleware
        c13_middleware.configure()
        try:
            c13_middleware.configure(opentelemetry=True)
            error = ""
        except ImportError as exc:
            error = str(exc)
        print(json.dumps({"error": error}))
        """,
        block_sdk=False,
    )
    assert "pip install 'c13-middleware[otel]'" in found["error"]


def test_configure_installs_by_default_without_the_sdk() -> None:
    found = run_python("""
        import json, sys
        from opentelemetry import trace
        import c13_middleware
        from c13_middleware.integrations import opentelemetry as bridge
        early = trace.get_tracer("early")  # a library's tracer, taken at import time, before any provider
        c13_middleware.configure(opentelemetry=False)
        off = trace.get_tracer_provider() is bridge.PROVIDER
        exporter = c13_middleware.InMemoryExporter()
        tracer = c13_middleware.configure(exporter=exporter, export_mode="simple")
        with tracer.start_as_current_span("c13"):
            trace.get_tracer("lib").start_span("otel").end()
            early.start_span("early").end()
        otel, early_span, c13 = exporter.get_finished_spans()
        print(json.dumps({
            "off": off, "installed": bridge.installed(),
            "child": otel.parent.span_id == early_span.parent.span_id == c13.context.span_id,
            "sdk": [m for m in sys.modules if m.startswith("opentelemetry.sdk")],
        }))
    """)
    assert found == {**found, "off": False, "installed": True, "child": True, "sdk": []}


def test_an_sdk_provider_set_first_is_kept_and_logged_once() -> None:
    found = run_python(
        """
        import json, logging
        from opentelemetry import trace
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import SimpleSpanProcessor
        from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
        logging.basicConfig(level=logging.INFO)
        sdk_spans = InMemorySpanExporter()
        sdk = TracerProvider()
        sdk.add_span_processor(SimpleSpanProcessor(sdk_spans))
        trace.set_tracer_provider(sdk)
        import c13_middleware
        from c13_middleware.integrations import opentelemetry as bridge
        exporter = c13_middleware.InMemoryExporter()
        tracer = c13_middleware.configure(exporter=exporter, export_mode="simple")
        c13_middleware.configure(exporter=exporter, export_mode="simple")
        explicit = bridge.install()
        with tracer.start_as_current_span("c13") as span:
            trace.get_tracer("lib").start_span("sdk span").end()
        (sdk_span,) = sdk_spans.get_finished_spans()
        print(json.dumps({
            "kept": trace.get_tracer_provider() is sdk, "explicit": explicit,
            "same_trace": sdk_span.context.trace_id == span.context.trace_id,
            "child": sdk_span.parent.span_id == span.context.span_id,
            "c13_spans": [s.name for s in exporter.get_finished_spans()],
        }))
        """,
        block_sdk=False,
    )
    assert found["kept"] and found["explicit"] is False
    assert found["same_trace"] and found["child"] and found["c13_spans"] == ["c13"]
    assert found["stderr"].count("already set (TracerProvider): c13 did not replace it") == 1, found["stderr"]


def test_done_when_fastapi_and_sqlalchemy_spans_join_c13s_trace() -> None:
    """The issue's scenario: FastAPI + opentelemetry-instrumentation-sqlalchemy on SQLite, no SDK, FastAPI's own
    telemetry at its default. With c13 added by ``add_middleware`` (FastAPI's SERVER span wraps c13's middleware:
    c13's SERVER span joins it) and with c13 wrapping the app (FastAPI's spans inside c13's SERVER span)."""
    found = run_python("""
        import json, sys
        from fastapi import FastAPI
        from fastapi.testclient import TestClient
        from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor
        from sqlalchemy import create_engine, text
        import c13_middleware
        from c13_middleware.integrations.starlette import C13Middleware

        exporter = c13_middleware.InMemoryExporter()
        c13_middleware.configure(service_name="shop", exporter=exporter, export_mode="simple")
        engine = create_engine("sqlite://")
        SQLAlchemyInstrumentor().instrument(engine=engine)

        def request(c13_outside: bool) -> list:
            app = FastAPI()

            @app.get("/items/{item_id}")
            def item(item_id: int) -> dict:
                with engine.connect() as connection:
                    return {"n": connection.execute(text("SELECT :n + 1"), {"n": item_id}).scalar()}

            if c13_outside:
                app = C13Middleware(app)
            else:
                app.add_middleware(C13Middleware)
            exporter.clear()
            assert TestClient(app).get("/items/41").json() == {"n": 42}
            return [{
                "name": s.name, "kind": s.kind.name, "scope": s.scope.name, "trace": s.context.trace_id,
                "id": s.context.span_id, "parent": s.parent.span_id if s.parent else None,
            } for s in exporter.get_finished_spans()]

        print(json.dumps({
            "add_middleware": request(False), "outside": request(True),
            "sdk": [m for m in sys.modules if m.startswith("opentelemetry.sdk")],
        }))
    """)
    assert found["sdk"] == []
    for setup in ("add_middleware", "outside"):
        spans = {span["id"]: span for span in found[setup]}
        (server,) = [s for s in spans.values() if s["kind"] == "SERVER" and s["scope"] == "c13_middleware"]
        (fastapi_server,) = [s for s in spans.values() if s["kind"] == "SERVER" and s["scope"] == "fastapi"]
        assert {s["trace"] for s in spans.values()} == {server["trace"]}, setup

        def under(span: dict[str, Any], ancestor: dict[str, Any], spans: dict[int, dict[str, Any]] = spans) -> bool:
            while span["parent"] is not None:
                span = spans[span["parent"]]
                if span is ancestor:
                    return True
            return False

        queries = [s for s in spans.values() if s["scope"] == "opentelemetry.instrumentation.sqlalchemy"]
        assert any(s["name"].startswith("SELECT") and s["kind"] == "CLIENT" for s in queries), found[setup]
        assert all(under(s, server) for s in queries), setup
        if setup == "outside":  # FastAPI 0.165's own SERVER span, inside c13's middleware
            assert server["parent"] is None and fastapi_server["parent"] == server["id"]
        else:  # FastAPI's SERVER span wraps its middleware stack: c13's joins it
            assert fastapi_server["parent"] is None and server["parent"] == fastapi_server["id"]
