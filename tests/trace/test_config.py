from __future__ import annotations

import logging
import re
from typing import Any

import pytest

from c13_middleware import (
    AlwaysOffSampler,
    AlwaysOnSampler,
    Config,
    ConfigError,
    InMemoryExporter,
    ParentBasedSampler,
    TraceIdRatioSampler,
    Tracer,
    configure,
    get_tracer,
)
from c13_middleware.trace._config import SAMPLER_NAMES
from c13_middleware.trace._sampling import Sampler, sampler_from_env


def test_defaults() -> None:
    config = Config()
    assert config.service_name == "unknown_service:python"
    assert isinstance(config.sampler, ParentBasedSampler)
    assert config.exporter is None and config.export_mode == "batch"
    assert config.trust_incoming_context is True and config.server_timing_trace is False


def test_unknown_option_names_the_closest_one() -> None:
    with pytest.raises(ConfigError, match="unknown option 'servce_name'; did you mean 'service_name'"):
        Config().replace(servce_name="x")
    with pytest.raises(ConfigError, match="valid options"):
        Tracer(zzz=1)


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("service_name", "", "non-empty str"),
        ("service_name", 3, "non-empty str"),
        ("sampler", object(), "expected a Sampler"),
        ("exporter", "console", "expected a SpanExporter"),
        ("export_mode", "sometimes", "'batch' or 'simple'"),
        ("disabled", "yes", "True or False"),
        ("exclude_paths", [3], "compiled regex"),
        ("capture_request_headers", ["("], "not a valid pattern"),
        ("processors", [object()], "expected a SpanProcessor"),
        ("resource_attributes", ["a"], "expected a mapping"),
        ("propagator", object(), "extract"),
        ("profile_sample_rate", "half", "expected a number"),
        ("profile_sample_rate", True, "expected a number"),  # a bool is not a rate
        ("profile_sample_rate", 1.5, r"in \[0.0, 1.0\]"),
        ("profile_slow_threshold_s", -1, r"in \[0.0, inf\]"),
    ],
)
def test_wrong_values_fail_at_start_up(option: str, value: object, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        Config().replace(**{option: value})


def test_config_is_frozen() -> None:
    config = Config()
    with pytest.raises(AttributeError):
        config.service_name = "x"  # type: ignore[misc]


def test_environment_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    env = {
        "OTEL_SERVICE_NAME": "from-env",
        "OTEL_RESOURCE_ATTRIBUTES": "deployment.environment=prod,service.version=1.2,team=a%20b",
        "OTEL_TRACES_SAMPLER": "traceidratio",
        "OTEL_TRACES_SAMPLER_ARG": "0.5",
        "OTEL_ATTRIBUTE_COUNT_LIMIT": "7",
        "OTEL_PYTHON_EXCLUDED_URLS": "health,metrics$",
        "OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SERVER_REQUEST": "x-request-id,content-type",
    }
    config = Config.from_env(env)
    assert config.service_name == "from-env"
    assert config.service_version == "1.2"
    assert config.resource_attributes["team"] == "a b"
    assert isinstance(config.sampler, TraceIdRatioSampler) and config.sampler.ratio == 0.5
    assert config.span_limits.max_attributes == 7
    assert [p.pattern for p in config.exclude_urls] == ["health", "metrics$"]
    assert config.capture_request_headers == ("x-request-id", "content-type")
    # keyword options win over the environment
    assert Config.from_env(env, service_name="explicit").service_name == "explicit"


def test_service_name_falls_back_to_resource_attribute() -> None:
    config = Config.from_env({"OTEL_RESOURCE_ATTRIBUTES": "service.name=svc"})
    assert config.service_name == "svc"
    tracer = Tracer(config)
    assert tracer.resource.attributes["service.name"] == "svc"
    assert tracer.resource.attributes["telemetry.sdk.language"] == "python"
    assert tracer.resource.attributes["telemetry.sdk.name"] == "c13_middleware"


@pytest.mark.parametrize(
    ("env", "variable", "default", "check"),
    [
        (
            {"OTEL_TRACES_SAMPLER": "bogus"},
            "OTEL_TRACES_SAMPLER",
            "parentbased_always_on",
            lambda c: isinstance(c.sampler, ParentBasedSampler) and isinstance(c.sampler.root, AlwaysOnSampler),
        ),
        (
            {"OTEL_TRACES_SAMPLER": "traceidratio", "OTEL_TRACES_SAMPLER_ARG": "half"},
            "OTEL_TRACES_SAMPLER_ARG",
            "1.0",
            lambda c: isinstance(c.sampler, TraceIdRatioSampler) and c.sampler.ratio == 1.0,
        ),
        (
            {"OTEL_TRACES_SAMPLER": "traceidratio", "OTEL_TRACES_SAMPLER_ARG": "7"},
            "OTEL_TRACES_SAMPLER_ARG",
            "1.0",
            lambda c: isinstance(c.sampler, TraceIdRatioSampler) and c.sampler.ratio == 1.0,
        ),
        (
            {"OTEL_ATTRIBUTE_COUNT_LIMIT": "many"},
            "OTEL_ATTRIBUTE_COUNT_LIMIT",
            "128",
            lambda c: c.span_limits.max_attributes == 128,
        ),
        (
            {"OTEL_ATTRIBUTE_COUNT_LIMIT": "-3"},
            "OTEL_ATTRIBUTE_COUNT_LIMIT",
            "128",
            lambda c: c.span_limits.max_attributes == 128,
        ),
        (
            {"OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT": "\u00b2", "OTEL_SPAN_EVENT_COUNT_LIMIT": "5"},
            "OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT",
            "4096",
            lambda c: c.span_limits.max_attribute_length == 4096 and c.span_limits.max_events == 5,
        ),
        (
            {"OTEL_PYTHON_EXCLUDED_URLS": "ok,(unclosed"},
            "OTEL_PYTHON_EXCLUDED_URLS",
            "no URL exclusion",
            lambda c: c.exclude_urls == (),
        ),
        (
            {"OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SERVER_REQUEST": "x-id,("},
            "OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SERVER_REQUEST",
            "no header capture",
            lambda c: c.capture_request_headers == (),
        ),
        (
            {"C13_PROFILE_SECRET": "short-secret"},
            "C13_PROFILE_SECRET",
            "no header-triggered profiling",
            lambda c: c.profile_secret is None,
        ),
    ],
)
def test_an_invalid_environment_value_warns_and_the_default_applies(
    caplog: pytest.LogCaptureFixture, env: dict[str, str], variable: str, default: str, check: Any
) -> None:
    config = Config.from_env({**env, "OTEL_SERVICE_NAME": "still-read"})
    assert check(config)
    assert config.service_name == "still-read"  # the other variables still apply
    (record,) = [r for r in caplog.records if variable in r.getMessage()]
    assert record.levelno == logging.WARNING and default in record.getMessage()
    assert "short-secret" not in caplog.text  # a secret's value is never logged


def test_an_invalid_environment_never_breaks_start_up_or_requests(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    for name, value in (
        ("OTEL_TRACES_SAMPLER", "bogus"),
        ("OTEL_ATTRIBUTE_COUNT_LIMIT", "many"),
        ("OTEL_PYTHON_EXCLUDED_URLS", "("),
        ("OTEL_PYTHON_STARLETTE_EXCLUDED_URLS", "("),
    ):
        monkeypatch.setenv(name, value)
    exporter = InMemoryExporter()
    configure(exporter=exporter, export_mode="simple")
    with get_tracer().start_as_current_span("request"):
        pass
    assert len(exporter.get_finished_spans()) == 1
    assert "OTEL_TRACES_SAMPLER" in caplog.text and "OTEL_ATTRIBUTE_COUNT_LIMIT" in caplog.text


def test_an_invalid_option_names_the_option_not_the_variable() -> None:
    with pytest.raises(ConfigError) as info:
        configure(sampler="tracidratio")
    message = str(info.value)
    assert "option sampler" in message and "did you mean 'traceidratio'" in message
    assert "OTEL_" not in message
    with pytest.raises(ConfigError, match="option span_limits"):
        configure(span_limits=-3)


def test_a_variable_whose_option_is_given_is_not_read(caplog: pytest.LogCaptureFixture) -> None:
    config = Config.from_env({"OTEL_TRACES_SAMPLER": "bogus"}, sampler="always_off")
    assert isinstance(config.sampler, AlwaysOffSampler)
    assert "OTEL_TRACES_SAMPLER" not in caplog.text


def test_sampler_names_are_the_ones_opentelemetry_defines() -> None:
    for name in SAMPLER_NAMES:
        assert isinstance(Config().replace(sampler=name).sampler, Sampler)
        assert sampler_from_env(name, None) is not None


def test_sdk_disabled_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Config.from_env({"OTEL_SDK_DISABLED": "true"}).disabled is True
    assert Config.from_env({"OTEL_SDK_DISABLED": "false"}).disabled is False


def test_configure_sets_the_default_pipeline() -> None:
    exporter = InMemoryExporter()
    tracer = configure(service_name="svc", exporter=exporter, export_mode="simple", sampler=AlwaysOffSampler())
    assert get_tracer() is tracer
    assert tracer.config.service_name == "svc"
    assert isinstance(tracer.config.sampler, AlwaysOffSampler)


def test_sampler_given_by_name() -> None:
    assert isinstance(Config().replace(sampler="always_off").sampler, AlwaysOffSampler)


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("capture_request_headers", 5),
        ("exclude_paths", 5),
        ("processors", 5),
        ("observers", 5),
        ("exclude_urls", 5),
    ],
)
def test_non_iterables_are_refused(option: str, value: object) -> None:
    with pytest.raises(ConfigError, match=option):
        Config().replace(**{option: value})


def test_single_values_are_accepted_where_lists_are_expected() -> None:
    pattern = re.compile("^/internal")
    config = Config().replace(exclude_paths=pattern, capture_request_headers="a, b", propagate_to="api.example.com")
    assert config.exclude_paths == (pattern,)
    assert config.capture_request_headers == ("a", "b")
    assert config.propagate_to == ("api.example.com",)


def test_a_single_observer_is_a_list_of_one() -> None:
    class Observer:
        def request_started(self, request: object) -> None:
            pass

        def request_finished(self, request: object, duration_s: float) -> None:
            pass

    observer = Observer()
    assert Config().replace(observers=observer).observers == (observer,)
    with pytest.raises(ConfigError, match="has no request_started"):
        Config().replace(observers=[observer, object()])
