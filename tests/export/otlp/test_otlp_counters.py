"""The exporter's counters agree with what reached the backend: a span the encoder leaves out is dropped, never
sent."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from c13_middleware import ExportResult, InMemoryExporter, Link, SpanContext, Tracer
from c13_middleware.export.otlp import OTLPExporter
from tests.export.otlp.otlp_receiver import Receiver


class Unprintable:
    def __str__(self) -> str:
        raise RuntimeError("no text for you")


def _received_names(receiver: Receiver, protocol: str) -> list[str]:
    if protocol == "http/json":
        document = receiver.received[0].json()
        return [s["name"] for rs in document["resourceSpans"] for ss in rs["scopeSpans"] for s in ss["spans"]]
    request = receiver.received[0].proto()
    return [s.name for rs in request.resource_spans for ss in rs.scope_spans for s in ss.spans]


@pytest.mark.parametrize("protocol", ["http/protobuf", "http/json"])
def test_a_span_the_encoder_leaves_out_counts_as_dropped_not_sent(
    protocol: str,
    receiver: Receiver,
    make_exporter: Callable[..., OTLPExporter],
    tracer: Tracer,
    exporter: InMemoryExporter,
    caplog: pytest.LogCaptureFixture,
) -> None:
    tracer.start_span("fine").end()
    if protocol == "http/protobuf":
        tracer.start_span("bad", attributes={"text": "lone \ud800 surrogate"}).end()  # not UTF-8: protobuf refuses
    else:  # link attributes are not cleaned by the span, so a value may fail to become text
        tracer.start_span("bad", links=[Link(SpanContext(1, 2, 1), {"v": Unprintable()})]).end()  # type: ignore[dict-item]
    tracer.start_span("also fine").end()
    otlp = make_exporter(protocol=protocol)
    assert otlp.export(exporter.get_finished_spans()) is ExportResult.SUCCESS
    assert _received_names(receiver, protocol) == ["fine", "also fine"]
    assert otlp.stats()["spans_sent"] == 2
    assert otlp.stats()["spans_dropped"] == 1
    assert "could not be encoded" in caplog.text


def test_a_batch_of_only_unencodable_spans_sends_nothing(
    receiver: Receiver, make_exporter: Callable[..., OTLPExporter], tracer: Tracer, exporter: InMemoryExporter
) -> None:
    tracer.start_span("bad \ud800").end()
    otlp = make_exporter()
    assert otlp.export(exporter.get_finished_spans()) is ExportResult.FAILURE
    assert receiver.received == []
    assert (otlp.spans_sent, otlp.spans_dropped, otlp.export_failures) == (0, 1, 1)
