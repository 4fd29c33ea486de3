"""One profile of one request: its lifecycle, and what the sampler tells it.

Adapters wrap the request's execution; any of these registers a frame and sets the request's context:

* ``await session.run_async(app(scope, receive, send))`` / ``session.run_sync(app, environ, start_response)``
* ``with session:`` / ``async with session:`` around the call (the block's frame is registered)
* ``session.start()`` / ``session.stop()`` (the caller of ``start`` is registered)

Failures inside the profiler are logged once and never reach the request (``run_async``/``run_sync``/``with``).
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import sys
import threading
import time
from collections.abc import Awaitable, Callable, Iterable
from types import FrameType, TracebackType
from typing import TYPE_CHECKING, Any, TypeVar

from ._awaits import AwaitChain
from ._hooks import ACTIVE_SESSIONS, SPAN_ACTIVATION_LISTENER
from ._modes import ModeRecorders
from ._report import RawProfile, build_report
from ._sampler import SAMPLER, SessionMark
from ._spans import SpanTracker, live_listener
from ._tracking import Tracker
from ._types import IOEvent, ProfileReport, ProfileType, ProfilingThresholds

if TYPE_CHECKING:
    from ..trace._span import Span

__all__ = ["ProfileSession"]

_T = TypeVar("_T")
_logged: set[str] = set()


def _log_once(what: str) -> None:
    if what not in _logged:
        _logged.add(what)
        logging.getLogger("c13_middleware.profiling").exception("c13 profiler: %s failed; request continues", what)


class ProfileSession:
    def __init__(
        self,
        profile_type: ProfileType | str = ProfileType.CPU,
        *,
        name: str = "",
        trace_id: int = 0,
        span_id: int = 0,
        thresholds: ProfilingThresholds | None = None,
        max_samples: int = 100_000,
        service: str = "",
        always_on: bool = False,
    ) -> None:
        self.profile_id = secrets.token_hex(8)
        self.service = service
        self.always_on = always_on  # sampled at the always-on rate (``_rate``), unless an on-demand session runs
        self.profile_type = ProfileType.parse(profile_type)
        self.name = name
        self.trace_id = trace_id
        self.span_id = span_id
        self.thresholds = thresholds or ProfilingThresholds()
        self.active = False
        self.loop_thread: int | None = None
        self._state = "new"
        self._frames: list[FrameType] = []
        self._includes: dict[FrameType, bool] = {}  # registered frame -> part of the profile itself
        self._task: asyncio.Task[Any] | None = None
        self._awaits = AwaitChain()
        self._spans = SpanTracker(self, span_id, None)
        self._external: list[IOEvent] = []
        self._finished_spans: tuple[Span, ...] = ()
        self._tracker = Tracker(self.thresholds.slow_io_s, max_samples)
        self._modes = ModeRecorders(self.profile_type, self)
        self._context_set = False
        self._root: Any = None
        self._started = self._stopped = 0.0
        self._started_at = 0.0
        self._thread = 0
        self._thread_cpu = 0.0
        self._report: ProfileReport | None = None

    # lifecycle ---------------------------------------------------------------------------------------------------
    def start(self) -> None:
        """Start profiling; the calling function's frame is the request's frame."""
        self._begin(sys._getframe(1), include=True)

    def start_at(self, frame: FrameType) -> None:
        """Start profiling the work that runs below ``frame`` (a middleware passes its own frame)."""
        self._begin(frame, include=True)

    def stop(self) -> None:
        if self._state != "running":
            raise RuntimeError("the profile session is not running")
        self._stopped = time.perf_counter()
        if self._thread == threading.get_ident() and self.loop_thread is None:
            self._thread_cpu = time.thread_time() - self._thread_cpu
        else:
            self._thread_cpu = -1.0
        try:
            self._modes.stop_exact()
        except Exception:  # pragma: no cover
            _log_once("stopping exact mode")
        self.active = False
        self._state = "stopped"
        SAMPLER.unregister(self)  # waits for a tick in progress (no sample arrives after this); unmarks our frames
        self._frames.clear()
        self._includes.clear()
        self._awaits.clear()
        self._task = None
        self._spans.frames.clear()
        try:
            self._modes.stop_memory()
        except Exception:  # pragma: no cover
            _log_once("stopping memory mode")
        self._reset_context()
        self._tracker.finish(self._stopped)

    @property
    def running(self) -> bool:
        return self._state == "running"

    def __enter__(self) -> ProfileSession:
        self._safe_begin(sys._getframe(1))
        return self

    def __exit__(self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None) -> None:
        self._safe_stop()

    async def __aenter__(self) -> ProfileSession:
        self._safe_begin(sys._getframe(1))
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._safe_stop()

    async def run_async(self, awaitable: Awaitable[_T]) -> _T:
        """Await ``awaitable`` as this request: starts and stops the session unless it is already running."""
        frame = sys._getframe(0)
        owner = self._enter_run(frame)
        self._root = awaitable
        try:
            return await awaitable
        finally:
            self._root = None
            self._exit_run(frame, owner)

    def run_sync(self, fn: Callable[..., _T], /, *args: Any, **kwargs: Any) -> _T:
        """Call ``fn`` as this request: starts and stops the session unless it is already running."""
        frame = sys._getframe(0)
        owner = self._enter_run(frame)
        try:
            return fn(*args, **kwargs)
        finally:
            self._exit_run(frame, owner)

    def _enter_run(self, frame: FrameType) -> bool:
        owner = self._state == "new"
        try:
            self._begin(frame, include=False) if owner else self._mark(frame, include=False)
        except Exception:
            _log_once("starting a profile")
        return owner

    def _exit_run(self, frame: FrameType, owner: bool) -> None:
        if owner:
            self._safe_stop()
        else:
            SAMPLER.unmark(frame, self, SessionMark)

    def _safe_begin(self, frame: FrameType) -> None:
        try:
            self._begin(frame, include=True)
        except Exception:
            _log_once("starting a profile")

    def _safe_stop(self) -> None:
        try:
            if self._state == "running":
                self.stop()
        except Exception:  # pragma: no cover
            _log_once("stopping a profile")

    def _begin(self, frame: FrameType, include: bool) -> None:
        if self._state != "new":
            raise RuntimeError("a profile session runs once; create a new one")
        self._state = "running"
        self._thread = threading.get_ident()
        try:
            asyncio.get_running_loop()
            self.loop_thread = self._thread
            self._task = asyncio.current_task()
        except RuntimeError:
            self.loop_thread = None
        self._started_at = time.time()
        self._thread_cpu = time.thread_time()
        self._started = time.perf_counter()
        self._tracker.begin(self._started, self._thread, self.loop_thread)
        self._spans.previous = SPAN_ACTIVATION_LISTENER.get()
        ACTIVE_SESSIONS.set((*[s for s in ACTIVE_SESSIONS.get() if s.active], self))
        SPAN_ACTIVATION_LISTENER.set(self._spans)
        self._context_set = True
        self._mark(frame, include)
        if self.loop_thread is None and self._thread not in SAMPLER.bindings:
            SAMPLER.bindings[self._thread] = self
        SAMPLER.register(self)
        try:
            self._modes.start()
        except Exception:  # pragma: no cover
            _log_once("starting a profiling mode")
        # Last: until now the thread ran c13's own start-up (waiting for the sampler's lock under load), which is
        # not the request's; the sampler records nothing for an inactive session.
        self.active = True

    def _mark(self, frame: FrameType, include: bool) -> None:
        SAMPLER.mark(frame, SessionMark(self, include))
        self._frames.append(frame)
        self._includes.setdefault(frame, include)

    def _reset_context(self) -> None:
        """Leave the context as if this session had not been there; sessions may stop in any order."""
        if not self._context_set:
            return
        self._context_set = False
        ACTIVE_SESSIONS.set(tuple(s for s in ACTIVE_SESSIONS.get() if s is not self))
        if SPAN_ACTIVATION_LISTENER.get() is self._spans:
            SPAN_ACTIVATION_LISTENER.set(live_listener(self._spans.previous))

    # spans and externally recorded IO ----------------------------------------------------------------------------
    def current_span(self) -> int:
        """The span samples without a marked frame are labelled with: the last one made current, else ``span_id``."""
        return self._spans.current()

    def record_io(self, name: str, duration_s: float, where: str = "", kind: str = "external") -> None:
        """Record an operation measured elsewhere (an outgoing HTTP/gRPC CLIENT span): ``(name, duration_s, where)``."""
        self._external.append(IOEvent(str(name), float(duration_s), str(where), kind, "external"))

    def record_spans(self, spans: Iterable[Span]) -> None:
        """The request's finished spans: the report lists their findings (N+1 queries, slow queries, sequential
        calls; docs/findings.md) among its recommendations. Detection runs when the report is built."""
        self._finished_spans = tuple(spans)

    # called by the sampler thread (samples go straight to ``_tracker``) ----------------------------------------
    def _on_idle(self, now: float, dt: float, loop_idle: bool) -> None:
        wait = None
        if self._root is not None:  # run_async: the chain starts at the request's own awaitable
            wait = self._awaits.read(self._root, {})
        elif self._task is not None:
            wait = self._awaits.read(self._task.get_coro(), self._includes)
        if wait is None and self._frames:
            wait = self._awaits.fallback(self._frames[0])
        self._tracker.suspended(now, dt, loop_idle, wait, self.current_span(), self.loop_thread or 0)

    # results -----------------------------------------------------------------------------------------------------
    def report(self) -> ProfileReport:
        """The report (built once, after ``stop``)."""
        if self._state != "stopped":
            raise RuntimeError("stop the profile session before asking for its report")
        if self._report is None:
            self._report = build_report(self._raw())
        return self._report

    @property
    def wall_s(self) -> float:
        return (self._stopped if self._state == "stopped" else time.perf_counter()) - self._started

    def _raw(self) -> RawProfile:
        tracker = self._tracker
        memory, sites = self._modes.memory_results()
        return RawProfile(
            profile_id=self.profile_id,
            profile_type=self.profile_type,
            name=self.name,
            started_at=self._started_at,
            wall_s=self._stopped - self._started,
            own_thread_cpu_s=self._thread_cpu if self._thread_cpu >= 0 else None,
            tracker=tracker,
            trace_id=self.trace_id,
            span_id=self.span_id,
            external_io=tuple(self._external),
            exact=self._modes.exact_results(),
            memory=memory,
            memory_sites=sites,
            thresholds=self.thresholds,
            interval_s=SAMPLER.rate.adaptive_s if self.always_on else SAMPLER.interval_s,
            notes=tuple(self._modes.notes),
            service=self.service,
            always_on=self.always_on,
            spans=self._finished_spans,
        )
