"""Where spans go from the environment alone: OTEL_TRACES_EXPORTER and the OTLP endpoint variables."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from c13_middleware import ConsoleExporter, OTLPExporter, Tracer
from c13_middleware.trace._config import Config
from c13_middleware.trace._env_export import FanOutExporter, exporter_names
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
