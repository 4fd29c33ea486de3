"""Client and RPC call metrics, c13's health collector, and the optional-dependency error."""

from __future__ import annotations

import sys
import threading
from collections.abc import Sequence
from typing import Any, Literal

import pytest
from prometheus_client import CollectorRegistry

from c13_middleware import BatchSpanProcessor, ExportResult, Span, SpanExporter, Tracer
from c13_middleware.export.prometheus import (
    PrometheusMetrics,
    _instruments,
    register_profiler_stats,
)
from c13_middleware.trace._observe import record_http_client_call, record_rpc_call

CLIENT = "http_client_request_duration_seconds"


def client_labels(**overrides: str) -> dict[str, str]:
    labels = {
        "http_request_method": "GET",
        "server_address": "inventory.internal",
        "server_port": "8080",
        "http_response_status_code": "200",
        "url_scheme": "http",
        "error_type": "",
    }
    return {**labels, **overrides}


def rpc_labels(**overrides: str) -> dict[str, str]:
    labels = {
        "rpc_system": "grpc",
        "rpc_service": "shop.Inventory",
        "rpc_method": "Reserve",
        "rpc_grpc_status_code": "0",
        "error_type": "",
    }
    return {**labels, **overrides}


def test_http_client_request(registry: CollectorRegistry, metrics: PrometheusMetrics) -> None:
    def call(method: str, status: int | None, duration_s: float, error_type: str | None = None) -> None:
        metrics.http_client_request(
            method=method,
            server_address="inventory.internal",
            server_port=8080,
            status=status,
            duration_s=duration_s,
            scheme="http",
            error_type=error_type,
        )

    call("GET", 200, 0.02)
    call("GET", 200, 0.3)
    call("GET", 503, 1.5, "503")
    call("BREW", None, 0.01, "httpx.ConnectError")

    assert registry.get_sample_value(f"{CLIENT}_count", client_labels()) == 2
    assert registry.get_sample_value(f"{CLIENT}_sum", client_labels()) == pytest.approx(0.32)
    assert registry.get_sample_value(f"{CLIENT}_bucket", {**client_labels(), "le": "0.025"}) == 1
    assert registry.get_sample_value(f"{CLIENT}_bucket", {**client_labels(), "le": "0.5"}) == 2
    failed = client_labels(http_response_status_code="503", error_type="503")
    assert registry.get_sample_value(f"{CLIENT}_count", failed) == 1
    unanswered = client_labels(
        http_request_method="_OTHER", http_response_status_code="", error_type="httpx.ConnectError"
    )
    assert registry.get_sample_value(f"{CLIENT}_count", unanswered) == 1


def test_rpc_calls(registry: CollectorRegistry, metrics: PrometheusMetrics) -> None:
    def call(kind: Literal["client", "server"], code: int, duration_s: float, error_type: str | None = None) -> None:
        metrics.rpc_call(
            kind,
            service="shop.Inventory",
            method="Reserve",
            grpc_status_code=code,
            duration_s=duration_s,
            error_type=error_type,
        )

    call("client", 0, 0.004)
    call("client", 14, 0.2, "UNAVAILABLE")
    call("server", 0, 0.003)
    call("server", 0, 0.006)
    # Unknown methods are attacker-chosen names: folded into one series.
    metrics.rpc_call("server", service="x.Y", method="Probe1", grpc_status_code=12, duration_s=0.001)
    metrics.rpc_call("server", service="x.Z", method="Probe2", grpc_status_code=12, duration_s=0.001)

    client, server = "rpc_client_call_duration_seconds", "rpc_server_call_duration_seconds"
    assert registry.get_sample_value(f"{client}_count", rpc_labels()) == 1
    assert registry.get_sample_value(f"{client}_bucket", {**rpc_labels(), "le": "0.005"}) == 1
    unavailable = rpc_labels(rpc_grpc_status_code="14", error_type="UNAVAILABLE")
    assert registry.get_sample_value(f"{client}_count", unavailable) == 1
    assert registry.get_sample_value(f"{server}_count", rpc_labels()) == 2
    assert registry.get_sample_value(f"{server}_sum", rpc_labels()) == pytest.approx(0.009)
    unknown = rpc_labels(rpc_service="_OTHER", rpc_method="_OTHER", rpc_grpc_status_code="12")
    assert registry.get_sample_value(f"{server}_count", unknown) == 2


def test_hooks_reach_every_observer_that_records_calls(registry: CollectorRegistry, metrics: PrometheusMetrics) -> None:
    class Broken:
        def http_client_request(self, **kwargs: Any) -> None:
            raise RuntimeError("observer bug")

        def rpc_call(self, kind: str, **kwargs: Any) -> None:
            raise RuntimeError("observer bug")

    observers = (object(), Broken(), metrics)  # one without the methods, one that fails: both skipped
    record_http_client_call(
        observers, method="GET", server_address="inventory.internal", server_port=8080, status=200, duration_s=0.01
    )
    record_rpc_call(observers, "server", service="shop.Inventory", method="Reserve", grpc_status_code=0, duration_s=1)
    record_http_client_call((), method="GET", server_address="a", server_port=None, status=None, duration_s=0.1)

    assert registry.get_sample_value(f"{CLIENT}_count", client_labels(url_scheme="")) == 1
    assert registry.get_sample_value("rpc_server_call_duration_seconds_count", rpc_labels()) == 1


def test_series_past_the_limit_fold_into_one(
    registry: CollectorRegistry, metrics: PrometheusMetrics, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_instruments, "MAX_SERIES", 3)
    for port in range(5):
        metrics.http_client_request(method="GET", server_address="h", server_port=port, status=200, duration_s=0.1)
    metrics.http_client_request(method="GET", server_address="h", server_port=0, status=200, duration_s=0.1)
    overflow = {label: "_OTHER" for label in _instruments.CLIENT_LABELS}
    assert registry.get_sample_value(f"{CLIENT}_count", overflow) == 2
    labels = client_labels(server_address="h", server_port="0", url_scheme="")
    assert registry.get_sample_value(f"{CLIENT}_count", labels) == 2


class BlockingExporter(SpanExporter):
    """Holds the first export until released, so the queue fills deterministically."""

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.release = threading.Event()

    def export(self, spans: Sequence[Span]) -> ExportResult:
        self.entered.set()
        self.release.wait(10)
        return ExportResult.SUCCESS


class RefusingExporter(SpanExporter):
    def export(self, spans: Sequence[Span]) -> ExportResult:
        return ExportResult.FAILURE


def finished_span(tracer: Tracer) -> Span:
    span = tracer.start_span("work")
    span.end()
    return span


def test_health_reads_span_processors_at_scrape_time(registry: CollectorRegistry, tracer: Tracer) -> None:
    PrometheusMetrics(registry)
    exporter = BlockingExporter()
    processor = BatchSpanProcessor(exporter, max_queue_size=1, max_export_batch_size=1, schedule_delay_millis=60_000)
    refusing = BatchSpanProcessor(RefusingExporter(), max_queue_size=8, max_export_batch_size=8)
    refusing_too = BatchSpanProcessor(RefusingExporter(), max_queue_size=8, max_export_batch_size=8)

    def value(name: str, exporter_name: str) -> float | None:
        return registry.get_sample_value(name, {"exporter": exporter_name})

    try:
        processor.on_end(finished_span(tracer))  # taken by the worker, which blocks in export
        assert exporter.entered.wait(10)
        for _ in range(3):
            processor.on_end(finished_span(tracer))  # one queued, two dropped
        assert value("c13_spans_dropped_total", "BlockingExporter") == 2
        assert value("c13_span_queue_length", "BlockingExporter") == 1
        assert value("c13_span_queue_capacity", "BlockingExporter") == 1
        assert value("c13_spans_exported_total", "BlockingExporter") == 0
        exporter.release.set()
        assert processor.force_flush(10_000)
        assert value("c13_spans_exported_total", "BlockingExporter") == 2
        assert value("c13_span_queue_length", "BlockingExporter") == 0

        for _ in range(3):
            refusing.on_end(finished_span(tracer))
        refusing_too.on_end(finished_span(tracer))
        assert refusing.force_flush(10_000) is True and refusing_too.force_flush(10_000) is True
        assert value("c13_spans_failed_total", "RefusingExporter") == 4  # summed per exporter class
        assert value("c13_spans_exported_total", "RefusingExporter") == 0
        assert value("c13_span_queue_capacity", "RefusingExporter") == 16
    finally:
        exporter.release.set()
        processor.shutdown()
        refusing.shutdown()
        refusing_too.shutdown()


def test_health_reads_registered_profiler_stats(registry: CollectorRegistry) -> None:
    PrometheusMetrics(registry, namespace="svc")

    def totals() -> tuple[float, float]:
        profiles = registry.get_sample_value("svc_c13_profiles_total")
        overhead = registry.get_sample_value("svc_c13_profiler_overhead_seconds_total")
        assert profiles is not None and overhead is not None
        return profiles, overhead

    before = totals()
    unregister = [
        register_profiler_stats(lambda: {"profiles_taken": 3, "overhead_seconds": 0.25, "other": 9}),
        register_profiler_stats(lambda: {"profiles_taken": 2}),
        register_profiler_stats(lambda: {"profiles_taken": "many"}),  # type: ignore[dict-item]  # garbage: skipped
        register_profiler_stats(lambda: 1 / 0),  # type: ignore[arg-type,return-value]
    ]
    try:
        profiles, overhead = totals()
        assert profiles == before[0] + 5 and overhead == pytest.approx(before[1] + 0.25)
    finally:
        for undo in unregister:
            undo()
            undo()  # twice is harmless
    assert totals() == before
    with pytest.raises(TypeError):
        register_profiler_stats("not callable")  # type: ignore[arg-type]


def test_health_can_be_left_out(registry: CollectorRegistry) -> None:
    PrometheusMetrics(registry, health=False)
    assert not [family for family in registry.collect() if family.name.startswith("c13_")]
    PrometheusMetrics(registry)  # added later, once
    PrometheusMetrics(registry)
    assert len([family for family in registry.collect() if family.name == "c13_spans_exported"]) == 1


def test_missing_prometheus_client_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "prometheus_client", None)
    monkeypatch.delitem(sys.modules, "c13_middleware.export.prometheus._instruments")
    with pytest.raises(ImportError, match=r"pip install 'c13-middleware\[prometheus\]'"):
        PrometheusMetrics(CollectorRegistry())
    from c13_middleware.export.prometheus.prometheus import _load

    with pytest.raises(ImportError) as raised:
        _load("c13_no_such_module")
    assert "c13-middleware[prometheus]" not in str(raised.value)  # other import errors pass through untouched
