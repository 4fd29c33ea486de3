"""At process end the exporter stops retrying (each batch gets one attempt) before it is shut down."""

from __future__ import annotations

import threading
import time

from c13_middleware import ExportResult, Span
from c13_middleware.export.otlp import Backoff, OTLPExporter
from c13_middleware.export.otlp.sender import Attempt
from tests.servers import free_port


def test_stop_retrying_ends_a_backoff_wait_and_later_exports_try_once(spans: list[Span]) -> None:
    otlp = OTLPExporter(
        f"http://127.0.0.1:{free_port()}/v1/traces",  # refused
        max_retry_time=30,
        backoff=Backoff(initial=5, maximum=5, jitter=0),
        environ={},
    )
    results: list[ExportResult] = []
    exporting = threading.Thread(target=lambda: results.append(otlp.export(spans)))
    exporting.start()
    time.sleep(0.3)  # the first attempt failed: the export now waits 5 s to retry
    started = time.monotonic()
    otlp.stop_retrying()
    exporting.join(5)
    assert results == [ExportResult.FAILURE] and time.monotonic() - started < 1
    started = time.monotonic()
    assert otlp.export(spans) is ExportResult.FAILURE  # one attempt, no waiting
    assert time.monotonic() - started < 1
    assert otlp.retries == 0 and otlp.spans_dropped == 2 * len(spans)
    otlp.shutdown()


class Unabortable:
    """A transport whose attempt ignores abort() (as a TCP connect in progress does)."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.sending = threading.Event()
        self.closed_after_send = False
        self.done = False

    def prepare(self, body: bytes) -> bytes:
        return body

    def send(self, body: bytes, timeout: float) -> Attempt:
        self.sending.set()
        self.release.wait(5)
        self.done = True
        return Attempt(False, retryable=True, kind="unreachable:Timeout", problem="is unreachable (timeout)")

    def abort(self) -> None:
        return None

    def close(self) -> None:
        self.closed_after_send = self.done


def test_shutdown_does_not_wait_for_an_attempt_it_cannot_cut_short(spans: list[Span]) -> None:
    otlp = OTLPExporter(f"http://127.0.0.1:{free_port()}/v1/traces", environ={})
    sender = Unabortable()
    otlp._sender = sender
    exporting = threading.Thread(target=otlp.export, args=(spans,))
    exporting.start()
    assert sender.sending.wait(5)
    started = time.monotonic()
    otlp.shutdown()
    assert time.monotonic() - started < 0.5
    sender.release.set()
    exporting.join(5)
    assert sender.closed_after_send  # the export closed the connection when it ended
    assert otlp.spans_dropped == len(spans)
