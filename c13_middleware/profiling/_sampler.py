"""The process's one sampler thread.

The thread starts with the first session. While sessions are active, every tick (``interval_s`` while an
on-demand session is active, else the always-on mode's adaptive interval, ``_rate``) it reads
``sys._current_frames()``, walks each thread's stack from the leaf to the root once (``_attribution`` decides which
sessions the stack belongs to) and hands each session its sample with the thread's CPU share over the interval
(``_cpuclock``) and, off CPU, the IO classification of the leaf frame (``_frames``). When the last session stops it
drops every frame reference at once (the GIL switch interval is restored when the last on-demand one stops), then
parks (blocked, no wake-ups) for ``linger_s`` so back-to-back requests do not each pay a thread start (~0.3-1 ms),
and exits.

A thread whose leaf frame, its instruction and its caller are unchanged since the previous tick reuses the previous
attribution (idle and blocked threads cost a few comparisons). The tick holds ``_lock``; unregistering a session
takes it too, so once ``unregister`` returns no sample reaches that session.
"""

from __future__ import annotations

import logging
import os
import random
import sys
import threading
import time
from types import FrameType
from typing import Any

from ..trace._health import register_profiler_stats
from ._attribution import Attribution, Hit, SessionMark, SpanMark
from ._cpuclock import ThreadClocks
from ._frames import classify_io, is_selector_wait
from ._rate import RateControl
from ._types import SampleState

__all__ = ["SAMPLER", "Sampler", "SessionMark", "SpanMark"]

_log = logging.getLogger("c13_middleware.profiling")
_CPU, _IO, _WAIT = SampleState.CPU, SampleState.IO, SampleState.WAIT


class _ThreadState:
    __slots__ = ("complete", "hits", "idle", "lasti", "leaf", "parent")

    def __init__(self, leaf: FrameType, hits: list[Hit] | None) -> None:
        self.leaf = leaf
        self.lasti = leaf.f_lasti
        self.parent = leaf.f_back
        self.complete = hits is not None  # False: discovery ran out of its scan budget; redo it next tick
        self.hits = hits or []
        self.idle = is_selector_wait(leaf)


class Sampler:
    def __init__(self, interval_s: float = 0.001, switch_interval_s: float | None = 0.0005) -> None:
        self.interval_s = interval_s
        self.switch_interval_s = switch_interval_s
        self.attribution = Attribution()
        self.markers = self.attribution.markers
        self.bindings = self.attribution.bindings
        self.mark = self.attribution.mark
        self.unmark = self.attribution.unmark
        self.linger_s = 0.25
        # Process totals for the health metrics (kept across reconfiguration).
        self.profiles_taken = getattr(self, "profiles_taken", 0)
        self.overhead_s = getattr(self, "overhead_s", 0.0)
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._sessions: list[Any] = []
        self._thread: threading.Thread | None = None
        self._exit_now = False
        self._saved_switch: float | None = None
        self._set_switch: float | None = None
        self._threads: dict[int, _ThreadState] = {}
        self._ident = -1
        self._clocks = ThreadClocks()
        self._logged = False
        self.rate = getattr(self, "rate", None) or RateControl()
        self._fast = 0  # active on-demand sessions: while there are any, the sampler ticks at interval_s

    # lifecycle ---------------------------------------------------------------------------------------------------
    def configure(
        self,
        *,
        interval_s: float | None = None,
        switch_interval_s: float | None | bool = False,
        linger_s: float | None = None,
        always_on_interval_s: float | None = None,
        max_overhead: float | None = None,
    ) -> None:
        """Set the on-demand sampling interval, the GIL switch interval used while an on-demand session is active
        (None leaves the interpreter's alone), how long an idle sampler thread waits for the next session before it
        exits, and the always-on mode's base interval and CPU budget (``_rate``)."""
        self.rate.configure(always_on_interval_s=always_on_interval_s, max_overhead=max_overhead)
        if interval_s is not None:
            if not 0.0001 <= interval_s <= 1.0:
                raise ValueError("interval_s must be within [0.0001, 1]")
            self.interval_s = interval_s
        if switch_interval_s is not False:
            self.switch_interval_s = None if switch_interval_s is None else float(switch_interval_s)
        if linger_s is not None:
            if not 0.0 <= linger_s <= 60.0:
                raise ValueError("linger_s must be within [0, 60]")
            self.linger_s = linger_s

    @property
    def running(self) -> bool:
        """The sampler thread exists (sampling, or idle for at most ``linger_s`` after the last session)."""
        return self._thread is not None

    @property
    def sampling(self) -> bool:
        return bool(self._sessions)

    @property
    def active_sessions(self) -> int:
        return len(self._sessions)

    def register(self, session: Any) -> None:
        with self._lock:
            self.profiles_taken += 1
            if not session.always_on:
                if not self._fast:
                    self._lower_switch_interval()
                self._fast += 1
            self._sessions.append(session)
            self._exit_now = False
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="c13-profiler-sampler", daemon=True)
                self._thread.start()
            else:
                self._wake.notify()

    def unregister(self, session: Any) -> None:
        with self._lock:
            if session in self._sessions:
                self._sessions.remove(session)
                if not session.always_on:
                    self._fast -= 1
                    if not self._fast:
                        self._restore_switch_interval()
            self.attribution.forget(session)
            if not self._sessions:
                # Nothing left to sample: drop every frame reference now. The thread itself parks (no wake-ups) for
                # ``linger_s``, so back-to-back requests do not pay a thread start each.
                self._threads = {}
                self.attribution.clear_cache()
                self.rate.idle()

    def stop_idle(self, timeout: float = 1.0) -> bool:
        """End a parked sampler thread now (tests, shutdown). True if no sampler thread remains."""
        with self._lock:
            thread = self._thread
            if thread is None:
                return True
            if self._sessions:
                return False
            self._exit_now = True
            self._wake.notify()
        thread.join(timeout)
        return not thread.is_alive()

    def _lower_switch_interval(self) -> None:
        if self.switch_interval_s is not None:
            self._saved_switch = sys.getswitchinterval()
            self._set_switch = min(self._saved_switch, self.switch_interval_s)
            sys.setswitchinterval(self._set_switch)

    def _restore_switch_interval(self) -> None:
        if self._saved_switch is not None and sys.getswitchinterval() == self._set_switch:
            sys.setswitchinterval(self._saved_switch)
        self._saved_switch = self._set_switch = None

    @property
    def current_interval_s(self) -> float:
        """The interval the sampler ticks at now: on demand while any on-demand session is active, else always-on."""
        return self.interval_s if self._fast else self.rate.adaptive_s

    def _run(self) -> None:
        self._ident = threading.get_ident()
        last = time.perf_counter()
        phase = 1.0
        while True:
            time.sleep((self.interval_s if self._fast else self.rate.adaptive_s) * phase)
            phase = 1.0
            with self._lock:
                if not self._sessions:
                    if not self._park():
                        return
                    # Woken by a new session: the first tick at a random point of the interval, so a request shorter
                    # than the interval (one after another, the always-on rate) is sampled in proportion to its time.
                    phase = random.random()
                    last = time.perf_counter()
                    continue
                now = time.perf_counter()
                started_cpu = time.thread_time()
                try:
                    self._tick(now, now - last)
                except Exception:  # pragma: no cover - a profiler bug must not take the process down
                    if not self._logged:
                        self._logged = True
                        _log.exception("c13 profiler: sampling failed; continuing")
                last = now
                for session in self._sessions:
                    session._tracker.ticks += 1
                cost = time.thread_time() - started_cpu  # the sampler's own CPU for this tick, bookkeeping included
                self.overhead_s += cost
                for session in self._sessions:
                    session._tracker.sampling_time += cost
                self.rate.record(now, cost, not self._fast)

    def _park(self) -> bool:
        """With the lock held: wait for a session for up to ``linger_s``. False: the thread must exit."""
        deadline = time.monotonic() + self.linger_s
        while not self._sessions:
            remaining = deadline - time.monotonic()
            if self._exit_now or remaining <= 0:
                self._thread = None
                self._exit_now = False
                return False
            self._wake.wait(remaining)
        return True

    # sampling ----------------------------------------------------------------------------------------------------
    def _tick(self, now: float, dt: float) -> None:
        attribution = self.attribution
        attribution.new_tick()
        states = self._threads
        fresh: dict[int, _ThreadState] = {}
        seen: set[Any] = set()
        idle_threads: set[int] = set()
        for ident, leaf in sys._current_frames().items():
            if ident == self._ident:
                continue
            state = states.get(ident)
            if (
                state is None
                or not state.complete
                or state.leaf is not leaf
                or state.lasti != leaf.f_lasti
                or state.parent is not leaf.f_back
            ):
                state = _ThreadState(leaf, attribution.attribute(ident, leaf))
            fresh[ident] = state
            if state.idle:
                idle_threads.add(ident)
            if state.hits:
                self._record(ident, leaf, state.hits, now, dt, seen)
        self._threads = fresh
        for session in self._sessions:
            if session.loop_thread is not None and session not in seen:
                session._on_idle(now, dt, session.loop_thread in idle_threads)
        if len(self._clocks._last) > 2 * len(fresh) + 8:
            self._clocks.forget_others(set(fresh))

    def _record(self, ident: int, leaf: FrameType, hits: list[Hit], now: float, dt: float, seen: set[Any]) -> None:
        fraction = self._clocks.cpu_fraction(ident, now)
        io = None
        if fraction is None or fraction < 0.5:
            io = classify_io(leaf)
        if fraction is None:
            fraction = 0.0 if io is not None else 1.0
        state = _CPU if fraction >= 0.5 else _IO if io is not None else _WAIT
        for session, stack, lastis, frames, span in hits:
            if session.active:
                seen.add(session)
                session._tracker.sample(
                    ident, stack, lastis, frames, span or session.current_span(), now, dt, fraction, state, io
                )


SAMPLER = Sampler()


def _after_fork() -> None:  # pragma: no cover - exercised only in forked children
    # The sampler thread does not exist in the child and the parent's sessions are not the child's requests.
    SAMPLER.__init__(SAMPLER.interval_s, SAMPLER.switch_interval_s)  # type: ignore[misc]


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork)


def _stats() -> dict[str, float]:
    running = SAMPLER.sampling
    return {
        "profiles_taken": SAMPLER.profiles_taken,
        "overhead_seconds": SAMPLER.overhead_s,
        "cpu_ratio": SAMPLER.rate.cpu_ratio if running else 0.0,
        "interval_seconds": SAMPLER.current_interval_s if running else 0.0,
    }


register_profiler_stats(_stats)
