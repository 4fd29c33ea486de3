"""OTLP/gRPC against a real ``grpc.server`` (grpc_receiver.py): what arrives, metadata and gzip, RESOURCE_EXHAUSTED
and RetryInfo, configuration from the environment, TLS, and a missing grpcio.

Retries (every retryable code, RetryInfo's delay, the time bound, deadlines), drops (every final code), partial
success, shutdown and a hanging collector are tested over gRPC as over HTTP: the ``BOTH`` tests of
test_otlp_transport.py."""

from __future__ import annotations

import os
import shutil
import ssl
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.rpc.error_details_pb2 import DebugInfo, RetryInfo
from google.rpc.status_pb2 import Status
from opentelemetry.proto.trace.v1.trace_pb2 import Span as SpanMessage

import c13_middleware.export.otlp as otlp_package
from c13_middleware import ExportResult, InMemoryExporter, Span, SpanKind, Tracer
from c13_middleware.export.otlp import Backoff, OTLPExporter, resolve_settings
from c13_middleware.export.otlp.config import DEFAULT_GRPC_ENDPOINT, grpc_target
from c13_middleware.export.otlp.grpc_transport import (
    STATUS_DETAILS_KEY,
    load_status_messages,
    retry_info as read_retry_info,
)
from tests.export.otlp.grpc_receiver import Answer, Call, Code, GRPCReceiver
from tests.export.otlp.otlp_receiver import attributes, make_certificate

MakeExporter = Callable[..., OTLPExporter]


@pytest.fixture
def receiver() -> Iterator[GRPCReceiver]:
    """Here the gRPC receiver; conftest's ``make_exporter`` then makes gRPC exporters pointed at it."""
    server = GRPCReceiver()
    yield server
    server.close()


def _messages(caplog: pytest.LogCaptureFixture, text: str) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "c13_middleware" and text in r.getMessage()]


def _names(call: Call) -> list[str]:
    return [s.name for rs in call.request.resource_spans for ss in rs.scope_spans for s in ss.spans]


# What arrives


def test_spans_arrive_field_by_field(
    receiver: GRPCReceiver, make_exporter: MakeExporter, tracer: Tracer, exporter: InMemoryExporter
) -> None:
    with tracer.start_as_current_span("GET /cart", kind=SpanKind.SERVER, attributes={"http.route": "/cart"}):
        tracer.start_span("load", attributes={"rows": 3}).end()
    spans = exporter.get_finished_spans()
    otlp = make_exporter()
    assert otlp.export(spans) is ExportResult.SUCCESS
    (call,) = receiver.received
    (resource_spans,) = call.request.resource_spans
    assert attributes(resource_spans.resource.attributes)["service.name"] == "test-service"
    got = {s.name: s for ss in resource_spans.scope_spans for s in ss.spans}
    assert sorted(got) == ["GET /cart", "load"]
    for span in spans:
        message = got[span.name]
        assert message.trace_id == span.context.trace_id.to_bytes(16, "big")
        assert message.span_id == span.context.span_id.to_bytes(8, "big")
        assert message.start_time_unix_nano == span.start_time and message.end_time_unix_nano == span.end_time
    assert got["GET /cart"].parent_span_id == b""
    assert got["load"].parent_span_id == got["GET /cart"].span_id
    assert got["load"].trace_id == got["GET /cart"].trace_id
    assert got["GET /cart"].kind == SpanMessage.SPAN_KIND_SERVER
    assert got["load"].kind == SpanMessage.SPAN_KIND_INTERNAL
    assert attributes(got["GET /cart"].attributes) == {"http.route": "/cart"}
    assert attributes(got["load"].attributes) == {"rows": 3}
    assert call.metadata["user-agent"].startswith("c13-middleware/")
    assert otlp.spans_sent == 2 and otlp.retries == 0 and otlp.export_failures == 0


def test_headers_arrive_as_lower_case_metadata(
    receiver: GRPCReceiver, make_exporter: MakeExporter, spans: list[Span], caplog: pytest.LogCaptureFixture
) -> None:
    headers = {"X-Api-Key": "s3cret", "x-tenant": "blue", "User-Agent": "mine", "grpc-timeout": "1S", "te": "x"}
    otlp = make_exporter(headers=headers)
    assert otlp.export(spans) is ExportResult.SUCCESS
    metadata = receiver.received[0].metadata
    assert metadata["x-api-key"] == "s3cret" and metadata["x-tenant"] == "blue"
    assert "X-Api-Key" not in metadata and "grpc-timeout" not in metadata and "te" not in metadata
    assert metadata["user-agent"].startswith("c13-middleware/")  # gRPC's own headers are not overridden
    assert len(_messages(caplog, "cannot be sent as gRPC metadata")) == 3


def test_gzip_is_sent_as_grpc_compression(
    receiver: GRPCReceiver, make_exporter: MakeExporter, spans: list[Span]
) -> None:
    assert make_exporter(compression="gzip").export(spans) is ExportResult.SUCCESS
    assert _names(receiver.received[0]) == [s.name for s in spans]
    # A server that only accepts uncompressed messages tells which requests were gzip-compressed.
    identity_only = GRPCReceiver(options=[("grpc.compression_enabled_algorithms_bitset", 1)])
    try:
        plain = make_exporter(endpoint=identity_only.url)
        gzipped = make_exporter(endpoint=identity_only.url, compression="gzip")
        assert plain.export(spans) is ExportResult.SUCCESS
        assert gzipped.export(spans) is ExportResult.FAILURE  # UNIMPLEMENTED: gzip is disabled there
        assert len(identity_only.received) == 1 and gzipped.retries == 0
    finally:
        identity_only.close()


# Retries and drops


def test_unavailable_then_success(
    receiver: GRPCReceiver, make_exporter: MakeExporter, spans: list[Span], caplog: pytest.LogCaptureFixture
) -> None:
    receiver.reply(Answer(Code.UNAVAILABLE, "restarting"), Answer(Code.UNAVAILABLE, "restarting"))
    otlp = make_exporter()
    assert otlp.export(spans) is ExportResult.SUCCESS
    assert [_names(call) for call in receiver.received] == [[s.name for s in spans]] * 3
    assert otlp.retries == 2 and otlp.spans_sent == len(spans) and otlp.spans_dropped == 0
    (logged,) = _messages(caplog, "UNAVAILABLE")
    assert "restarting" in logged and "retrying" in logged


@pytest.mark.parametrize(
    ("retry_info", "delay", "google_rpc", "retried"),
    [
        (True, 1.0, True, True),  # RetryInfo: the server will recover, after retry_delay
        (True, None, True, True),  # RetryInfo without a delay: backoff
        (False, None, True, False),  # a quota used up for good
        (True, 0.01, False, False),  # without googleapis-common-protos, RetryInfo cannot be read
    ],
)
def test_resource_exhausted_is_retried_only_with_retry_info(
    receiver: GRPCReceiver,
    make_exporter: MakeExporter,
    spans: list[Span],
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
    retry_info: bool,
    delay: float | None,
    google_rpc: bool,
    retried: bool,
) -> None:
    if not google_rpc:
        for module in ("google.rpc.status_pb2", "google.rpc.error_details_pb2"):
            monkeypatch.setitem(sys.modules, module, None)
    receiver.reply(Answer(Code.RESOURCE_EXHAUSTED, "quota", retry_info=retry_info, retry_delay=delay))
    otlp = make_exporter(backoff=Backoff(initial=0.01, maximum=0.01))
    result = otlp.export(spans)
    time.sleep(0.05)
    if retried:
        assert result is ExportResult.SUCCESS and otlp.retries == 1
        first, second = receiver.received
        assert second.at - first.at >= 0.9 * (delay or 0)
    else:
        assert result is ExportResult.FAILURE and otlp.retries == 0 and len(receiver.received) == 1
        assert otlp.spans_dropped == len(spans) and otlp.export_failures == 1
        (logged,) = _messages(caplog, "RESOURCE_EXHAUSTED")
        assert "quota" in logged and "not retryable" in logged


# Configuration


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [n for n in os.environ if n.startswith("OTEL_EXPORTER_OTLP_")]:
        monkeypatch.delenv(name)


def test_env_selects_grpc_and_uses_the_endpoint_without_a_path(
    clean_env: None,
    monkeypatch: pytest.MonkeyPatch,
    receiver: GRPCReceiver,
    make_exporter: MakeExporter,
    spans: list[Span],
) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.url)
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_HEADERS", "Authorization=Bearer%20t0ken")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_COMPRESSION", "gzip")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TIMEOUT", "3000")
    otlp = make_exporter(protocol=None, endpoint=None, environ=None)  # nothing given: all from os.environ
    assert otlp.settings.protocol == "grpc"
    assert otlp.settings.endpoint == receiver.url  # no /v1/traces: gRPC names the method, not a path
    assert otlp.settings.timeout == 3.0 and otlp.settings.compression == "gzip"
    assert otlp.export(spans) is ExportResult.SUCCESS
    assert receiver.received[0].metadata["authorization"] == "Bearer t0ken"
    assert _names(receiver.received[0]) == [s.name for s in spans]


def test_traces_variables_win(clean_env: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "grpc")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://generic:4317")
    assert resolve_settings().protocol == "grpc" and resolve_settings().endpoint == "http://generic:4317"
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "https://traces:4317")
    assert resolve_settings().endpoint == "https://traces:4317"
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "http/protobuf")
    assert resolve_settings().endpoint == "https://traces:4317"  # TRACES_ENDPOINT is used as is over HTTP too
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
    assert resolve_settings().endpoint == "http://generic:4317/v1/traces"  # while HTTP appends the path


def test_default_grpc_endpoint_and_bad_values(caplog: pytest.LogCaptureFixture) -> None:
    assert resolve_settings(protocol="grpc", environ={}).endpoint == DEFAULT_GRPC_ENDPOINT == "http://localhost:4317"
    assert resolve_settings(environ={"OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"}).endpoint == DEFAULT_GRPC_ENDPOINT
    bad = {"OTEL_EXPORTER_OTLP_PROTOCOL": "grpc", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://:4317"}
    assert resolve_settings(environ=bad).endpoint == DEFAULT_GRPC_ENDPOINT
    assert "http://:4317" in caplog.text
    for endpoint in ("http://:4317", "https://collector:port", "collector 4317", ""):
        with pytest.raises(ValueError):
            resolve_settings(endpoint=endpoint, protocol="grpc", environ={})
    resolve_settings(endpoint="http://collector:4317/v1/traces", protocol="grpc", environ={})
    assert "has a path, which gRPC does not use" in caplog.text


@pytest.mark.parametrize(
    ("endpoint", "insecure", "expected"),
    [
        ("http://collector:4317", False, ("collector:4317", False)),
        ("http://collector:4317/", True, ("collector:4317", False)),
        ("https://collector:4317", True, ("collector:4317", True)),  # the scheme wins over insecure
        ("https://collector", False, ("collector:443", True)),
        ("http://[::1]:4317", False, ("[::1]:4317", False)),
        ("collector:4317", False, ("collector:4317", True)),  # no scheme: secure unless insecure
        ("collector:4317", True, ("collector:4317", False)),
        ("dns:///collector:4317", True, ("dns:///collector:4317", False)),
    ],
)
def test_grpc_target_and_security(endpoint: str, insecure: bool, expected: tuple[str, bool]) -> None:
    assert grpc_target(endpoint, insecure) == expected


@pytest.mark.parametrize(("value", "insecure"), [("true", True), ("TRUE", True), ("false", False), ("yes", False)])
def test_insecure_from_env(caplog: pytest.LogCaptureFixture, value: str, insecure: bool) -> None:
    settings = resolve_settings(environ={"OTEL_EXPORTER_OTLP_TRACES_INSECURE": value})
    assert settings.insecure is insecure
    assert (value in caplog.text) is (value == "yes")  # neither true nor false: logged
    assert resolve_settings(environ={"OTEL_EXPORTER_OTLP_INSECURE": value}, insecure=False).insecure is False


def test_scheme_less_endpoint_is_secure_unless_insecure(
    receiver: GRPCReceiver, make_exporter: MakeExporter, spans: list[Span]
) -> None:
    target = f"127.0.0.1:{receiver.port}"
    tls_to_a_plain_server = make_exporter(endpoint=target, max_retry_time=0)
    assert tls_to_a_plain_server.export(spans) is ExportResult.FAILURE
    assert make_exporter(endpoint=target, insecure=True).export(spans) is ExportResult.SUCCESS
    env = {"OTEL_EXPORTER_OTLP_ENDPOINT": target, "OTEL_EXPORTER_OTLP_INSECURE": "true"}
    assert make_exporter(endpoint=None, environ=env).export(spans) is ExportResult.SUCCESS
    assert len(receiver.received) == 2


def test_ssl_context_is_for_http_only() -> None:
    with pytest.raises(ValueError, match="certificate files"):
        OTLPExporter(protocol="grpc", environ={}, ssl_context=ssl.create_default_context())


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command to make a certificate")
def test_tls_with_certificate_files(tmp_path: Path, make_exporter: MakeExporter, spans: list[Span]) -> None:
    cert, key = make_certificate(tmp_path)
    credentials = grpc.ssl_server_credentials(
        [(key.read_bytes(), cert.read_bytes())], root_certificates=cert.read_bytes(), require_client_auth=True
    )
    secure = GRPCReceiver(credentials)
    url = f"https://127.0.0.1:{secure.port}"
    files = {"certificate_file": str(cert), "client_certificate_file": str(cert), "client_key_file": str(key)}
    env = {
        "OTEL_EXPORTER_OTLP_ENDPOINT": url,
        "OTEL_EXPORTER_OTLP_CERTIFICATE": str(cert),
        "OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE": str(cert),
        "OTEL_EXPORTER_OTLP_CLIENT_KEY": str(key),
    }
    try:
        assert make_exporter(endpoint=url, **files).export(spans) is ExportResult.SUCCESS
        assert make_exporter(endpoint=None, environ=env).export(spans) is ExportResult.SUCCESS
        assert len(secure.received) == 2 and _names(secure.received[0]) == [s.name for s in spans]
        no_client_certificate = make_exporter(endpoint=url, certificate_file=str(cert), max_retry_time=0)
        assert no_client_certificate.export(spans) is ExportResult.FAILURE
        untrusted = make_exporter(
            endpoint=url, client_certificate_file=str(cert), client_key_file=str(key), max_retry_time=0
        )
        assert untrusted.export(spans) is ExportResult.FAILURE  # self-signed: not in gRPC's roots
        plain = make_exporter(endpoint=f"http://127.0.0.1:{secure.port}", max_retry_time=0)
        assert plain.export(spans) is ExportResult.FAILURE
        assert len(secure.received) == 2
    finally:
        secure.close()


# grpcio is optional


def test_missing_grpcio_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delattr(otlp_package, "grpc_transport", raising=False)
    monkeypatch.delitem(sys.modules, "c13_middleware.export.otlp.grpc_transport", raising=False)
    monkeypatch.setitem(sys.modules, "grpc", None)  # as if grpcio were not installed
    with pytest.raises(ImportError, match=r"grpcio.*pip install 'c13-middleware\[grpc,otlp\]'"):
        OTLPExporter(protocol="grpc", environ={})
    with pytest.raises(ImportError, match=r"c13-middleware\[grpc,otlp\]"):
        OTLPExporter(environ={"OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"})
    OTLPExporter(environ={}).shutdown()  # HTTP needs no grpcio


def test_grpc_is_imported_only_for_the_grpc_protocol() -> None:
    code = (
        "import sys; from c13_middleware import OTLPExporter; "
        "OTLPExporter(environ={}).shutdown(); OTLPExporter(protocol='http/json', environ={}).shutdown(); "
        "assert 'grpc' not in sys.modules, 'grpc imported'; "
        "OTLPExporter(protocol='grpc', environ={}).shutdown(); assert 'grpc' in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def _status_details(*details: Any) -> bytes:
    status = Status(code=Code.RESOURCE_EXHAUSTED.value[0], message="quota")
    for detail in details:
        status.details.add().Pack(detail)
    return bytes(status.SerializeToString())


def test_only_a_readable_retry_info_in_the_status_details_counts() -> None:
    messages = load_status_messages()
    assert messages is not None
    delayed = RetryInfo()
    delayed.retry_delay.FromTimedelta(timedelta(seconds=2))
    other = DebugInfo(detail="stack")
    # Another detail, an unreadable trailer, a text value under the key: no RetryInfo.
    assert read_retry_info([(STATUS_DETAILS_KEY, _status_details(other))], messages) == (False, None)
    assert read_retry_info([(STATUS_DETAILS_KEY, b"\xff\x00not a status")], messages) == (False, None)
    assert read_retry_info([(STATUS_DETAILS_KEY, "text")], messages) == (False, None)
    # The RetryInfo after another detail, behind other trailers, is found.
    trailers = [("x-other", b"1"), (STATUS_DETAILS_KEY, "text"), (STATUS_DETAILS_KEY, _status_details(other, delayed))]
    assert read_retry_info(trailers, messages) == (True, 2.0)
