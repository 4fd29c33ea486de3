"""Where spans go from the environment alone: OTEL_TRACES_EXPORTER and the OTLP endpoint variables."""

from __future__ import annotations

import logging
import sys
from collections.abc import Sequence
from typing import Any

import pytest

from c13_middleware import ConsoleExporter, ExportResult, InMemoryExporter, OTLPExporter, Span, SpanExporter, Tracer
from c13_middleware.export.otlp.env import profile_listener_from_env, span_exporter_from_env
from c13_middleware.export.otlp.profile_exporter import OTLPProfileExporter
from c13_middleware.trace._config import Config
from c13_middleware.trace._env_export import FanOutExporter, exporter_from_env, exporter_names
from c13_middleware.trace._tracer import configure, get_tracer
from tests.export.otlp.otlp_receiver import Receiver


@pytest.mark.parametrize(
    ("env", "names"),
    [
        ({}, ()),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:9"}, ("otlp",)),
        ({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://127.0.0.1:9/v1/traces"}, ("otlp",)),
        ({"OTEL_TRACES_EXPORTER": "console"}, ("console",)),
        ({"OTEL_TRACES_EXPORTER": " OTLP , console,otlp"}, ("otlp", "console")),
        ({"OTEL_TRACES_EXPORTER": "none", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:9"}, ()),
        ({"OTEL_TRACES_EXPORTER": "console,none"}, ()),
    ],
)
def test_the_sdk_rules_choose_the_exporters(env: dict[str, str], names: tuple[str, ...]) -> None:
    assert exporter_names(env) == names


def test_an_endpoint_variable_alone_sends_spans_to_it() -> None:
    receiver = Receiver()
    try:
        config = Config.from_env({"OTEL_EXPORTER_OTLP_ENDPOINT": receiver.base_url, "OTEL_SERVICE_NAME": "env-svc"})
        assert isinstance(config.exporter, OTLPExporter)
        assert config.exporter.endpoint == receiver.url
        own = Tracer(config)
        own.start_span("from-env").end()
        own.force_flush()
        assert receiver.wait_for(1)
        request = receiver.received[0].proto()
        span = request.resource_spans[0].scope_spans[0].spans[0]
        assert span.name == "from-env"
        own.shutdown()
    finally:
        receiver.close()


def test_a_comma_list_fans_out_and_a_pipeline_in_code_wins() -> None:
    config = Config.from_env({"OTEL_TRACES_EXPORTER": "console,otlp", "OTEL_EXPORTER_OTLP_PROTOCOL": "http/json"})
    assert isinstance(config.exporter, FanOutExporter)
    kinds = [type(e) for e in config.exporter.exporters]
    assert kinds == [ConsoleExporter, OTLPExporter]
    given = ConsoleExporter()
    assert Config.from_env({"OTEL_TRACES_EXPORTER": "otlp"}, exporter=given).exporter is given
    own = Config.from_env({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:9"}, processors=[])
    assert own.exporter is None  # a pipeline built in code is not doubled by the environment's


def test_an_unknown_exporter_name_is_a_warning_not_an_error(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, "c13_middleware"):
        config = Config.from_env({"OTEL_TRACES_EXPORTER": "zipkin"})
    assert config.exporter is None
    assert "OTEL_TRACES_EXPORTER" in caplog.text and "zipkin" in caplog.text


def test_nothing_configured_says_once_where_spans_go_and_how_to_see_them(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("OTEL_TRACES_EXPORTER", "OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"):
        monkeypatch.delenv(name, raising=False)
    with caplog.at_level(logging.WARNING, "c13_middleware"):
        get_tracer()
        configure()
    notes = [r.getMessage() for r in caplog.records if "not exported" in r.getMessage()]
    assert len(notes) == 1
    assert "c13 view" in notes[0]


def test_the_otlp_factory_is_registered_by_the_composition_root() -> None:
    from c13_middleware.trace._export_hooks import env_exporter_factory

    factory: Any = env_exporter_factory("otlp")
    assert factory is not None
    exporter = factory({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:9/base/"})
    assert exporter.endpoint == "http://127.0.0.1:9/base/v1/traces"
    exporter.shutdown()


class _Recording(SpanExporter):
    def __init__(self, *, fails: bool = False, flushed: bool = True) -> None:
        self.fails = fails
        self.flushed = flushed
        self.exported: list[str] = []
        self.shut = False

    def export(self, spans: Sequence[Span]) -> ExportResult:
        if self.fails:
            raise ConnectionError("collector gone")
        self.exported += [span.name for span in spans]
        return ExportResult.SUCCESS

    def shutdown(self) -> None:
        self.shut = True
        if self.fails:
            raise ConnectionError("collector gone")

    def force_flush(self, timeout_millis: float = 30_000) -> bool:
        return self.flushed


def _finished_span(name: str) -> Span:
    exporter = InMemoryExporter()
    Tracer(exporter=exporter, export_mode="simple").start_span(name).end()
    (span,) = exporter.get_finished_spans()
    return span


def test_a_fan_out_keeps_exporting_to_the_others_when_one_fails(caplog: pytest.LogCaptureFixture) -> None:
    broken, healthy = _Recording(fails=True), _Recording()
    fan_out = FanOutExporter([broken, healthy])
    assert repr(fan_out).startswith("FanOutExporter([") and repr(fan_out).count("_Recording") == 2
    assert fan_out.export([_finished_span("checkout")]) is ExportResult.FAILURE  # one of them failed
    assert healthy.exported == ["checkout"]
    assert "_Recording.export raised" in caplog.text
    assert FanOutExporter([healthy]).export([_finished_span("pay")]) is ExportResult.SUCCESS
    fan_out.shutdown()
    assert broken.shut and healthy.shut  # the failing one did not stop the next from shutting down
    assert "exporter shutdown raised" in caplog.text
    assert fan_out.force_flush(100) is True
    assert FanOutExporter([healthy, _Recording(flushed=False)]).force_flush(100) is False


def test_an_exporter_that_cannot_be_built_is_left_out_of_the_list(caplog: pytest.LogCaptureFixture) -> None:
    env = {"OTEL_TRACES_EXPORTER": "otlp,console", "OTEL_EXPORTER_OTLP_CERTIFICATE": "/nonexistent/ca.pem"}
    with caplog.at_level(logging.WARNING, "c13_middleware"):
        exporter = exporter_from_env(env)
    assert isinstance(exporter, ConsoleExporter)  # the console one alone, not a fan-out over one
    assert "cannot build the 'otlp' span exporter" in caplog.text


def test_without_opentelemetry_proto_the_environment_gets_otlp_json(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setitem(sys.modules, "c13_middleware.export.otlp.encode_proto", None)  # as if the extra is missing
    with caplog.at_level(logging.WARNING, "c13_middleware"):
        exporter = span_exporter_from_env({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:9"})
    assert isinstance(exporter, OTLPExporter) and exporter.settings.protocol == "http/json"
    assert "sending spans as OTLP/HTTP JSON instead" in caplog.text
    exporter.shutdown()
    with pytest.raises(ImportError):  # a protocol chosen explicitly is not silently changed
        span_exporter_from_env({"OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf"})


def test_profiles_are_exported_from_the_environment_only_when_asked_and_possible(
    caplog: pytest.LogCaptureFixture,
) -> None:
    assert profile_listener_from_env({}) is None
    listener = profile_listener_from_env({"OTEL_EXPORTER_OTLP_PROFILES_ENDPOINT": "http://127.0.0.1:9/profiles"})
    assert listener is not None
    exporter = listener.__self__  # type: ignore[attr-defined]
    assert isinstance(exporter, OTLPProfileExporter) and exporter.endpoint == "http://127.0.0.1:9/profiles"
    exporter.shutdown(0.1)
    with caplog.at_level(logging.WARNING, "c13_middleware"):
        assert profile_listener_from_env({"OTEL_EXPORTER_OTLP_PROFILES_ENDPOINT": "ftp://x"}) is None
    assert "cannot export profiles over OTLP" in caplog.text and "in-process" in caplog.text
