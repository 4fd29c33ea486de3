"""The standalone profiler: ``from c13_middleware import Profiler, ProfileType``, no framework needed.

::

    with Profiler(ProfileType.CPU) as profiler:        # or "cpu" / "memory" / "exact"
        work()
    report = profiler.generate_report()

    async with Profiler(ProfileType.MEMORY) as profiler:
        await work()
    report = profiler.generate_report()

    profiler = Profiler()
    profiler.start()
    work()
    report = profiler.stop()                           # or, in async code: report = await profiler.astop()

The function that calls ``start()`` (or holds the ``with``/``async with`` block) is the profiled frame: samples are
taken while it, or anything it calls, runs, including in other asyncio tasks and thread-pool work started from its
context. ``start``/``stop`` do not block; ``astop`` builds the report in the loop's default executor so a large
profile does not stall the event loop. A ``Profiler`` can be started again after ``stop``; each run is a new profile
with a new id. Reports go to the process's bounded profile store (``get_profile(id)``) unless ``store=None``.
"""

from __future__ import annotations

import asyncio
import sys
from types import FrameType, TracebackType
from typing import Any

from ._listeners import notify_report
from ._sampler import SAMPLER
from ._session import ProfileSession
from ._store import ProfileStore, default_store
from ._triggers import ProfileDecision
from ._types import ProfileReport, ProfileType, ProfilingThresholds

__all__ = ["Profiler", "configure_sampler", "finish_profile"]

_DEFAULT: Any = object()


class Profiler:
    def __init__(
        self,
        profile_type: ProfileType | str = ProfileType.CPU,
        *,
        name: str = "",
        thresholds: ProfilingThresholds | None = None,
        store: ProfileStore | None = _DEFAULT,
        trace_id: int = 0,
        span_id: int = 0,
    ) -> None:
        self.profile_type = ProfileType.parse(profile_type)
        self.name = name
        self.thresholds = thresholds
        self.store = default_store() if store is _DEFAULT else store
        self.trace_id = trace_id
        self.span_id = span_id
        self._session: ProfileSession | None = None

    @property
    def is_running(self) -> bool:
        return self._session is not None and self._session.running

    @property
    def session(self) -> ProfileSession | None:
        """The current (or last) session: ``record_io`` and ``profile_id`` live there."""
        return self._session

    @property
    def profile_id(self) -> str | None:
        return self._session.profile_id if self._session is not None else None

    def start(self) -> None:
        """Start a new profile of the calling function. Raises ``RuntimeError`` if already running."""
        self._start(sys._getframe(1))

    def stop(self) -> ProfileReport:
        """Stop and return the report. Raises ``RuntimeError`` if not running."""
        self._stop()
        return self.generate_report()

    async def astop(self) -> ProfileReport:
        """Stop now; build the report in the event loop's default executor."""
        self._stop()
        return await asyncio.get_running_loop().run_in_executor(None, self.generate_report)

    def generate_report(self) -> ProfileReport:
        """The report of the last run (built once, then stored). Raises ``RuntimeError`` before the first stop."""
        session = self._session
        if session is None or session.running:
            raise RuntimeError("the profiler has no finished profile: call start() and stop() first")
        fresh = session._report is None
        report = session.report()
        if fresh:
            if self.store is not None:
                self.store.put(report)
            notify_report(report)
        return report

    def record_io(self, name: str, duration_s: float, where: str = "") -> None:
        """Add an IO operation measured elsewhere (e.g. an outgoing HTTP call) to the running profile."""
        if self._session is None or not self._session.running:
            raise RuntimeError("the profiler is not running")
        self._session.record_io(name, duration_s, where)

    def __enter__(self) -> Profiler:
        self._start(sys._getframe(1))
        return self

    def __exit__(self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None) -> None:
        if self.is_running:
            self._stop()

    async def __aenter__(self) -> Profiler:
        self._start(sys._getframe(1))
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self.is_running:
            self._stop()

    def _start(self, frame: FrameType) -> None:
        if self.is_running:
            raise RuntimeError("the profiler is already running")
        self._session = ProfileSession(
            self.profile_type,
            name=self.name,
            trace_id=self.trace_id,
            span_id=self.span_id,
            thresholds=self.thresholds,
        )
        self._session._begin(frame, include=True)

    def _stop(self) -> None:
        if not self.is_running:
            raise RuntimeError("the profiler is not running")
        assert self._session is not None
        self._session.stop()


def finish_profile(
    session: ProfileSession, decision: ProfileDecision, *, store: ProfileStore | None = _DEFAULT
) -> ProfileReport | None:
    """For middleware: stop ``session`` if needed; return (and store) its report unless slow-request capture
    discards it because the request was faster than ``decision.keep_if_slower_than_s``. Never raises."""
    try:
        if session.running:
            session.stop()
        if not decision.keep(session.wall_s):
            return None
        report = session.report()
        target = default_store() if store is _DEFAULT else store
        if target is not None:
            target.put(report)
        notify_report(report)
        return report
    except Exception:  # pragma: no cover - a profiler bug must not break the response
        import logging

        logging.getLogger("c13_middleware.profiling").exception("c13 profiler: building a report failed")
        return None


def configure_sampler(
    *,
    interval_s: float | None = None,
    switch_interval_s: float | None | bool = False,
    linger_s: float | None = None,
    always_on_interval_s: float | None = None,
    max_overhead: float | None = None,
) -> None:
    """Process-wide sampler settings: the on-demand sampling interval (default 1 ms); the GIL switch interval set
    while an on-demand session runs (default 0.5 ms, restored as soon as none does; ``None`` leaves the
    interpreter's value alone, which caps the rate at about 1 / (interval + 5 ms) per CPU-bound thread); how long the
    idle sampler thread waits for the next session before it exits (default 0.25 s; it does no work meanwhile); and
    the always-on mode's base interval (default 10 ms) and CPU budget (``max_overhead``, default 0.01 = 1% of one
    CPU), which the adaptive interval keeps the sampler under."""
    SAMPLER.configure(
        interval_s=interval_s,
        switch_interval_s=switch_interval_s,
        linger_s=linger_s,
        always_on_interval_s=always_on_interval_s,
        max_overhead=max_overhead,
    )
