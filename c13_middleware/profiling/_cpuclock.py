"""Per-thread CPU clocks read from the sampler thread.

On Linux a thread's CPU clock id is derived from its kernel thread id (``threading.Thread.native_id``) with the
encoding glibc's ``pthread_getcpuclockid`` uses (``(~tid << 3) | CPUCLOCK_PERTHREAD | CPUCLOCK_SCHED``). Unlike
``time.pthread_getcpuclockid(ident)``, which dereferences the thread's pthread handle and is undefined once that
thread has exited, this is safe: a clock of a thread that is gone, or not in this process, fails with EINVAL.

Elsewhere there is no per-thread clock for other threads; ``available`` is False and the sampler falls back to the
leaf-frame rule alone (an IO leaf means off CPU, anything else counts as CPU).
"""

from __future__ import annotations

import sys
import threading
import time

__all__ = ["ThreadClocks"]


def _clock_id(native_id: int) -> int:
    return ((~native_id) << 3) | 6


class ThreadClocks:
    """Maps ``threading.get_ident()`` values to CPU clocks; only the sampler thread uses an instance."""

    def __init__(self) -> None:
        self.available = sys.platform.startswith("linux") and hasattr(time, "clock_gettime")
        self._clocks: dict[int, int] = {}
        self._refreshed = -1.0
        self._last: dict[int, tuple[float, float]] = {}  # ident -> (wall, cpu) at the previous reading

    def cpu_fraction(self, ident: int, now: float) -> float | None:
        """The share of wall time ``ident`` spent on CPU since its previous reading, or None if unknown."""
        if not self.available:
            return None
        cpu = self._read(ident, now)
        if cpu is None:
            return None
        previous = self._last.get(ident)
        self._last[ident] = (now, cpu)
        if previous is None or now <= previous[0]:
            return None
        fraction = (cpu - previous[1]) / (now - previous[0])
        return 0.0 if fraction < 0.0 else 1.0 if fraction > 1.0 else fraction

    def forget_others(self, keep: set[int]) -> None:
        for ident in [i for i in self._last if i not in keep]:
            del self._last[ident]

    def _read(self, ident: int, now: float) -> float | None:
        clock = self._clocks.get(ident)
        if clock is not None:
            try:
                return time.clock_gettime(clock)
            except OSError:
                del self._clocks[ident]  # that thread is gone; its ident may now belong to a new thread
        if now - self._refreshed < 0.05:
            return None
        self._refresh(now)
        clock = self._clocks.get(ident)
        if clock is None:
            return None
        try:
            return time.clock_gettime(clock)
        except OSError:  # pragma: no cover - the thread exited between the refresh and the read
            return None

    def _refresh(self, now: float) -> None:
        self._refreshed = now
        clocks: dict[int, int] = {}
        for thread in threading.enumerate():
            if thread.ident is not None and thread.native_id is not None:
                clocks[thread.ident] = _clock_id(thread.native_id)
        self._clocks = clocks
