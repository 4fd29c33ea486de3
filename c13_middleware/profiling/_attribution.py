"""Which profiling session a thread's stack belongs to. First rule that applies:

1. **Registered frames.** A session registers the frame it runs the request in (its wrapper coroutine, the frame of
   a ``with``/``async with`` block, the caller of ``start()``). Such a frame is on a thread's stack exactly while
   that request executes there; a suspended coroutine is on no stack, so requests interleaved on one event loop
   never see each other's samples. Nested sessions on one stack all get the sample, each cut at its own frame.
2. **Thread binding.** A session started outside an event loop also binds its thread (one request per thread:
   threaded WSGI servers), which covers code run after the registered frame returned (hook-style frameworks).
3. **Context discovery** (``_discovery``): for work a framework runs through ``Context.run`` with a copy of the
   request's context (thread pools, spawned tasks), the frame that called ``Context.run`` references that context.
   Answers are cached per callee frame; at most ``max_new_scans`` new scans per stack per tick. The stack is read
   before the scan, so a positive answer is kept only if the callee is still on its thread's stack (a pool worker
   may have moved on to another request's item meanwhile).

A sample's span is the innermost frame marked by the span listener between the leaf and the session's cut.
"""

from __future__ import annotations

import sys
import threading
from types import CodeType, FrameType, FunctionType
from typing import Any

from ._awaits import synthetic_code
from ._discovery import scan_frame
from ._exact import HOOK_CODES

__all__ = ["Attribution", "Hit", "SessionMark", "SpanMark"]

# session, stack (leaf first), each frame's instruction offset (for its line, resolved at report time), frames, span
Hit = tuple[Any, tuple[CodeType, ...], tuple[int, ...], list[FrameType], int]

_THREAD_START = threading.Thread.start.__code__
# Creating and starting a thread: Thread.__init__ -> _make_invoke_excepthook ...; Thread.start -> Event.wait -> ...
_THREAD_INIT = threading.Thread.__init__.__code__
_START_LEAF = synthetic_code("[wait] thread pool start-up", _THREAD_START.co_filename, _THREAD_START.co_firstlineno)
_START_DEPTH = 4
# id(code) -> (code, is the __init__ of a Thread subclass): anyio's WorkerThread.__init__ builds its queue before
# Thread.__init__ runs. Keyed by id (the entry keeps the code alive, so the id stays its own): hashing code is slow.
_thread_inits: dict[int, tuple[CodeType, bool]] = {}
_MAX_SUBCLASSES = 1000
_MAX_STILL_DEPTH = 512  # frames walked to find a discovered frame on its thread's current stack


class SessionMark:
    __slots__ = ("include", "session")

    def __init__(self, session: Any, include: bool) -> None:
        self.session = session
        self.include = include


class SpanMark:
    __slots__ = ("session", "span_ids")

    def __init__(self, session: Any, span_ids: list[int]) -> None:
        self.session = session
        self.span_ids = span_ids


class Attribution:
    """Registered frames, thread bindings and the discovery cache. Read by the sampler thread only, except
    ``mark``/``unmark``/``bindings`` (single dict operations, atomic under the GIL)."""

    def __init__(self) -> None:
        self.markers: dict[FrameType, list[SessionMark | SpanMark]] = {}
        self.bindings: dict[int, Any] = {}
        self.max_new_scans = 4
        self._scans: dict[FrameType, list[Any]] = {}
        self._ticks = 0

    def mark(self, frame: FrameType, mark: SessionMark | SpanMark) -> None:
        marks = self.markers.get(frame)
        if marks is None:
            self.markers[frame] = [mark]
        else:
            marks.append(mark)

    def unmark(self, frame: FrameType, session: Any, kind: type | None = None) -> None:
        marks = self.markers.get(frame)
        if marks is not None:
            kept = [m for m in marks if m.session is not session or (kind is not None and type(m) is not kind)]
            if kept:
                self.markers[frame] = kept
            else:
                self.markers.pop(frame, None)

    def forget(self, session: Any) -> None:
        for frame in session._frames:
            self.unmark(frame, session)
        for ident in [i for i, s in self.bindings.items() if s is session]:
            del self.bindings[ident]

    def new_tick(self) -> None:
        self._ticks += 1
        if self._ticks % 256 == 0:  # drop cached scans of callee frames not seen for 256 ticks
            horizon = self._ticks - 256
            self._scans = {f: e for f, e in self._scans.items() if e[1] > horizon}

    def clear_cache(self) -> None:
        self._scans = {}

    def attribute(self, ident: int, leaf: FrameType) -> list[Hit] | None:
        markers = self.markers
        frames: list[FrameType] = []
        append = frames.append
        marks: list[tuple[int, SessionMark | SpanMark]] = []
        frame: FrameType | None = leaf
        while frame is not None:
            if frame in markers:
                index = len(frames)
                marks.extend((index, mark) for mark in markers[frame])
            append(frame)
            frame = frame.f_back
        if (
            leaf.f_code in HOOK_CODES and len(frames) > 1
        ):  # EXACT mode's profile hook was running: charge the time to its caller
            del frames[0]
            marks = [(index - 1, mark) for index, mark in marks if index > 0]
        cuts: dict[Any, int] = {}
        for index, mark in marks:
            if type(mark) is SessionMark and mark.session.active:
                cuts[mark.session] = index + 1 if mark.include else index  # outermost registration wins
        if not cuts:
            bound = self.bindings.get(ident)
            if bound is not None and bound.active:
                cuts[bound] = len(frames)
            else:
                discovered = self.discover(frames, ident)
                if discovered is None:
                    return None
                cuts = discovered
        hits: list[Hit] = []
        for session, cut in cuts.items():
            span = 0
            for index, mark in marks:
                if index < cut and type(mark) is SpanMark and mark.session is session and mark.span_ids:
                    span = mark.span_ids[-1]
                    break
            kept = frames[:cut]
            codes, lastis = tuple([f.f_code for f in kept]), tuple([f.f_lasti for f in kept])
            for index in range(min(_START_DEPTH, len(codes))):
                code = codes[index]
                if (
                    code is _THREAD_START  # identity: hashing a code object is not cheap
                    or code is _THREAD_INIT
                    or (code.co_name == "__init__" and _is_thread_init(code))
                ):
                    # Creating a new pool thread and waiting for it to start (anyio grows its pool from the event
                    # loop): the pool's start-up, not the caller's code; one frame says so.
                    codes, lastis = (_START_LEAF, *codes[index + 1 :]), (-1, *lastis[index + 1 :])
                    break
            hits.append((session, codes, lastis, kept, span))
        return hits

    def discover(self, frames: list[FrameType], ident: int = 0) -> dict[Any, int] | None:
        """Sessions whose context the stack runs in, with their cut; None if the scan budget ran out first."""
        scans = self._scans
        budget = self.max_new_scans
        for index in range(len(frames) - 2, -1, -1):
            child = frames[index]
            entry = scans.get(child)
            if entry is None:
                if budget == 0:
                    return None
                budget -= 1
                found = scan_frame(frames[index + 1], child)
                if found is None:  # true only at this instant (see scan_frame): not cached, scanned again later
                    continue
                if found and ident and not _still_running(ident, child):
                    # The stack was read before the scan and the thread moved on meanwhile: a pool worker that
                    # finished ``child`` and entered its next item's context (another request's) would otherwise
                    # charge this stale stack to that request.
                    continue
                entry = scans[child] = [found, self._ticks]
            else:
                entry[1] = self._ticks
            if entry[0]:
                return {s: index + 1 for s in entry[0] if s.active}
        return {}


def _still_running(ident: int, frame: FrameType) -> bool:
    """Whether ``frame`` is on thread ``ident``'s stack now. Called once per positive discovery (then cached for the
    frame's lifetime), so reading every thread's current frame here is rare."""
    current: FrameType | None = sys._current_frames().get(ident)
    for _ in range(_MAX_STILL_DEPTH):
        if current is None:
            return False
        if current is frame:
            return True
        current = current.f_back
    return False


def _is_thread_init(code: CodeType) -> bool:
    """Whether ``code`` is the ``__init__`` of a ``threading.Thread`` subclass (looked up once per code object)."""
    entry = _thread_inits.get(id(code))
    if entry is not None and entry[0] is code:
        return entry[1]
    found = False
    pending = list(threading.Thread.__subclasses__())
    seen = 0
    while pending and seen < _MAX_SUBCLASSES and not found:
        cls = pending.pop()
        seen += 1
        init = cls.__dict__.get("__init__")  # the class's own dict: no descriptor or user code runs
        found = type(init) is FunctionType and init.__code__ is code
        pending.extend(cls.__subclasses__())
    if len(_thread_inits) > 10_000:  # pragma: no cover
        _thread_inits.clear()
    _thread_inits[id(code)] = (code, found)
    return found
