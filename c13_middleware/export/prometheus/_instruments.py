"""The prometheus_client side: one set of instruments (and one health collector) per (registry, namespace).

Imported only once ``prometheus_client`` is known to be installed (see ``prometheus.py``).
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Iterable, Iterator

from prometheus_client import CollectorRegistry, Gauge, Histogram
from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from ...findings._hooks import finding_counts
from ...trace._health import profiler_stats, span_processor_stats

# OpenTelemetry's advisory bucket boundaries for http.*.request.duration and rpc.*.call.duration, in seconds.
DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0)
SERVER_LABELS = ("http_request_method", "http_route", "http_response_status_code", "url_scheme", "error_type")
ACTIVE_LABELS = ("http_request_method", "url_scheme")
CLIENT_LABELS = (
    "http_request_method",
    "server_address",
    "server_port",
    "http_response_status_code",
    "url_scheme",
    "error_type",
)
RPC_LABELS = ("rpc_system", "rpc_service", "rpc_method", "rpc_grpc_status_code", "error_type")
# Series per histogram before new label sets are folded into one "_OTHER" series (OpenTelemetry's default limit).
MAX_SERIES = 2000
OTHER = "_OTHER"


class Series:
    """A labelled metric with its children cached per label tuple; past ``MAX_SERIES`` one overflow child."""

    __slots__ = ("metric", "children", "_overflow")

    def __init__(self, metric: Histogram) -> None:
        self.metric = metric
        self.children: dict[tuple[object, ...], Histogram] = {}
        self._overflow: Histogram | None = None

    def child(self, key: tuple[object, ...], values: tuple[str, ...]) -> Histogram:
        """The child for ``values``, cached under ``key`` (the caller's cheap form of the same labels)."""
        if len(self.children) >= MAX_SERIES:
            if self._overflow is None:
                self._overflow = self.metric.labels(*(OTHER for _ in values))
            return self._overflow
        child = self.children[key] = self.metric.labels(*values)
        return child


class Instruments:
    """The RED instruments of one (registry, namespace); shared by every ``PrometheusMetrics`` on it."""

    def __init__(self, registry: CollectorRegistry, namespace: str) -> None:
        def histogram(name: str, doc: str, labels: tuple[str, ...]) -> Histogram:
            return Histogram(
                name, doc, labels, namespace=namespace, unit="seconds", registry=None, buckets=DURATION_BUCKETS
            )

        self.server = Series(
            histogram("http_server_request_duration", "Duration of HTTP server requests.", SERVER_LABELS)
        )
        self.client = Series(
            histogram("http_client_request_duration", "Duration of HTTP client requests.", CLIENT_LABELS)
        )
        self.rpc_client = Series(
            histogram("rpc_client_call_duration", "Duration of outgoing remote procedure calls.", RPC_LABELS)
        )
        self.rpc_server = Series(
            histogram("rpc_server_call_duration", "Duration of incoming remote procedure calls.", RPC_LABELS)
        )
        self.active = Gauge(
            "http_server_active_requests",
            "Number of active HTTP server requests.",
            ACTIVE_LABELS,
            namespace=namespace,
            registry=None,
            multiprocess_mode="livesum",
        )
        self.active_children: dict[tuple[str, str], Gauge] = {}
        self.health: HealthCollector | None = None
        metrics = (self.server.metric, self.client.metric, self.rpc_client.metric, self.rpc_server.metric, self.active)
        _register_all(registry, metrics)

    def active_child(self, method: str, scheme: str) -> Gauge:
        key = (method, scheme)
        child = self.active_children.get(key)
        if child is None:
            child = self.active_children[key] = self.active.labels(method, scheme)
        return child


class HealthCollector(Collector):
    """c13's own health, read live at scrape time: span export counters and queue per exporter class, and the
    registered profilers' totals."""

    def __init__(self, namespace: str = "") -> None:
        self._prefix = f"{namespace}_c13_" if namespace else "c13_"

    def describe(self) -> Iterable[Metric]:
        return list(self._families(with_samples=False))

    def collect(self) -> Iterable[Metric]:
        return list(self._families(with_samples=True))

    def _families(self, *, with_samples: bool) -> Iterator[Metric]:
        p = self._prefix
        exported = CounterMetricFamily(
            f"{p}spans_exported", "Spans exported by batch span processors.", labels=["exporter"]
        )
        dropped = CounterMetricFamily(
            f"{p}spans_dropped", "Spans dropped because the export queue was full.", labels=["exporter"]
        )
        failed = CounterMetricFamily(f"{p}spans_failed", "Spans whose export failed.", labels=["exporter"])
        queue = GaugeMetricFamily(f"{p}span_queue_length", "Spans waiting in export queues.", labels=["exporter"])
        capacity = GaugeMetricFamily(
            f"{p}span_queue_capacity", "Capacity of the span export queues.", labels=["exporter"]
        )
        profiles = CounterMetricFamily(f"{p}profiles", "Request profiles taken.")
        overhead = CounterMetricFamily(
            f"{p}profiler_overhead_seconds", "Time the profiler spent sampling and building reports.", unit="seconds"
        )
        cpu_ratio = GaugeMetricFamily(
            f"{p}profiler_cpu_ratio", "The profiler's sampler CPU over its last window, as a share of one CPU."
        )
        interval = GaugeMetricFamily(
            f"{p}profiler_interval_seconds", "The profiler's sampling interval now (0: idle).", unit="seconds"
        )
        if with_samples:
            for name, stats in sorted(span_processor_stats().items()):
                exported.add_metric([name], stats.exported)
                dropped.add_metric([name], stats.dropped)
                failed.add_metric([name], stats.failed)
                queue.add_metric([name], stats.queue_length)
                capacity.add_metric([name], stats.queue_capacity)
            totals = profiler_stats()
            profiles.add_metric([], totals["profiles_taken"])
            overhead.add_metric([], totals["overhead_seconds"])
            cpu_ratio.add_metric([], totals["cpu_ratio"])
            interval.add_metric([], totals["interval_seconds"])
        yield from (exported, dropped, failed, queue, capacity, profiles, overhead, cpu_ratio, interval)


class FindingsCollector(Collector):
    """``c13_findings_total{kind,http_route}``: findings counted by the findings processor (``findings._hooks``),
    read at scrape time."""

    def __init__(self, namespace: str = "") -> None:
        self._name = f"{namespace}_c13_findings" if namespace else "c13_findings"

    def describe(self) -> Iterable[Metric]:
        return [self._family()]

    def collect(self) -> Iterable[Metric]:
        family = self._family()
        for (kind, route), count in sorted(finding_counts().items()):
            family.add_metric([kind, route], count)
        return [family]

    def _family(self) -> CounterMetricFamily:
        return CounterMetricFamily(
            self._name, "Findings (N+1 queries, slow queries, sequential calls...) per kind and route.",
            labels=["kind", "http_route"],
        )  # fmt: skip


def _register_all(registry: CollectorRegistry, collectors: Iterable[Collector]) -> None:
    """Register every collector or, when one clashes with a metric already in the registry, none of them."""
    done: list[Collector] = []
    try:
        for collector in collectors:
            registry.register(collector)
            done.append(collector)
    except ValueError as exc:
        for collector in done:
            registry.unregister(collector)
        raise ValueError(
            f"c13_middleware: the registry already has a metric named like c13's ({exc}); give PrometheusMetrics "
            "a namespace= or another registry"
        ) from exc


_by_registry: weakref.WeakKeyDictionary[CollectorRegistry, dict[str, Instruments]] = weakref.WeakKeyDictionary()
_lock = threading.Lock()


def instruments_for(registry: CollectorRegistry, namespace: str, *, health: bool) -> Instruments:
    """The instruments of (registry, namespace), created and registered on first use only."""
    with _lock:
        per_namespace = _by_registry.get(registry)
        if per_namespace is None:
            per_namespace = _by_registry[registry] = {}
        instruments = per_namespace.get(namespace)
        if instruments is None:
            instruments = per_namespace[namespace] = Instruments(registry, namespace)
        if health and instruments.health is None:
            collector = HealthCollector(namespace)
            _register_all(registry, (collector, FindingsCollector(namespace)))
            instruments.health = collector
        return instruments
