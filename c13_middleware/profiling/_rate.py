"""The sampler's two rates.

* **On demand** (a token-triggered profile, the standalone ``Profiler``): the configured interval (1 ms), with the
  GIL switch interval lowered so a CPU-bound thread is sampled ~500 times a second.
* **Always on** (sampled profiles, ``profile_sample_rate``, and slow-request capture): while only such sessions are
  active the sampler ticks at ``always_on_interval_s`` (10 ms, ~100 Hz) and leaves the switch interval alone, and an
  adaptive interval keeps its own measured CPU under ``max_overhead`` (1% of one CPU): every ``window_s`` (0.25 s) the
  CPU it spent per tick (``time.thread_time`` of the sampler thread) sets the next interval to
  ``max(always_on_interval_s, cpu per tick / max_overhead)``, at most 1 s. Sessions and requests come and go, so the
  cost per tick does too: the interval follows it window by window, as ddtrace's stack sampler does.
"""

from __future__ import annotations

__all__ = ["RateControl"]


class RateControl:
    def __init__(self, always_on_interval_s: float = 0.01, max_overhead: float = 0.01, window_s: float = 0.25) -> None:
        self.always_on_interval_s = always_on_interval_s
        self.max_overhead = max_overhead
        self.window_s = window_s
        self.adaptive_s = always_on_interval_s
        self.cpu_ratio = 0.0  # sampler CPU / wall time over the last full window
        self._window_start = -1.0
        self._window_cpu = 0.0
        self._window_ticks = 0
        self._window_always_on = True

    def configure(self, *, always_on_interval_s: float | None = None, max_overhead: float | None = None) -> None:
        if always_on_interval_s is not None:
            if not 0.001 <= always_on_interval_s <= 1.0:
                raise ValueError("always_on_interval_s must be within [0.001, 1]")
            self.always_on_interval_s = always_on_interval_s
            self.adaptive_s = max(self.adaptive_s, always_on_interval_s)
        if max_overhead is not None:
            if not 0.0001 <= max_overhead <= 1.0:
                raise ValueError("max_overhead must be within [0.0001, 1]")
            self.max_overhead = max_overhead

    def record(self, now: float, cpu_s: float, always_on: bool) -> None:
        """After each tick: its CPU cost; ``always_on``: only always-on sessions were active."""
        if self._window_start < 0:
            self._window_start = now
        self._window_cpu += cpu_s
        self._window_ticks += 1
        self._window_always_on = self._window_always_on and always_on
        elapsed = now - self._window_start
        if elapsed < self.window_s:
            return
        self.cpu_ratio = self._window_cpu / elapsed
        if self._window_always_on:
            per_tick = self._window_cpu / self._window_ticks
            self.adaptive_s = min(1.0, max(self.always_on_interval_s, per_tick / self.max_overhead))
        self._window_start, self._window_cpu, self._window_ticks, self._window_always_on = now, 0.0, 0, True

    def idle(self) -> None:
        """No session: the next window starts afresh (the interval learnt so far is kept)."""
        self._window_start, self._window_cpu, self._window_ticks, self._window_always_on = -1.0, 0.0, 0, True
        self.cpu_ratio = 0.0
