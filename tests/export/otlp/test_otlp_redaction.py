"""Credentials in an OTLP endpoint (``http://user:pass@host``) and header values never reach a log line or a repr."""

from __future__ import annotations

import pytest

from c13_middleware import ExportResult, InMemoryExporter, Tracer
from c13_middleware.export.otlp import OTLPExporter, resolve_settings
from c13_middleware.export.otlp.config import redact_url
from tests.servers import free_port

SECRET = "s3cr3t-pw"


def test_redact_url() -> None:
    assert redact_url(f"http://alice:{SECRET}@collector:4318/v1/traces") == "http://REDACTED@collector:4318/v1/traces"
    assert redact_url("https://token@gw.example.net/otlp?x=1") == "https://REDACTED@gw.example.net/otlp?x=1"
    assert redact_url("http://a:b@c@host/p@q") == "http://REDACTED@host/p@q"  # a raw @ in the password too
    assert redact_url(f"alice:{SECRET}@collector:4317") == "REDACTED@collector:4317"
    assert redact_url("http://collector:4318/v1/traces") == "http://collector:4318/v1/traces"
    assert redact_url("dns:///collector:4317") == "dns:///collector:4317"


def test_unreachable_line_and_reprs_hide_the_credentials(
    tracer: Tracer, exporter: InMemoryExporter, caplog: pytest.LogCaptureFixture
) -> None:
    endpoint = f"http://alice:{SECRET}@127.0.0.1:{free_port()}/v1/traces"  # nobody listens there
    otlp = OTLPExporter(endpoint, headers={"authorization": f"Bearer {SECRET}"}, max_retry_time=0, environ={})
    tracer.start_span("s").end()
    try:
        assert otlp.export(exporter.get_finished_spans()) is ExportResult.FAILURE
    finally:
        otlp.shutdown()
    assert "unreachable" in caplog.text and "REDACTED@127.0.0.1" in caplog.text
    shown = [caplog.text, repr(otlp), repr(otlp.settings), str(otlp.settings)]
    for text in shown:
        assert SECRET not in text and "alice" not in text
    assert "authorization" in repr(otlp.settings)  # the header's name may show, its value not
    assert otlp.endpoint == endpoint  # the exporter itself still has the real one


def test_endpoint_warnings_hide_the_credentials(caplog: pytest.LogCaptureFixture) -> None:
    resolve_settings(environ={"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": f"ftp://alice:{SECRET}@collector/v1/traces"})
    resolve_settings(f"http://alice:{SECRET}@collector:4318", environ={})  # no path: a warning naming it
    resolve_settings(f"http://alice:{SECRET}@collector:4317/x", protocol="grpc", environ={})  # a path gRPC ignores
    with pytest.raises(ValueError) as raised:
        resolve_settings(f"ftp://alice:{SECRET}@collector", environ={})
    assert len(caplog.records) == 3
    for text in (caplog.text, str(raised.value)):
        assert SECRET not in text and "alice" not in text and "REDACTED@collector" in text
