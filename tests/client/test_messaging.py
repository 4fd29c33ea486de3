from __future__ import annotations

import pytest

from c13_middleware import Baggage, InMemoryExporter, SpanKind, StatusCode, Tracer, configure, get_baggage, use_baggage
from c13_middleware.client._messaging import consumer_span, extract_message, inject_message, producer_span
from c13_middleware.propagation._traceparent import format_traceparent
from c13_middleware.trace._context import suppress_instrumentation


def test_inject_extract_roundtrip_with_baggage(exporter: InMemoryExporter) -> None:
    tracer = Tracer(exporter=exporter, export_mode="simple", propagate_baggage_to=["*"])
    headers: dict[str, str] = {}
    with use_baggage(Baggage.EMPTY.set("tenant", "acme")), tracer.start_as_current_span("work") as span:
        inject_message(headers)
    assert headers["traceparent"] == format_traceparent(span.context)
    received = extract_message(headers)
    assert received.span_context is not None
    assert received.span_context.trace_id == span.context.trace_id
    assert received.span_context.span_id == span.context.span_id
    assert received.span_context.is_remote
    entry = received.baggage.get("tenant")
    assert entry is not None and entry.value == "acme"


def test_inject_without_span_or_when_suppressed_writes_nothing(tracer: Tracer) -> None:
    headers: dict[str, str] = {}
    inject_message(headers)
    assert headers == {}
    with tracer.start_as_current_span("work"), suppress_instrumentation():
        inject_message(headers)
    assert headers == {}
    assert extract_message(headers).span_context is None


def test_producer_span_injects_its_own_context_and_sets_attributes(tracer: Tracer, exporter: InMemoryExporter) -> None:
    headers: dict[str, str] = {"x-app": "1"}
    with tracer.start_as_current_span("request") as parent:
        with producer_span("kafka", "orders", headers, tracer=tracer) as span:
            pass
    assert headers["traceparent"] == format_traceparent(span.context)
    assert headers["x-app"] == "1"
    producer = next(s for s in exporter.get_finished_spans() if s.kind is SpanKind.PRODUCER)
    assert producer.name == "send orders"
    assert producer.parent is not None and producer.parent.span_id == parent.context.span_id
    assert producer.attributes["messaging.system"] == "kafka"
    assert producer.attributes["messaging.destination.name"] == "orders"
    assert producer.attributes["messaging.operation.type"] == "send"
    assert producer.attributes["messaging.operation.name"] == "send"
    assert producer.attributes["messaging.operation"] == "publish"


def test_consumer_span_links_to_producer_and_is_not_its_child(exporter: InMemoryExporter) -> None:
    tracer = Tracer(exporter=exporter, export_mode="simple", propagate_baggage_to=["jobs"])
    headers: dict[str, str] = {}
    with use_baggage(Baggage.EMPTY.set("k", "v")), producer_span("rabbitmq", "jobs", headers, tracer=tracer) as sent:
        pass
    with consumer_span("rabbitmq", "jobs", headers, tracer=tracer) as span:
        entry = get_baggage().get("k")  # the message's baggage is current while it is handled
        assert entry is not None and entry.value == "v"
        with tracer.start_as_current_span("handler") as child:
            pass
    assert get_baggage() == Baggage.EMPTY
    consumer = next(s for s in exporter.get_finished_spans() if s.kind is SpanKind.CONSUMER)
    assert consumer is span
    assert consumer.name == "process jobs"
    assert consumer.parent is None  # no ambient span: a new trace ...
    assert consumer.context.trace_id != sent.context.trace_id
    assert [link.context.span_id for link in consumer.links] == [sent.context.span_id]  # ... linked to the producer
    assert consumer.links[0].context.trace_id == sent.context.trace_id
    assert consumer.attributes["messaging.operation.type"] == "process"
    assert consumer.attributes["messaging.operation"] == "process"
    assert consumer.attributes["messaging.system"] == "rabbitmq"
    assert child.parent is not None and child.parent.span_id == consumer.context.span_id


def test_consumer_inside_a_request_is_its_child_and_receive_is_client(
    tracer: Tracer, exporter: InMemoryExporter
) -> None:
    headers: dict[str, str] = {}
    with producer_span("sqs", "q", headers, tracer=tracer) as sent:
        pass
    with tracer.start_as_current_span("poll loop") as ambient:
        with consumer_span("sqs", "q", headers, "receive", tracer=tracer) as received:
            pass
    assert received.kind is SpanKind.CLIENT
    assert received.name == "receive q"
    assert received.parent is not None and received.parent.span_id == ambient.context.span_id
    assert received.links[0].context.span_id == sent.context.span_id


def test_consumer_without_context_has_no_link_and_records_errors(tracer: Tracer, exporter: InMemoryExporter) -> None:
    with pytest.raises(KeyError):
        with consumer_span("kafka", "orders", {}, tracer=tracer):
            raise KeyError("missing")
    (span,) = exporter.get_finished_spans()
    assert not span.links
    assert span.status.code is StatusCode.ERROR
    assert span.attributes["error.type"] == "KeyError"


def test_helpers_use_the_default_pipeline(exporter: InMemoryExporter) -> None:
    configure(service_name="queue-worker", exporter=exporter, export_mode="simple")
    headers: dict[str, str] = {}
    with producer_span("kafka", "t", headers):
        pass
    with consumer_span("kafka", "t", headers):
        pass
    names = [span.name for span in exporter.get_finished_spans()]
    assert names == ["send t", "process t"]
    assert {span.resource.attributes["service.name"] for span in exporter.get_finished_spans()} == {"queue-worker"}


def test_extra_attributes_and_explicit_span(tracer: Tracer, exporter: InMemoryExporter) -> None:
    headers: dict[str, str] = {}
    span = tracer.start_span("created earlier")
    inject_message(headers, span=span)  # not current: injected explicitly
    span.end()
    assert headers["traceparent"] == format_traceparent(span.context)
    with consumer_span("kafka", "t", headers, tracer=tracer, attributes={"messaging.message.id": "m-1"}) as consumed:
        pass
    assert consumed.attributes["messaging.message.id"] == "m-1"
    assert consumed.links[0].context.span_id == span.context.span_id
