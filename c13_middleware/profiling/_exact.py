"""EXACT mode: exact call counts and per-call min/avg/max of Python functions, via ``sys.setprofile``.

The hook is installed in the thread that starts the session (the request's thread; for asyncio, the event loop's
thread) and counts only calls made while one of its sessions is current in the calling context, so requests
interleaved on the same loop are counted apart. Work the request runs in a thread pool is sampled but not counted.
C functions are not counted (their time is in the calling function). For generators and coroutines a call is
counted when the frame starts; min/avg/max are per activation (each resumption until the next suspension).

Cost: a Python-level profile hook runs on every call and return of the thread, including other requests' code on a
shared event loop while an EXACT session is active. Measured (docs/profiling.md): about 37x on recursive fib, the
worst case, and 3.5x on a json + string.Template workload. It is opt-in, per request, for finding "called 10K
times" problems.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from types import CodeType, FrameType
from typing import Any

from ._hooks import ACTIVE_SESSIONS

__all__ = ["HOOK_CODES", "ExactRecorder", "exact_hooks_installed"]

_GENERATOR_FLAGS = 0x20 | 0x80 | 0x100 | 0x200  # CO_GENERATOR, CO_COROUTINE, CO_ITERABLE_COROUTINE, CO_ASYNC_GENERATOR
_first_offsets: dict[CodeType, int] = {}


def _first_resume(code: CodeType) -> int:  # pragma: no cover - called from the profile hook only
    offset = _first_offsets.get(code)
    if offset is None:
        offset = -1
        if sys.version_info >= (3, 11):
            import dis

            for instruction in dis.get_instructions(code):
                if instruction.opname == "RESUME":
                    offset = instruction.offset
                    break
        _first_offsets[code] = offset
    return offset


class _ThreadHook:
    """One per thread: dispatches profile events to the EXACT recorders active in that thread."""

    def __init__(self) -> None:
        self.recorders: tuple[ExactRecorder, ...] = ()
        self.stack: list[tuple[CodeType, float, tuple[ExactRecorder, ...]]] = []

    # Runs as the thread's profile function, where the interpreter suspends tracing: coverage cannot see these
    # lines (test_profiling_modes checks their effects: exact counts, generators, interleaved requests).
    def __call__(self, frame: FrameType, event: str, arg: Any) -> None:  # pragma: no cover
        if event == "call":
            recorders = self.recorders
            if not recorders:
                sys.setprofile(None)
                return
            sessions = ACTIVE_SESSIONS.get()
            if not sessions:
                self.stack.append((frame.f_code, 0.0, ()))
                return
            code = frame.f_code
            if len(recorders) == 1:
                counted: tuple[ExactRecorder, ...] = recorders if recorders[0].session in sessions else ()
            else:
                counted = tuple([r for r in recorders if r.session in sessions])
            if counted and (not code.co_flags & _GENERATOR_FLAGS or frame.f_lasti <= _first_resume(code)):
                for recorder in counted:
                    stats = recorder.stats.get(code)
                    if stats is None:
                        recorder.stats[code] = [1, 0.0, float("inf"), 0.0]
                    else:
                        stats[0] += 1
            self.stack.append((code, time.perf_counter(), counted))
        elif event == "return":
            if self.stack:
                code, started, counted = self.stack.pop()
                if counted:
                    elapsed = time.perf_counter() - started
                    for recorder in counted:
                        stats = recorder.stats.get(code)
                        if stats is not None:
                            stats[1] += elapsed
                            if elapsed < stats[2]:
                                stats[2] = elapsed
                            if elapsed > stats[3]:
                                stats[3] = elapsed


_hooks: dict[int, _ThreadHook] = {}
_hooks_lock = threading.Lock()


class ExactRecorder:
    """Per-session statistics: code -> [calls, total seconds, min, max]."""

    def __init__(self, session: Any) -> None:
        self.session = session
        self.stats: dict[CodeType, list[Any]] = {}
        self.unavailable: str | None = None
        self._ident: int | None = None

    def install(self) -> None:
        """Install in the calling thread. Refuses (and says why) if another profiler owns the hook."""
        ident = threading.get_ident()
        current = sys.getprofile()
        with _hooks_lock:
            hook = _hooks.get(ident)
            if current is not None and current is not hook:
                self.unavailable = "exact mode unavailable: another profiler is using sys.setprofile in this thread"
                return
            if hook is None or current is None:
                hook = _hooks[ident] = _ThreadHook() if hook is None else hook
                hook.stack.clear()
                sys.setprofile(hook)
            hook.recorders = (*hook.recorders, self)
            self._ident = ident

    def uninstall(self) -> None:
        if self._ident is None:
            return
        with _hooks_lock:
            hook = _hooks.get(self._ident)
            if hook is not None and self in hook.recorders:
                hook.recorders = tuple(r for r in hook.recorders if r is not self)
                if not hook.recorders:
                    del _hooks[self._ident]
                    if self._ident == threading.get_ident() and sys.getprofile() is hook:
                        sys.setprofile(None)
                    # otherwise the hook removes itself at the next call event in its thread
        self._ident = None

    def results(self) -> dict[CodeType, tuple[int, float, float, float]]:
        own = os.path.dirname(os.path.abspath(__file__))
        return {
            code: (s[0], s[1], s[2] if s[0] else 0.0, s[3])
            for code, s in self.stats.items()
            if s[0] > 0 and not code.co_filename.startswith(own)  # the profiler's own start/stop calls
        }


def exact_hooks_installed() -> int:
    """Test helper: threads with an installed EXACT hook."""
    return len(_hooks)


#: The hook's own code: the sampler drops it from the leaf of stacks so the hook's cost is not charged to a function.
HOOK_CODES = frozenset({_ThreadHook.__call__.__code__})
