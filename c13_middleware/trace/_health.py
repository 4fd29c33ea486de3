"""c13's own health figures, read by the metrics at scrape time: the live batch processors' counters, and the totals
of whatever registered itself (the profiler). Lives low so that the profiler registers, and the metrics read, without
either importing the other.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping

from ._processors import live_batch_processors
from ._safety import log_once

ProfilerStats = Callable[[], Mapping[str, float]]
PROFILER_STAT_KEYS = ("profiles_taken", "overhead_seconds")  # totals: summed over the registered profilers
PROFILER_GAUGE_KEYS = ("cpu_ratio", "interval_seconds")  # current values: the largest is reported

_profiler_stats: list[ProfilerStats] = []
_profiler_lock = threading.Lock()


def register_profiler_stats(stats: ProfilerStats) -> Callable[[], None]:
    """Have the health metrics read ``stats()`` at every scrape; returns the function that unregisters it.

    ``stats()`` returns cumulative totals since the process started, ``{"profiles_taken": int,
    "overhead_seconds": float}``, and may add current values: ``"cpu_ratio"`` (the sampler's CPU over its last
    measurement window, as a share of one CPU) and ``"interval_seconds"`` (its sampling interval now, 0 when idle).
    Other keys are ignored, a missing key counts as 0. It must be cheap and
    thread-safe: it runs on the scraping thread. The callable is held strongly until unregistered.
    """
    if not callable(stats):
        raise TypeError(f"register_profiler_stats needs a callable, got {stats!r}")
    with _profiler_lock:
        _profiler_stats.append(stats)

    def unregister() -> None:
        with _profiler_lock:
            if stats in _profiler_stats:
                _profiler_stats.remove(stats)

    return unregister


def profiler_stats() -> dict[str, float]:
    """The registered profilers' totals, summed; a callable that fails or returns garbage is skipped."""
    totals = dict.fromkeys(PROFILER_STAT_KEYS + PROFILER_GAUGE_KEYS, 0.0)
    with _profiler_lock:
        sources = tuple(_profiler_stats)
    for source in sources:
        try:
            values = source()
            read = {key: float(values.get(key, 0) or 0) for key in PROFILER_STAT_KEYS + PROFILER_GAUGE_KEYS}
        except Exception:
            log_once("metrics-profiler-stats", "c13_middleware: a profiler stats callable failed", exc_info=True)
            continue
        for key in PROFILER_STAT_KEYS:
            totals[key] += read[key]
        for key in PROFILER_GAUGE_KEYS:
            totals[key] = max(totals[key], read[key])
    return totals


class ProcessorStats:
    """Totals of the live ``BatchSpanProcessor``s that export through one exporter class."""

    __slots__ = ("exported", "dropped", "failed", "queue_length", "queue_capacity")

    def __init__(self) -> None:
        self.exported = 0
        self.dropped = 0
        self.failed = 0
        self.queue_length = 0
        self.queue_capacity = 0


def span_processor_stats() -> dict[str, ProcessorStats]:
    """Exporter class name → totals over the live batch processors (a processor that was garbage-collected no
    longer counts, so a total can go down: Prometheus treats that as a counter reset)."""
    stats: dict[str, ProcessorStats] = {}
    for processor in live_batch_processors():
        name = type(processor.exporter).__name__
        entry = stats.get(name)
        if entry is None:
            entry = stats[name] = ProcessorStats()
        entry.exported += processor.spans_exported
        entry.dropped += processor.spans_dropped
        entry.failed += processor.spans_failed
        entry.queue_length += processor.queue_length
        entry.queue_capacity += processor.max_queue_size
    return stats
