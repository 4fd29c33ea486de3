"""MEMORY mode: tracemalloc allocation sites, allocated/freed bytes and peak.

tracemalloc is process-wide: while a MEMORY session runs, allocations made by every thread and every concurrent
request are traced, and the session's figures are the difference between a snapshot at its start and one at its
end. The report says so (``MemoryStats.scope == "process"``); on a busy server, read the hotspots as "allocated
while this request ran". The peak is the traced peak since the session started (``tracemalloc.reset_peak``), so a
second MEMORY session starting later lowers the first one's peak. Tracing starts with the first MEMORY session and
stops with the last one unless the application was already tracing.

Cost: while any MEMORY session is active, tracing slows allocation-heavy code several-fold (measured about 7x on a
json.dumps/loads workload, +25% on recursive fib; docs/profiling.md), and each session takes two snapshots.
"""

from __future__ import annotations

import os
import threading
import tracemalloc

from ._types import AllocationSite, MemoryStats

__all__ = ["MemoryRecorder", "tracing_sessions"]

_lock = threading.Lock()
_sessions = 0
_we_started = False
_OWN_DIR = os.path.dirname(os.path.abspath(__file__))


def tracing_sessions() -> int:
    """Test helper: MEMORY sessions currently holding tracemalloc."""
    return _sessions


class MemoryRecorder:
    def __init__(self, frames: int = 1, top: int = 10) -> None:
        self.frames = frames
        self.top = top
        self._start: tracemalloc.Snapshot | None = None
        self._current0 = 0
        self.stats: MemoryStats | None = None
        self.sites: tuple[AllocationSite, ...] = ()

    def start(self) -> None:
        global _sessions, _we_started
        with _lock:
            if _sessions == 0 and not tracemalloc.is_tracing():
                tracemalloc.start(self.frames)
                _we_started = True
            _sessions += 1
            self._start = tracemalloc.take_snapshot()
            self._current0 = tracemalloc.get_traced_memory()[0]
            tracemalloc.reset_peak()

    def stop(self) -> None:
        global _sessions, _we_started
        with _lock:
            if self._start is None:
                return
            end = tracemalloc.take_snapshot()
            _, peak = tracemalloc.get_traced_memory()
            _sessions -= 1
            if _sessions == 0 and _we_started:
                tracemalloc.stop()
                _we_started = False
        filters = [
            tracemalloc.Filter(False, tracemalloc.__file__),
            tracemalloc.Filter(False, os.path.join(_OWN_DIR, "*")),
        ]
        diffs = end.filter_traces(filters).compare_to(self._start.filter_traces(filters), "lineno")
        self._start = None
        allocated = sum(d.size_diff for d in diffs if d.size_diff > 0)
        freed = -sum(d.size_diff for d in diffs if d.size_diff < 0)
        growing = sorted((d for d in diffs if d.size_diff > 0), key=lambda d: d.size_diff, reverse=True)
        self.sites = tuple(
            AllocationSite(d.traceback[0].filename, d.traceback[0].lineno, d.size_diff, max(0, d.count_diff))
            for d in growing[: self.top]
        )
        self.stats = MemoryStats(
            allocated_bytes=allocated,
            freed_bytes=freed,
            peak_bytes=max(0, peak - self._current0),
            scope="process",
            tracemalloc_frames=tracemalloc.get_traceback_limit() if tracemalloc.is_tracing() else self.frames,
        )
