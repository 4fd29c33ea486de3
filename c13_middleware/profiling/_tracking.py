"""Per-session bookkeeping fed by the sampler thread: samples, time split, IO episodes, observed invocations.

* **Time split.** Each sample stands for the wall time since the previous tick. Its CPU share is the sampled
  thread's CPU clock advance over that time (``_cpuclock``); it is IO if off CPU with an IO leaf (``_frames``).
  An asyncio request that is suspended (on no stack) during a tick is waiting: IO wait if its loop thread sits in the
  selector (the loop is idle, so the request waits for the network or a timer), otherwise waiting for the loop.
* **IO episodes.** Consecutive IO samples of one thread stopped at the same frame and instruction are one wait;
  those of at least ``slow_io_s`` become ``IOEvent``s. Suspended asyncio requests get the same per await site, and
  a waiting sample per tick there (``_awaits``), so awaited time shows in every output.
* **Observed invocations.** A frame seen in consecutive samples at the same stack position is one invocation
  (frames are compared by identity and kept alive between samples, so an id is never reused by mistake). A
  suspended coroutine or generator keeps its invocation open until it is seen again. The duration estimate is
  ``last seen - (first seen - its interval)``, which is what "slow function" uses outside EXACT mode.
"""

from __future__ import annotations

import threading
from types import CodeType, FrameType
from typing import Any

from ._awaits import WaitSite
from ._frames import is_io_module
from ._types import IOEvent, SampleState

__all__ = ["Tracker"]

_GENERATOR_FLAGS = 0x20 | 0x80 | 0x100 | 0x200
_IO, _WAIT = SampleState.IO, SampleState.WAIT
# stack (leaf first), instruction offsets (leaf first), weight, cpu, state, span, thread
Sample = tuple[tuple[CodeType, ...], tuple[int, ...], float, float, int, int, int]


class _Episode:
    __slots__ = ("blocking_loop", "duration", "frame", "kind", "lasti", "what", "where")

    def __init__(self, frame: FrameType, kind: str, what: str, where: str, duration: float, loop: bool) -> None:
        self.frame = frame
        self.lasti = frame.f_lasti
        self.kind = kind
        self.what = what
        self.where = where
        self.duration = duration
        self.blocking_loop = loop


class Tracker:
    def __init__(self, slow_io_s: float, max_samples: int) -> None:
        self.slow_io_s = slow_io_s
        self.max_samples = max_samples
        self.samples: list[Sample] = []
        self.dropped = 0
        self.ticks = 0
        self.sampling_time = 0.0
        self.cpu_s = 0.0
        self.own_cpu_s = 0.0
        self.io_wait_s = 0.0
        self.await_io_s = 0.0
        self.await_other_s = 0.0
        self.io_events: list[IOEvent] = []
        self.thread_names: dict[int, str] = {}
        self.invocations: dict[CodeType, list[Any]] = {}
        self._started = 0.0
        self._thread = 0
        self._loop_thread: int | None = None
        self._episodes: dict[int, _Episode] = {}
        self._await: _Episode | None = None
        self._tracks: dict[int, tuple[list[FrameType], list[float], float]] = {}
        self._suspended: dict[FrameType, tuple[float, float]] = {}
        self._ended: list[tuple[CodeType, float]] = []

    def begin(self, started: float, thread: int, loop_thread: int | None) -> None:
        self._started = started
        self._thread = thread
        self._loop_thread = loop_thread

    def _weight(self, now: float, dt: float) -> float:
        return max(0.0, min(dt, now - self._started))

    def sample(
        self,
        ident: int,
        stack: tuple[CodeType, ...],
        lastis: tuple[int, ...],
        frames: list[FrameType],
        span: int,
        now: float,
        dt: float,
        fraction: float,
        state: SampleState,
        io: tuple[str, str] | None,
    ) -> None:
        weight = now - self._started
        if dt < weight:
            weight = dt
        if ident not in self.thread_names:
            self.thread_names[ident] = _thread_name(ident)
        cpu = weight * fraction
        self.cpu_s += cpu
        if ident == self._thread:
            self.own_cpu_s += cpu
        if stack:
            if len(self.samples) < self.max_samples:
                self.samples.append((stack, lastis, weight, cpu, state, span, ident))
            else:
                self.dropped += 1
        episode = self._episodes.get(ident) if self._episodes else None
        if state is _IO and io is not None and frames:
            self.io_wait_s += weight
            leaf = frames[0]
            if episode is not None and episode.frame is leaf and episode.lasti == leaf.f_lasti:
                episode.duration += weight
            else:
                self._close(episode)
                where = _where(frames)
                self._episodes[ident] = _Episode(leaf, io[0], io[1], where, weight, ident == self._loop_thread)
        elif episode is not None:
            self._close(self._episodes.pop(ident))
        if frames:
            self._track(ident, frames, now, weight)

    def suspended(self, now: float, dt: float, loop_idle: bool, wait: WaitSite | None, span: int, thread: int) -> None:
        """An asyncio request was on no stack during this tick: a waiting sample at its await site."""
        weight = self._weight(now, dt)
        if loop_idle:
            self.await_io_s += weight
        else:
            self.await_other_s += weight
        if wait is None:
            return
        if thread not in self.thread_names:
            self.thread_names[thread] = _thread_name(thread)
        if len(self.samples) < self.max_samples:
            self.samples.append((wait.stack, wait.lastis, weight, 0.0, _IO if loop_idle else _WAIT, span, thread))
        else:
            self.dropped += 1
        site = wait.site
        episode = self._await
        if episode is not None and episode.frame is site and episode.lasti == site.f_lasti:
            episode.duration += weight
            return
        self._close(episode)
        where = wait.where or f"{site.f_code.co_filename}:{site.f_lineno}"
        self._await = _Episode(site, "await", wait.what, where, weight, False)

    def finish(self, stopped: float) -> None:
        for episode in self._episodes.values():
            self._close(episode)
        self._episodes.clear()
        self._close(self._await)
        self._await = None
        for frames, firsts, last in self._tracks.values():
            self._ended.extend((frame.f_code, last - first) for frame, first in zip(frames, firsts, strict=True))
        self._tracks.clear()
        self._ended.extend((frame.f_code, last - first) for frame, (first, last) in self._suspended.items())
        self._suspended.clear()
        self._fold()

    def _close(self, episode: _Episode | None) -> None:
        if episode is not None and episode.duration >= self.slow_io_s:
            source = "await" if episode.kind == "await" else "sampled"
            event = IOEvent(episode.what, episode.duration, episode.where, episode.kind, source, episode.blocking_loop)
            self.io_events.append(event)

    def _track(self, ident: int, frames: list[FrameType], now: float, weight: float) -> None:
        """Hot path: identity-compare with the previous stack from the root; only the changed tail costs."""
        current = frames[::-1]
        start = now - weight
        track = self._tracks.get(ident)
        if track is None:
            self._tracks[ident] = (current, [start] * len(current), now)
            return
        previous, firsts, last = track
        common = 0
        limit = min(len(previous), len(current))
        while common < limit and previous[common] is current[common]:
            common += 1
        if common < len(previous):
            ended = self._ended
            for index in range(common, len(previous)):
                frame = previous[index]
                code = frame.f_code
                if code.co_flags & _GENERATOR_FLAGS:  # suspended, not finished: its invocation goes on
                    self._suspended[frame] = (firsts[index], last)
                else:
                    ended.append((code, last - firsts[index]))
            del firsts[common:]
            if len(ended) > 50_000:
                self._fold()
        if len(current) > common:
            suspended = self._suspended
            if suspended:
                for frame in current[common:]:
                    resumed = suspended.pop(frame, None)
                    firsts.append(resumed[0] if resumed is not None else start)
            else:
                firsts.extend([start] * (len(current) - common))
        self._tracks[ident] = (current, firsts, now)

    def _fold(self) -> None:
        """Aggregate ended invocations into ``invocations``: code -> [calls, total, min, max]."""
        invocations = self.invocations
        for code, duration in self._ended:
            stats = invocations.get(code)
            if stats is None:
                invocations[code] = [1, duration, duration, duration]
            else:
                stats[0] += 1
                stats[1] += duration
                if duration < stats[2]:
                    stats[2] = duration
                if duration > stats[3]:
                    stats[3] = duration
        self._ended.clear()


def _thread_name(ident: int) -> str:
    """Once per thread and profile (not per sample): the thread's name, or its id when it is not a Python thread."""
    for thread in threading.enumerate():
        if thread.ident == ident:
            return thread.name
    return str(ident)


def _where(frames: list[FrameType]) -> str:
    """The first frame, from the leaf, outside the IO modules: the code that made the call."""
    for frame in frames:
        if not is_io_module(frame):
            return f"{frame.f_code.co_filename}:{frame.f_lineno}"
    return f"{frames[0].f_code.co_filename}:{frames[0].f_lineno}"
