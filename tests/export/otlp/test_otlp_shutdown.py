"""At process end the exporter stops retrying (each batch gets one attempt) before it is shut down."""

from __future__ import annotations

import threading
import time

from c13_middleware import ExportResult, Span
from c13_middleware.export.otlp import Backoff, OTLPExporter
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
