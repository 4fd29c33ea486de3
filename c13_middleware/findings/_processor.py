"""``FindingsProcessor``: a span processor that runs the detectors over each finished trace, off the request path.

On the request thread it only appends each ended span to its trace's list (a dictionary look-up and an append).
When a trace's local root ends (a span with no parent or a remote one), the list goes to the processor's own thread,
which runs ``detect_findings`` and reports the findings (``_hooks.report``: the ``c13_findings_total`` counter and
listeners). Bounded: at most ``max_traces`` traces waiting for their root and ``max_spans_per_trace`` spans each;
past those, the oldest waiting trace is let go and extra spans are not kept (counted in ``spans_dropped``).
"""

from __future__ import annotations

import collections
import threading
import time
from typing import TYPE_CHECKING

from ..trace._processors import SpanProcessor
from ..trace._safety import log_once
from ._detect import DEFAULT_THRESHOLDS, detect_findings
from ._hooks import report
from ._types import Finding, FindingThresholds

if TYPE_CHECKING:
    from ..trace._span import Span

__all__ = ["FindingsProcessor"]


class FindingsProcessor(SpanProcessor):
    """Add it to the pipeline: ``configure(processors=[FindingsProcessor()])``. ``recent`` holds the last
    ``keep_recent`` (trace id, findings) pairs, for a viewer or a test."""

    def __init__(
        self,
        thresholds: FindingThresholds = DEFAULT_THRESHOLDS,
        *,
        max_traces: int = 1000,
        max_spans_per_trace: int = 2000,
        keep_recent: int = 100,
    ) -> None:
        self.thresholds = thresholds
        self.max_traces = max_traces
        self.max_spans_per_trace = max_spans_per_trace
        self.spans_dropped = 0
        self.recent: collections.deque[tuple[int, list[Finding]]] = collections.deque(maxlen=keep_recent)
        self._open: dict[int, list[Span]] = {}
        self._ready: collections.deque[tuple[Span, list[Span]]] = collections.deque()
        self._wake = threading.Event()
        self._idle = threading.Event()
        self._idle.set()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._shut = False

    def on_end(self, span: Span) -> None:
        trace_id = span.context.trace_id
        spans = self._open.get(trace_id)
        if spans is None:
            if len(self._open) >= self.max_traces:
                # The oldest trace waiting for its root is the likeliest never to see it end here: let it go.
                try:
                    self.spans_dropped += len(self._open.pop(next(iter(self._open))))
                except (StopIteration, KeyError, RuntimeError):
                    pass
            spans = self._open.setdefault(trace_id, [])
        if len(spans) < self.max_spans_per_trace:
            spans.append(span)
        else:
            self.spans_dropped += 1
        parent = span.parent
        if (parent is None or parent.is_remote) and not self._shut:
            self._open.pop(trace_id, None)
            self._idle.clear()
            self._ready.append((span, spans))
            if self._thread is None:
                self._start()
            self._wake.set()

    def _start(self) -> None:
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="c13-findings", daemon=True)
                self._thread.start()

    def _run(self) -> None:
        while True:
            self._wake.wait()
            self._wake.clear()
            self._drain()
            if self._shut:
                return

    def _drain(self) -> None:
        ready = self._ready
        while ready:
            root, spans = ready.popleft()
            try:
                self._analyse(root, spans)
            except Exception:
                log_once("findings-detect", "c13_middleware: detecting findings failed", exc_info=True)
        self._idle.set()

    def _analyse(self, root: Span, spans: list[Span]) -> None:
        findings = detect_findings(spans, self.thresholds)
        if not findings:
            return
        route = root.attributes.get("http.route")
        self.recent.append((root.context.trace_id, findings))
        report(findings, route if isinstance(route, str) else "")

    def force_flush(self, timeout_millis: float = 30_000) -> bool:
        """Wait until every trace whose root has ended has been analysed."""
        if self._thread is None:
            self._drain()
            return True
        deadline = time.monotonic() + timeout_millis / 1000
        while True:  # a trace released while the worker was finishing the previous batch needs another round
            self._wake.set()
            if not self._idle.wait(max(0.0, deadline - time.monotonic())):
                return False
            if not self._ready:
                return True
            self._idle.clear()

    def shutdown(self, timeout_millis: float = 30_000) -> None:
        if self._shut:
            return
        self.force_flush(timeout_millis)
        self._shut = True
        self._wake.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout_millis / 1000)
