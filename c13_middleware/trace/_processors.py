"""Span processors: what happens to a span when it starts and ends.

The batch processor is the one meant for production: the request thread only appends to a bounded queue;
a background thread exports. A full queue drops (and counts) spans rather than block a request.
"""

from __future__ import annotations

import collections
import os
import threading
import time
import weakref
from collections.abc import Sequence
from operator import length_hint
from typing import TYPE_CHECKING

from ._context import suppress_instrumentation
from ._exporters import ExportResult, SpanExporter
from ._safety import log_once

if TYPE_CHECKING:
    from ._span import Event, Span


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

DEFAULT_MAX_QUEUE_BYTES = 32 * 1024 * 1024
# A queued span's size, estimated: these fixed costs (the span, its context, dicts, per attribute and per event)
# plus the length of its string values. Exact accounting would cost the request path more than it saves.
_SPAN_BYTES = 1024
_ATTRIBUTE_BYTES = 64
_EVENT_BYTES = 256


def live_batch_processors() -> list[BatchSpanProcessor]:
    """The batch processors not yet garbage-collected (for the health metrics)."""
    return list(_LIVE_BATCHERS)


def _events_size(events: Sequence[Event]) -> int:
    size = 0
    for event in events:
        size += _EVENT_BYTES + len(event.name) + sum(map(length_hint, event.attributes.values()))
    return size


def _max_queue_bytes_from_env() -> int:
    raw = os.environ.get("C13_SPAN_QUEUE_MAX_BYTES", "").strip()
    if raw:
        try:
            value = int(raw)
            if value > 0:
                return value
        except ValueError:
            pass
        log_once("queue-bytes-env", "c13_middleware: C13_SPAN_QUEUE_MAX_BYTES=%r is not a positive integer; using %d",
                 raw, DEFAULT_MAX_QUEUE_BYTES)  # fmt: skip
    return DEFAULT_MAX_QUEUE_BYTES


class BatchSpanProcessor(SpanProcessor):
    """Queues finished, sampled spans (at most ``max_queue_size`` spans and about ``max_queue_bytes`` bytes, from
    ``C13_SPAN_QUEUE_MAX_BYTES`` when not given; beyond either, spans are dropped and counted) and exports them in
    batches from one background thread."""

    def __init__(
        self,
        exporter: SpanExporter,
        *,
        max_queue_size: int = 2048,
        schedule_delay_millis: float = 5000,
        max_export_batch_size: int = 512,
        export_timeout_millis: float = 30_000,
        max_queue_bytes: int | None = None,
    ) -> None:
        if max_queue_size < 1 or max_export_batch_size < 1 or schedule_delay_millis <= 0:
            raise ValueError("BatchSpanProcessor sizes and delay must be positive")
        if max_export_batch_size > max_queue_size:
            raise ValueError("max_export_batch_size must not exceed max_queue_size")
        if max_queue_bytes is not None and max_queue_bytes < 1:
            raise ValueError("max_queue_bytes must be positive")
        self.exporter = exporter
        self.max_queue_size = max_queue_size
        self.max_queue_bytes = max_queue_bytes if max_queue_bytes is not None else _max_queue_bytes_from_env()
        self.max_export_batch_size = max_export_batch_size
        self.schedule_delay = schedule_delay_millis / 1000
        self.export_timeout = export_timeout_millis / 1000
        self.spans_exported = 0
        self.spans_dropped = 0
        self.spans_failed = 0
        self._queue: collections.deque[tuple[Span, int]] = collections.deque()  # each span with its size
        self._bytes_in = 0
        self._bytes_out = 0
        self._wake = threading.Event()
        self._lock = threading.Lock()
        self._flush_waiters: list[threading.Event] = []
        self._thread: threading.Thread | None = None
        self._shut = False
        self._retired = False  # the worker closes the exporter itself when it is done
        self._retire_deadline: float | None = None
        _LIVE_BATCHERS.add(self)

    @property
    def queue_length(self) -> int:
        return len(self._queue)

    @property
    def is_running(self) -> bool:
        """Whether a worker is exporting and spans are accepted."""
        return not self._shut and self._thread is not None and self._thread.is_alive()

    @property
    def queued_bytes(self) -> int:
        """The estimated size of the queued spans."""
        return self._bytes_in - self._bytes_out

    def on_end(self, span: Span) -> None:
        # The request thread's share of exporting: a flag test, a length test, a size estimate in C (length_hint is
        # a string's length, an array's element count, 0 for a number), an append.
        if span.context[2] & 1 and not self._shut:
            queue = self._queue
            if len(queue) < self.max_queue_size:
                attributes = span.attributes
                size = _SPAN_BYTES + len(attributes) * _ATTRIBUTE_BYTES + sum(map(length_hint, attributes.values()))
                if span.events:
                    size += _events_size(span.events)
                if self._bytes_in - self._bytes_out + size <= self.max_queue_bytes:
                    # No lock: only request threads add here, only the worker subtracts (in _drain), and an add
                    # lost to a thread switch would only make the bound looser by one span.
                    self._bytes_in += size
                    queue.append((span, size))
                    if self._thread is None or len(queue) >= self.max_export_batch_size:
                        self._kick()
                    return
                self.spans_dropped += 1
                log_once("batch-queue-bytes", "c13_middleware: span queue over %d bytes; dropping spans",
                         self.max_queue_bytes)  # fmt: skip
            else:
                self.spans_dropped += 1
                log_once(
                    "batch-queue-full", "c13_middleware: span queue full (%d); dropping spans", self.max_queue_size
                )
        elif self._shut and span.context[2] & 1:
            self.spans_dropped += 1  # ended after shutdown (a span outliving a replaced pipeline's grace period)

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
        self._bytes_in = self._bytes_out = 0
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._flush_waiters = []

    def _run(self) -> None:
        while True:
            if not self._shut:
                deadline = self._retire_deadline
                delay = self.schedule_delay
                if deadline is not None:
                    delay = max(0.0, min(delay, deadline - time.monotonic()))
                self._wake.wait(delay)
                self._wake.clear()
                if deadline is not None and time.monotonic() >= deadline:
                    self._retired = True
                    self.stop()
            self._drain()
            waiters = self._take_waiters()
            for waiter in waiters:
                waiter.set()
            if self._shut and not self._queue:
                break
        if self._retired:
            self._close_exporter()

    def _take_waiters(self) -> list[threading.Event]:
        with self._lock:
            waiters, self._flush_waiters = self._flush_waiters, []
        return waiters

    def _drain(self) -> None:
        queue = self._queue
        while queue:
            batch: list[Span] = []
            size = 0
            while queue and len(batch) < self.max_export_batch_size:
                span, span_size = queue.popleft()
                batch.append(span)
                size += span_size
            self._bytes_out += size
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
        deadline = time.monotonic() + timeout_millis / 1000
        waiter = self.request_flush(deadline)
        flushed = waiter is not None and waiter.wait(max(0.0, deadline - time.monotonic()))
        return flushed and self.exporter.force_flush(max(0.0, deadline - time.monotonic()) * 1000)

    def request_flush(self, deadline: float) -> threading.Event | None:
        """Ask the worker to export what is queued; the event is set when it has. None if it could not be asked
        before ``deadline`` (the lock is held by a thread a signal interrupted)."""
        waiter = threading.Event()
        if not self._lock.acquire(timeout=max(0.0, deadline - time.monotonic())):
            return None
        try:
            self._flush_waiters.append(waiter)
        finally:
            self._lock.release()
        self._wake.set()
        return waiter

    def stop(self) -> None:
        """Accept no more spans and have the worker export what is queued, then end. Returns at once."""
        self._shut = True
        self._wake.set()

    def retire_at(self, deadline: float) -> None:
        """``retire`` at ``deadline`` (monotonic clock), by the worker; until then spans are taken as usual."""
        self._retire_deadline = deadline
        self._wake.set()

    def retire(self) -> None:
        """``stop``, and the worker shuts the exporter down once done unless a live processor still uses it."""
        self._retired = True
        self.stop()
        if self._thread is None or not self._thread.is_alive():
            self._close_exporter()

    def wait_stopped(self, deadline: float) -> bool:
        """Wait (until ``deadline``, on the monotonic clock) for the worker to end; True if it did, or there is none."""
        thread = self._thread
        if thread is None or thread is threading.current_thread():
            if self._queue and thread is None:
                self._drain()
            return True
        thread.join(max(0.0, deadline - time.monotonic()))
        return not thread.is_alive()

    def _close_exporter(self) -> None:
        exporter = self.exporter
        if any(p.exporter is exporter and not p._shut for p in list(_LIVE_BATCHERS) if p is not self):
            return  # another pipeline still sends through it
        try:
            exporter.shutdown()
        except Exception:
            log_once("exporter-shutdown", "c13_middleware: exporter shutdown raised", exc_info=True)

    def shutdown(self, timeout_millis: float = 30_000) -> None:
        if self._shut and not self._retired:
            return
        stop_processors([self], time.monotonic() + timeout_millis / 1000)


# Once the budget is spent, the exporters are shut down (which cuts retries, backoffs and requests in flight
# short); this is what the workers get after that to notice and end.
_AFTER_EXPORTER_SHUTDOWN = 0.2


def stop_processors(processors: Sequence[BatchSpanProcessor], deadline: float) -> bool:
    """Stop all at once, so that they drain in parallel, and tell their exporters to stop retrying (one attempt per
    batch); wait for them until ``deadline``; then shut the exporters down (each once), which cuts attempts still
    in flight short, and give the workers a moment to end. True if every worker ended in time."""
    for processor in processors:
        processor.stop()
        try:
            processor.exporter.stop_retrying()
        except Exception:
            log_once("exporter-stop-retrying", "c13_middleware: exporter stop_retrying raised", exc_info=True)
    done = all([processor.wait_stopped(deadline) for processor in processors])
    closed: set[int] = set()
    for processor in processors:
        if id(processor.exporter) not in closed:
            closed.add(id(processor.exporter))
            try:
                processor.exporter.shutdown()
            except Exception:
                log_once("exporter-shutdown", "c13_middleware: exporter shutdown raised", exc_info=True)
    if not done:
        late = time.monotonic() + _AFTER_EXPORTER_SHUTDOWN
        for processor in processors:
            processor.wait_stopped(late)
    return done


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
