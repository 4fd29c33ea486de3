"""The ``bridge`` fixture shared by the OpenTelemetry API tests: c13 installed as OpenTelemetry's provider for one
test, OpenTelemetry's globals put back afterwards (the API has no public way to unset a provider: its own tests do
the same)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from opentelemetry import context as otel_context, propagate, trace as otel_trace
from opentelemetry.util._once import Once

from c13_middleware import InMemoryExporter, Span, Tracer, configure
from c13_middleware.integrations import opentelemetry as bridge_module


@pytest.fixture
def otel_globals() -> Iterator[None]:
    """OpenTelemetry's globals (provider, runtime context, propagator) put back after the test."""
    saved = (otel_trace._TRACER_PROVIDER, otel_trace._TRACER_PROVIDER_SET_ONCE, otel_context._RUNTIME_CONTEXT)
    saved_textmap = propagate.get_global_textmap()
    try:
        yield
    finally:
        otel_trace._TRACER_PROVIDER, otel_trace._TRACER_PROVIDER_SET_ONCE, otel_context._RUNTIME_CONTEXT = saved
        if otel_trace._TRACER_PROVIDER is None:
            otel_trace._TRACER_PROVIDER_SET_ONCE = Once()
        propagate.set_global_textmap(saved_textmap)


@pytest.fixture
def bridge(exporter: InMemoryExporter, otel_globals: None) -> Tracer:
    """c13 as OpenTelemetry's provider, exporting into ``exporter``."""
    tracer = configure(service_name="bridge", exporter=exporter, export_mode="simple", opentelemetry=False)
    assert bridge_module.install() is True and bridge_module.installed()
    assert bridge_module.install() is True  # idempotent
    return tracer


def is_child(child: Span, parent: Span) -> bool:
    return (
        child.parent is not None
        and child.parent.span_id == parent.context.span_id
        and child.context.trace_id == parent.context.trace_id
    )


def ancestors(span: Span, spans: list[Span]) -> list[Span]:
    """``span``'s ancestors among ``spans``, nearest first."""
    by_id = {s.context.span_id: s for s in spans}
    found: list[Span] = []
    while span.parent is not None and span.parent.span_id in by_id:
        span = by_id[span.parent.span_id]
        found.append(span)
    return found
