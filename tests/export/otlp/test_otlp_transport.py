"""Delivery: compression, keep-alive, retries (Retry-After, backoff, the time bound), failures, shutdown, and a
collector that hangs never slowing the application.

The tests marked ``BOTH`` run over OTLP/HTTP and over OTLP/gRPC (a real grpc.server), through ``Collector``'s
answers in each protocol's terms: the exporter's retry loop is one for both. test_otlp_grpc.py has the rest of gRPC.
"""

from __future__ import annotations

import email.utils
import logging
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

from c13_middleware import ExportResult, Span, Tracer
from c13_middleware.export.otlp import Backoff, OTLPExporter
from c13_middleware.export.otlp.retry import RetryClock, parse_retry_after
from tests.export.otlp.otlp_receiver import Collector, Receiver, Reply

MakeExporter = Callable[..., OTLPExporter]
AnyCollector = Collector[Any, Any]
BOTH = pytest.mark.parametrize("receiver", ["http", "grpc"], indirect=True)


def _messages(caplog: pytest.LogCaptureFixture, text: str) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "c13_middleware" and text in r.getMessage()]


def test_gzip(receiver: Receiver, make_exporter: MakeExporter, spans: list[Span]) -> None:
    otlp = make_exporter(compression="gzip")
    assert otlp.export(spans) is ExportResult.SUCCESS
    request = receiver.received[0]
    assert request.headers["content-encoding"] == "gzip"
    assert request.raw[:2] == b"\x1f\x8b" and request.raw != request.body
    assert [s.name for s in request.proto().resource_spans[0].scope_spans[0].spans] == [s.name for s in spans]


def test_uncompressed_by_default_and_custom_headers(
    receiver: Receiver, make_exporter: MakeExporter, spans: list[Span]
) -> None:
    otlp = make_exporter(headers={"x-api-key": "s3cret", "X-Tenant": "blue"})
    assert otlp.export(spans) is ExportResult.SUCCESS
    headers = receiver.received[0].headers
    assert "content-encoding" not in headers
    assert headers["x-api-key"] == "s3cret" and headers["x-tenant"] == "blue"


def test_connection_is_kept_alive(receiver: Receiver, make_exporter: MakeExporter, spans: list[Span]) -> None:
    otlp = make_exporter()
    for _ in range(3):
        assert otlp.export(spans) is ExportResult.SUCCESS
    assert len({r.client for r in receiver.received}) == 1


def test_connection_closed_by_the_server_is_reopened_at_once(
    receiver: Receiver, make_exporter: MakeExporter, spans: list[Span]
) -> None:
    receiver.reply(Reply(close=True))  # closes after answering, without "Connection: close": a stale keep-alive
    otlp = make_exporter(max_retry_time=0)  # no retries allowed: reconnecting is not a retry
    assert otlp.export(spans) is ExportResult.SUCCESS
    time.sleep(0.05)
    assert otlp.export(spans) is ExportResult.SUCCESS
    assert len(receiver.received) == 2 and otlp.retries == 0


@BOTH
def test_server_delay_is_honoured(
    receiver: AnyCollector, make_exporter: MakeExporter, spans: list[Span], caplog: pytest.LogCaptureFixture
) -> None:
    receiver.reply(receiver.retryable(delay=1))  # Retry-After, or RetryInfo's retry_delay
    otlp = make_exporter(backoff=Backoff(initial=0.01, maximum=0.01))  # backoff alone would retry after 10 ms
    assert otlp.export(spans) is ExportResult.SUCCESS
    first, second = receiver.received
    assert 0.9 <= second.at - first.at < 2.5
    assert second.proto() == first.proto()
    assert otlp.retries == 1 and otlp.spans_sent == len(spans) and otlp.export_failures == 0
    assert len(_messages(caplog, "retrying")) == 1


def test_retry_after_http_date(receiver: Receiver, make_exporter: MakeExporter, spans: list[Span]) -> None:
    when = email.utils.formatdate(time.time() + 2, usegmt=True)  # whole seconds: waits 1-2 s
    receiver.reply(Reply(429, {"Retry-After": when}))
    otlp = make_exporter(backoff=Backoff(initial=0.01, maximum=0.01))
    assert otlp.export(spans) is ExportResult.SUCCESS
    first, second = receiver.received
    assert 0.5 <= second.at - first.at < 3


@BOTH
def test_retryable_answers_back_off_exponentially(
    receiver: AnyCollector, make_exporter: MakeExporter, spans: list[Span]
) -> None:
    answers = receiver.retryable_answers()  # 429, 502, 503, 504; or CANCELLED, DEADLINE_EXCEEDED, ... DATA_LOSS
    receiver.reply(*answers)
    otlp = make_exporter(backoff=Backoff(initial=0.01, maximum=1.0, jitter=0))
    assert otlp.export(spans) is ExportResult.SUCCESS
    times = [r.at for r in receiver.received]
    assert len(times) == len(answers) + 1 and otlp.retries == len(answers)
    waits = [b - a for a, b in zip(times, times[1:], strict=False)]
    assert all(wait >= 0.009 * 2**i for i, wait in enumerate(waits))  # 0.01, 0.02, 0.04, ...: exponential


@BOTH
def test_gives_up_after_max_retry_time(
    receiver: AnyCollector, make_exporter: MakeExporter, spans: list[Span], caplog: pytest.LogCaptureFixture
) -> None:
    receiver.default = receiver.retryable()
    otlp = make_exporter(max_retry_time=0.5)
    started = time.monotonic()
    assert otlp.export(spans) is ExportResult.FAILURE
    elapsed = time.monotonic() - started
    assert elapsed < 1.5
    assert len(receiver.received) >= 3  # it did retry
    assert otlp.export_failures == 1 and otlp.spans_dropped == len(spans) and otlp.spans_sent == 0
    assert len(_messages(caplog, "still failing")) == 1
    assert otlp.export(spans) is ExportResult.FAILURE
    assert len(_messages(caplog, "still failing")) == 1  # logged once, not per export
    assert otlp.export_failures == 2 and otlp.spans_dropped == 2 * len(spans)


@BOTH
def test_server_delay_beyond_the_bound_gives_up_without_waiting(
    receiver: AnyCollector, make_exporter: MakeExporter, spans: list[Span]
) -> None:
    receiver.reply(receiver.retryable(delay=30))
    otlp = make_exporter(max_retry_time=2)
    started = time.monotonic()
    assert otlp.export(spans) is ExportResult.FAILURE
    assert time.monotonic() - started < 1 and len(receiver.received) == 1


@BOTH
def test_final_answer_is_not_retried(
    receiver: AnyCollector, make_exporter: MakeExporter, spans: list[Span], caplog: pytest.LogCaptureFixture
) -> None:
    receiver.default = receiver.final()  # 400, or INVALID_ARGUMENT: with a delay from the server, still final
    otlp = make_exporter()
    assert otlp.export(spans) is ExportResult.FAILURE
    assert otlp.export(spans) is ExportResult.FAILURE
    time.sleep(0.1)
    assert len(receiver.received) == 2 and otlp.retries == 0
    assert otlp.spans_dropped == 2 * len(spans) and otlp.export_failures == 2 and otlp.spans_sent == 0
    logged = _messages(caplog, "not retryable")
    assert len(logged) == 1 and ("400" in logged[0] or "INVALID_ARGUMENT (bad span)" in logged[0])


@BOTH
def test_other_final_answers(receiver: AnyCollector, make_exporter: MakeExporter, spans: list[Span]) -> None:
    otlp = make_exporter()
    for count, answer in enumerate(receiver.final_answers(), 1):
        receiver.reply(answer)
        assert otlp.export(spans) is ExportResult.FAILURE
        assert len(receiver.received) == count
    assert otlp.retries == 0


@BOTH
def test_connection_refused(
    receiver: AnyCollector, make_exporter: MakeExporter, spans: list[Span], caplog: pytest.LogCaptureFixture
) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    otlp = make_exporter(endpoint=f"http://127.0.0.1:{port}/v1/traces", max_retry_time=0.3)
    started = time.monotonic()
    assert otlp.export(spans) is ExportResult.FAILURE
    assert otlp.export(spans) is ExportResult.FAILURE
    assert time.monotonic() - started < 2
    assert otlp.retries >= 2 and otlp.export_failures == 2 and otlp.spans_dropped == 2 * len(spans)
    logged = _messages(caplog, "retrying")  # unreachable; or UNAVAILABLE
    assert len(logged) == 1 and ("is unreachable" in logged[0] or "UNAVAILABLE" in logged[0])


@BOTH
def test_timeout_bounds_an_attempt(receiver: AnyCollector, make_exporter: MakeExporter, spans: list[Span]) -> None:
    receiver.default = receiver.hanging()
    otlp = make_exporter(timeout=0.2, max_retry_time=0.5)
    started = time.monotonic()
    assert otlp.export(spans) is ExportResult.FAILURE
    assert time.monotonic() - started < 1.5
    assert len(receiver.received) >= 2  # a timed-out attempt is retried within the bound


@pytest.mark.parametrize(
    ("receiver", "protocol"),
    [("http", "http/protobuf"), ("http", "http/json"), ("grpc", "grpc")],
    indirect=["receiver"],
)
def test_partial_success_is_read_counted_and_logged_once(
    receiver: AnyCollector,
    make_exporter: MakeExporter,
    spans: list[Span],
    caplog: pytest.LogCaptureFixture,
    protocol: str,
) -> None:
    receiver.default = receiver.partial_success(2, "attribute too long", as_json=protocol == "http/json")
    otlp = make_exporter(protocol=protocol)
    assert otlp.export(spans) is ExportResult.SUCCESS  # partial success is not retried
    assert otlp.export(spans) is ExportResult.SUCCESS
    assert len(receiver.received) == 2
    assert otlp.spans_rejected == 4 and otlp.spans_sent == 2 * (len(spans) - 2)
    logged = _messages(caplog, "rejected")
    assert len(logged) == 1 and "attribute too long" in logged[0] and "2 of 5" in logged[0]


@BOTH
def test_partial_success_warning_without_rejections(
    receiver: AnyCollector, make_exporter: MakeExporter, spans: list[Span], caplog: pytest.LogCaptureFixture
) -> None:
    receiver.default = receiver.partial_success(0, "deprecated attribute")
    otlp = make_exporter()
    assert otlp.export(spans) is ExportResult.SUCCESS
    assert otlp.spans_rejected == 0 and otlp.spans_sent == len(spans)
    assert _messages(caplog, "deprecated attribute")


def shut_down_during_export(otlp: Any, receiver: AnyCollector, spans: list[Span]) -> None:
    """Export in a thread, shut down once the receiver has the request: the export fails within 1.5 s."""
    results: list[ExportResult] = []
    worker = threading.Thread(target=lambda: results.append(otlp.export(spans)))
    worker.start()
    assert receiver.wait_for(1)
    started = time.monotonic()
    otlp.shutdown()
    worker.join(5)
    assert not worker.is_alive() and results == [ExportResult.FAILURE]
    assert time.monotonic() - started < 1.5


@BOTH
def test_shutdown_interrupts_a_backoff_wait_and_later_exports_fail_fast(
    receiver: AnyCollector, make_exporter: MakeExporter, spans: list[Span]
) -> None:
    receiver.default = receiver.retryable(delay=20)
    otlp = make_exporter(max_retry_time=60)
    shut_down_during_export(otlp, receiver, spans)
    started = time.monotonic()
    assert otlp.export(spans) is ExportResult.FAILURE
    assert time.monotonic() - started < 0.1 and len(receiver.received) == 1


@BOTH
def test_shutdown_breaks_off_a_hanging_request(
    receiver: AnyCollector, make_exporter: MakeExporter, spans: list[Span]
) -> None:
    receiver.default = receiver.hanging()
    otlp = make_exporter(timeout=30, max_retry_time=30)
    shut_down_during_export(otlp, receiver, spans)


@BOTH
def test_hanging_collector_does_not_slow_requests(receiver: AnyCollector, make_exporter: MakeExporter) -> None:
    """Measured with a timeout, not a benchmark: requests must not wait on the exporter."""
    receiver.default = receiver.hanging()
    otlp = make_exporter(timeout=30, max_retry_time=30)
    app = Tracer(service_name="app", exporter=otlp)  # batch mode: the default
    try:
        app.start_span("first").end()
        app.force_flush(timeout_millis=50)  # wakes the export thread, which now hangs on the receiver
        assert receiver.wait_for(1)
        started = time.monotonic()
        for i in range(200):
            app.start_span(f"request-{i}").end()
        assert time.monotonic() - started < 1.0
        processor = app.processor
        for _ in range(3000):  # far more than the queue holds: dropped and counted, memory stays bounded
            app.start_span("flood").end()
        assert processor.queue_length <= processor.max_queue_size  # type: ignore[union-attr]
        assert processor.spans_dropped > 0  # type: ignore[union-attr]
        assert time.monotonic() - started < 5.0
    finally:
        otlp.shutdown()
        app.shutdown(timeout_millis=2000)


def test_retry_clock_unit() -> None:
    now = [100.0]
    clock = RetryClock(10, Backoff(initial=1, maximum=4, multiplier=2, jitter=0), monotonic=lambda: now[0])
    assert [clock.next_delay(None) for _ in range(4)] == [1, 2, 4, 4]
    assert clock.next_delay(9.99) is None  # would end past the deadline
    now[0] = 109.5
    assert clock.next_delay(None) is None


def test_parse_retry_after() -> None:
    assert parse_retry_after("120") == 120
    assert parse_retry_after(" 0 ") == 0
    assert parse_retry_after(None) is None and parse_retry_after("soon") is None and parse_retry_after("-1") is None
    fixed = 1_700_000_000.0
    assert parse_retry_after(email.utils.formatdate(fixed + 30, usegmt=True), now=lambda: fixed) == 30
    assert parse_retry_after(email.utils.formatdate(fixed - 30, usegmt=True), now=lambda: fixed) == 0


@BOTH
def test_export_of_nothing_sends_nothing(receiver: AnyCollector, make_exporter: MakeExporter) -> None:
    assert make_exporter().export([]) is ExportResult.SUCCESS
    assert receiver.received == []


@BOTH
def test_suppressed_in_batch_thread(
    receiver: AnyCollector, make_exporter: MakeExporter, caplog: pytest.LogCaptureFixture
) -> None:
    """End to end through the batch processor: spans arrive, and the exporter's own call is not traced."""
    otlp = make_exporter()
    app = Tracer(service_name="app", exporter=otlp)
    try:
        with app.start_as_current_span("handler"):
            logging.getLogger("app").info("inside")
        assert app.force_flush(timeout_millis=5000)
        assert receiver.wait_for(1)
        names = [s.name for s in receiver.received[0].proto().resource_spans[0].scope_spans[0].spans]
        assert names == ["handler"]
        assert otlp.spans_sent == 1
    finally:
        app.shutdown(timeout_millis=2000)
