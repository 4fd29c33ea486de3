"""Span processors: what happens to a span when it starts and ends.

The batch processor is the one meant for production: the request thread only appends to a bounded queue;
a background thread exports. A full queue drops (and counts) spans rather than block a request.
"""

from __future__ import annotations

import atexit
import collections
import os
import threading
import time
import weakref
from collections.abc import Sequence
from typing import TYPE_CHECKING

from ._context import suppress_instrumentation
from ._exporters import ExportResult, SpanExporter
from ._safety import log_once

if TYPE_CHECKING:
    from ._span import Span


class SpanProcessor:
    """Base class: every hook is a no-op."""

    def on_start(self, span: Span) -> None:
        return None

    def on_end(self, span: Span) -> None:
        return None

    def shutdown(self, timeout_millis: float = 30_000) -> None:
        return None

    def force_flush(self, timeout_millis: float = 30_000) -> bool:
        return True


def _export(exporter: SpanExporter, spans: Sequence[Span]) -> bool:
    """Export, never raising; the exporter's own outgoing calls are not traced."""
    try:
        with suppress_instrumentation():
            return exporter.export(spans) is ExportResult.SUCCESS
    except Exception:
        log_once(
            f"export:{type(exporter).__name__}",
            "c13_middleware: %s.export raised",
            type(exporter).__name__,
            exc_info=True,
        )
        return False


class SimpleSpanProcessor(SpanProcessor):
    """Exports each sampled span as it ends, on the ending thread: for tests and debugging, not production."""

    def __init__(self, exporter: SpanExporter) -> None:
        self.exporter = exporter

    def on_end(self, span: Span) -> None:
        if span.context.trace_flags & 1:
            _export(self.exporter, (span,))

    def shutdown(self, timeout_millis: float = 30_000) -> None:
        self.exporter.shutdown()

    def force_flush(self, timeout_millis: float = 30_000) -> bool:
        return self.exporter.force_flush(timeout_millis)


_LIVE_BATCHERS: weakref.WeakSet[BatchSpanProcessor] = weakref.WeakSet()


def live_batch_processors() -> list[BatchSpanProcessor]:
    """The batch processors not yet garbage-collected (for the health metrics)."""
    return list(_LIVE_BATCHERS)


class BatchSpanProcessor(SpanProcessor):
    def __init__(
        self,
        exporter: SpanExporter,
        *,
        max_queue_size: int = 2048,
        schedule_delay_millis: float = 5000,
        max_export_batch_size: int = 512,
        export_timeout_millis: float = 30_000,
    ) -> None:
        if max_queue_size < 1 or max_export_batch_size < 1 or schedule_delay_millis <= 0:
            raise ValueError("BatchSpanProcessor sizes and delay must be positive")
        if max_export_batch_size > max_queue_size:
            raise ValueError("max_export_batch_size must not exceed max_queue_size")
        self.exporter = exporter
        self.max_queue_size = max_queue_size
        self.max_export_batch_size = max_export_batch_size
        self.schedule_delay = schedule_delay_millis / 1000
        self.export_timeout = export_timeout_millis / 1000
        self.spans_exported = 0
        self.spans_dropped = 0
        self.spans_failed = 0
        self._queue: collections.deque[Span] = collections.deque()
        self._wake = threading.Event()
        self._lock = threading.Lock()
        self._flush_waiters: list[threading.Event] = []
        self._thread: threading.Thread | None = None
        self._shut = False
        _LIVE_BATCHERS.add(self)

    @property
    def queue_length(self) -> int:
        return len(self._queue)

    def on_end(self, span: Span) -> None:
        # The request thread's whole share of exporting: a flag test, a length test, an append.
        if span.context[2] & 1 and not self._shut:
            queue = self._queue
            if len(queue) < self.max_queue_size:
                queue.append(span)
                if self._thread is None or len(queue) >= self.max_export_batch_size:
                    self._kick()
            else:
                self.spans_dropped += 1
                log_once(
                    "batch-queue-full", "c13_middleware: span queue full (%d); dropping spans", self.max_queue_size
                )

    def _kick(self) -> None:
        if self._thread is None:
            with self._lock:
                if self._thread is None:
                    thread = threading.Thread(target=self._run, name="c13-span-exporter", daemon=True)
                    self._thread = thread
                    thread.start()
        if len(self._queue) >= self.max_export_batch_size:
            self._wake.set()

    def _after_fork_in_child(self) -> None:
        # The parent's worker thread does not exist here, and its queued spans are the parent's to export.
        self._thread = None
        self._queue.clear()
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._flush_waiters = []

    def _run(self) -> None:
        while True:
            self._wake.wait(self.schedule_delay)
            self._wake.clear()
            self._drain()
            with self._lock:
                waiters, self._flush_waiters = self._flush_waiters, []
                done = self._shut
            for waiter in waiters:
                waiter.set()
            if done:
                return

    def _drain(self) -> None:
        queue = self._queue
        while queue:
            batch: list[Span] = []
            while queue and len(batch) < self.max_export_batch_size:
                batch.append(queue.popleft())
            if _export(self.exporter, batch):
                self.spans_exported += len(batch)
            else:
                self.spans_failed += len(batch)
                log_once(
                    f"export-failed:{type(self.exporter).__name__}", "c13_middleware: span export failed; spans dropped"
                )

    def force_flush(self, timeout_millis: float = 30_000) -> bool:
        if self._thread is None or not self._thread.is_alive():
            if self._queue:
                self._drain()
            return self.exporter.force_flush(timeout_millis)
        waiter = threading.Event()
        with self._lock:
            self._flush_waiters.append(waiter)
        self._wake.set()
        deadline = time.monotonic() + timeout_millis / 1000
        flushed = waiter.wait(timeout_millis / 1000)
        return flushed and self.exporter.force_flush(max(0.0, deadline - time.monotonic()) * 1000)

    def shutdown(self, timeout_millis: float = 30_000) -> None:
        if self._shut:
            return
        with self._lock:
            self._shut = True
        thread = self._thread
        self._wake.set()
        if thread is not None and thread.is_alive() and thread is not threading.current_thread():
            thread.join(timeout_millis / 1000)
        elif self._queue:
            self._drain()
        try:
            self.exporter.shutdown()
        except Exception:
            log_once("exporter-shutdown", "c13_middleware: exporter shutdown raised", exc_info=True)


class MultiSpanProcessor(SpanProcessor):
    """Fans out to several processors; one failing processor does not stop the others."""

    def __init__(self, processors: Sequence[SpanProcessor]) -> None:
        self.processors = tuple(processors)

    def on_start(self, span: Span) -> None:
        for processor in self.processors:
            try:
                processor.on_start(span)
            except Exception:
                log_once(
                    f"on_start:{type(processor).__name__}", "c13_middleware: processor on_start raised", exc_info=True
                )

    def on_end(self, span: Span) -> None:
        for processor in self.processors:
            try:
                processor.on_end(span)
            except Exception:
                log_once(f"on_end:{type(processor).__name__}", "c13_middleware: processor on_end raised", exc_info=True)

    def shutdown(self, timeout_millis: float = 30_000) -> None:
        for processor in self.processors:
            processor.shutdown(timeout_millis)

    def force_flush(self, timeout_millis: float = 30_000) -> bool:
        return all([processor.force_flush(timeout_millis) for processor in self.processors])


def _reset_after_fork() -> None:
    for processor in list(_LIVE_BATCHERS):
        processor._after_fork_in_child()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_after_fork)


@atexit.register
def _shutdown_at_exit() -> None:
    for processor in list(_LIVE_BATCHERS):
        try:
            processor.shutdown(timeout_millis=5000)
        except Exception:  # pragma: no cover - interpreter teardown
            pass
