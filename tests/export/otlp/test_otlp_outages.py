"""Each outage of the backend is logged when it starts and when it ends; while it lasts, at most one line per
interval."""

from __future__ import annotations

import logging

import pytest

from c13_middleware import ExportResult, Span
from c13_middleware.export.otlp import OTLPExporter
from c13_middleware.export.otlp.outage import OutageLog
from tests.export.otlp.conftest import FAST_BACKOFF
from tests.export.otlp.otlp_receiver import Receiver
from tests.servers import free_port


def _lines(caplog: pytest.LogCaptureFixture, text: str) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "c13_middleware" and text in r.getMessage()]


def test_down_up_down_up_logs_two_outages_and_two_recoveries(
    spans: list[Span], caplog: pytest.LogCaptureFixture
) -> None:
    port = free_port()
    receiver = Receiver(port=port)
    otlp = OTLPExporter(f"http://127.0.0.1:{port}/v1/traces", backoff=FAST_BACKOFF, max_retry_time=0.2, environ={})
    try:
        assert otlp.export(spans) is ExportResult.SUCCESS
        for _ in range(2):
            receiver.close()  # the collector goes down ...
            assert otlp.export(spans) is ExportResult.FAILURE
            assert otlp.export(spans) is ExportResult.FAILURE
            receiver = Receiver(port=port)  # ... and comes back
            assert otlp.export(spans) is ExportResult.SUCCESS
            assert otlp.export(spans) is ExportResult.SUCCESS
    finally:
        otlp.shutdown()
        receiver.close()
    down = _lines(caplog, "is unreachable")
    assert len(down) == 2, down  # one per outage, though each outage failed several attempts and two exports
    assert len(_lines(caplog, "still failing after")) == 2  # retries ran out: once per outage too
    back = _lines(caplog, "succeed again")
    assert len(back) == 2
    assert all(f"{2 * len(spans)} spans dropped meanwhile" in line for line in back)
    assert otlp.spans_dropped == 4 * len(spans) and otlp.spans_sent == 5 * len(spans)


def test_a_long_outage_is_recalled_at_most_once_per_interval(caplog: pytest.LogCaptureFixture) -> None:
    now = [100.0]
    log = OutageLog("http://collector:4318/v1/traces", interval=60.0, clock=lambda: now[0])
    caplog.set_level(logging.WARNING, "c13_middleware")
    for second in range(0, 200, 5):  # a failed attempt every 5 s for 200 s
        now[0] = 100.0 + second
        log.failed("is unreachable (ConnectionRefusedError)", True, dropped_so_far=second)
        log.gave_up(10.0)
    assert len(_lines(caplog, "retrying, then dropping spans")) == 1  # the start
    recalled = _lines(caplog, "has been failing for")
    assert [line.split("for ")[1].split(" s")[0] for line in recalled] == ["60", "120", "180"]
    assert "195 spans dropped so far" not in caplog.text and "180 spans dropped so far" in caplog.text
    assert len(_lines(caplog, "still failing after")) == 1
    log.succeeded(dropped_so_far=200)
    log.succeeded(dropped_so_far=200)  # not in an outage any more: nothing to say
    (back,) = _lines(caplog, "succeed again")
    assert "after 195.0 s" in back and "200 spans dropped meanwhile" in back
