"""The span activation listener a session installs: which span each sample belongs to.

The core calls ``listener(span_id, entering)`` when a span becomes current or stops being current. The listener
marks the frame that holds the span (the first caller outside ``c13_middleware`` and ``contextlib``: the ``with``
block, or the framework frame around a hook), so the sampler labels a sample with the innermost marked span on *its
own* stack and concurrent tasks of one request keep their own spans. It also keeps the order of activations, the
fallback for samples with no marked frame (thread-pool work, hook-style activations).
"""

from __future__ import annotations

import logging
import sys
from types import FrameType
from typing import Any

from ._hooks import SpanActivationListener
from ._sampler import SAMPLER, SpanMark

__all__ = ["SpanTracker", "live_listener"]

_SKIP_MODULES = ("c13_middleware", "contextlib")
_log = logging.getLogger("c13_middleware.profiling")


class SpanTracker:
    """Callable as the listener. ``session`` provides ``_frames`` (unmarked when it stops) and ``running``."""

    def __init__(self, session: Any, root_span_id: int, previous: SpanActivationListener | None) -> None:
        self.session = session
        self.root_span_id = root_span_id
        self.previous = previous
        self.stack: list[int] = []
        self.frames: dict[int, list[FrameType]] = {}
        self._logged = False

    def __call__(self, span_id: int, entering: bool) -> None:
        if self.session.running:  # once stopped, still chained by a listener set after ours: only pass it on
            try:
                self._enter(span_id) if entering else self._exit(span_id)
            except Exception:  # pragma: no cover - never let span tracking break the request
                if not self._logged:
                    self._logged = True
                    _log.exception("c13 profiler: span tracking failed; continuing")
        if self.previous is not None:
            self.previous(span_id, entering)

    def current(self) -> int:
        stack = self.stack
        return stack[-1] if stack else self.root_span_id

    def _enter(self, span_id: int) -> None:
        self.stack.append(span_id)
        frame = _holder_frame()
        if frame is None:  # pragma: no cover - a listener called from the bottom of a stack
            return
        for mark in SAMPLER.markers.get(frame, ()):
            if type(mark) is SpanMark and mark.session is self.session:
                mark.span_ids.append(span_id)
                break
        else:
            SAMPLER.mark(frame, SpanMark(self.session, [span_id]))
            self.session._frames.append(frame)  # unmarked when the session stops, whatever the spans did
        self.frames.setdefault(span_id, []).append(frame)

    def _exit(self, span_id: int) -> None:
        stack = self.stack
        if span_id in stack:
            del stack[len(stack) - 1 - stack[::-1].index(span_id)]
        frames = self.frames.get(span_id)
        if not frames:
            return
        frame = frames.pop()
        if not frames:
            del self.frames[span_id]
        for mark in SAMPLER.markers.get(frame, ()):
            if type(mark) is SpanMark and mark.session is self.session and span_id in mark.span_ids:
                mark.span_ids.remove(span_id)
                if not mark.span_ids:
                    SAMPLER.unmark(frame, self.session, SpanMark)
                break


def _holder_frame() -> FrameType | None:
    """The frame that keeps a span current: the first caller outside c13_middleware and contextlib."""
    frame: FrameType | None = sys._getframe(3)  # _holder_frame <- _enter <- __call__ <- the core
    for _ in range(32):
        if frame is None:
            return None
        module = frame.f_globals.get("__name__", "")
        if not (isinstance(module, str) and module.startswith(_SKIP_MODULES)):
            return frame
        frame = frame.f_back
    return None


def live_listener(listener: SpanActivationListener | None) -> SpanActivationListener | None:
    """Skip listeners of sessions that have stopped (sessions can stop out of order)."""
    for _ in range(64):
        if not isinstance(listener, SpanTracker) or listener.session.running:
            return listener
        listener = listener.previous
    return None  # pragma: no cover
