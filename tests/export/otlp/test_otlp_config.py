"""Configuration from options and from OpenTelemetry's exporter environment variables."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from c13_middleware import ExportResult, InMemoryExporter, Tracer
from c13_middleware.export.otlp import OTLPExporter, resolve_settings
from c13_middleware.export.otlp.config import DEFAULT_ENDPOINT, parse_headers
from tests.export.otlp.otlp_receiver import Receiver

OTEL_VARS = [
    f"OTEL_EXPORTER_OTLP_{signal}{name}"
    for signal in ("", "TRACES_")
    for name in (
        "ENDPOINT",
        "HEADERS",
        "TIMEOUT",
        "COMPRESSION",
        "PROTOCOL",
        "CERTIFICATE",
        "CLIENT_KEY",
        "CLIENT_CERTIFICATE",
        "INSECURE",
    )
]


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in OTEL_VARS:
        monkeypatch.delenv(name, raising=False)


def test_defaults() -> None:
    settings = resolve_settings(environ={})
    assert settings.endpoint == DEFAULT_ENDPOINT == "http://localhost:4318/v1/traces"
    assert settings.protocol == "http/protobuf"
    assert settings.timeout == 10.0 and settings.compression == "none" and dict(settings.headers) == {}


@pytest.mark.parametrize(
    ("base", "expected"),
    [
        ("http://collector:4318", "http://collector:4318/v1/traces"),
        ("http://collector:4318/", "http://collector:4318/v1/traces"),
        ("https://gateway.example.com/otlp", "https://gateway.example.com/otlp/v1/traces"),
        ("https://gateway.example.com/otlp/", "https://gateway.example.com/otlp/v1/traces"),
    ],
)
def test_generic_endpoint_gets_the_traces_path(monkeypatch: pytest.MonkeyPatch, base: str, expected: str) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", base)
    assert resolve_settings().endpoint == expected


def test_traces_endpoint_is_used_as_is_and_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://generic:4318")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://traces:9999/custom/path")
    assert resolve_settings().endpoint == "http://traces:9999/custom/path"
    assert resolve_settings(endpoint="http://option:1/x").endpoint == "http://option:1/x"  # the option wins


def test_headers_are_percent_decoded_and_signal_specific_ones_win(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_HEADERS", "api-key=abc%3D%3D, x-scope = team%20a ,broken,=novalue")
    assert dict(resolve_settings().headers) == {"api-key": "abc==", "x-scope": "team a"}
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_HEADERS", "only=traces")
    assert dict(resolve_settings().headers) == {"only": "traces"}
    assert dict(resolve_settings(headers={"opt": "1"}).headers) == {"opt": "1"}


def test_header_values_cannot_inject_lines() -> None:
    assert parse_headers("a=1%0D%0AEvil: yes,b=2") == {"b": "2"}
    assert parse_headers("accent=%C3%A9,bad name=1,ok=tab%09ok") == {"ok": "tab\tok"}  # HTTP headers are ASCII
    with pytest.raises(ValueError):
        resolve_settings(headers={"a": "1\r\nEvil: yes"}, environ={})


def test_timeout_compression_protocol_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TIMEOUT", "2500")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_COMPRESSION", "GZIP")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "http/json")
    settings = resolve_settings()
    assert (settings.timeout, settings.compression, settings.protocol) == (2.5, "gzip", "http/json")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "500")
    assert resolve_settings().timeout == 0.5
    assert resolve_settings(timeout=3, compression="none", protocol="http/protobuf").timeout == 3


@pytest.mark.parametrize(
    ("name", "value", "field", "default"),
    [
        ("OTEL_EXPORTER_OTLP_TIMEOUT", "soon", "timeout", 10.0),
        ("OTEL_EXPORTER_OTLP_TIMEOUT", "-5", "timeout", 10.0),
        ("OTEL_EXPORTER_OTLP_COMPRESSION", "brotli", "compression", "none"),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/thrift", "protocol", "http/protobuf"),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", "collector:4318", "endpoint", DEFAULT_ENDPOINT),
    ],
)
def test_bad_env_values_fall_back_with_a_log(
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    name: str,
    value: str,
    field: str,
    default: object,
) -> None:
    monkeypatch.setenv(name, value)
    assert getattr(resolve_settings(), field) == default
    assert value.lower() in caplog.text.lower()


@pytest.mark.parametrize(
    "options",
    [
        {"endpoint": "collector:4318"},
        {"endpoint": "ftp://collector/v1/traces"},
        {"protocol": "http/thrift"},
        {"timeout": 0},
        {"compression": "zstd"},
    ],
)
def test_bad_options_raise(options: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        resolve_settings(environ={}, **options)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        OTLPExporter(environ={}, **options)  # type: ignore[arg-type]


def test_bad_max_retry_time_raises() -> None:
    with pytest.raises(ValueError):
        OTLPExporter(environ={}, max_retry_time=-1)


def test_environ_argument_is_used_instead_of_os_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://from-os-environ:4318")
    assert (
        resolve_settings(environ={"OTEL_EXPORTER_OTLP_ENDPOINT": "http://given:1"}).endpoint
        == "http://given:1/v1/traces"
    )


def test_endpoint_without_path_warns(caplog: pytest.LogCaptureFixture) -> None:
    assert resolve_settings(endpoint="http://collector:4318", environ={}).endpoint == "http://collector:4318"
    assert "no path" in caplog.text


def test_configured_from_env_end_to_end(
    monkeypatch: pytest.MonkeyPatch,
    receiver: Receiver,
    make_exporter: Callable[..., OTLPExporter],
    tracer: Tracer,
    exporter: InMemoryExporter,
) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.base_url)
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_HEADERS", "authorization=Bearer%20t0ken")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_COMPRESSION", "gzip")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TIMEOUT", "3000")
    otlp = make_exporter(protocol=None, endpoint=None, environ=None)  # nothing given: all from os.environ
    assert otlp.settings.timeout == 3.0
    tracer.start_span("from-env").end()
    assert otlp.export(exporter.get_finished_spans()) is ExportResult.SUCCESS
    request = receiver.received[0]
    assert request.path == "/v1/traces"
    assert request.headers["authorization"] == "Bearer t0ken"
    assert request.headers["content-encoding"] == "gzip"
    assert request.headers["content-type"] == "application/json"
    assert request.json()["resourceSpans"][0]["scopeSpans"][0]["spans"][0]["name"] == "from-env"
