from __future__ import annotations

import re

import pytest

from c13_middleware import (
    AlwaysOffSampler,
    Config,
    ConfigError,
    InMemoryExporter,
    ParentBasedSampler,
    TraceIdRatioSampler,
    Tracer,
    configure,
    get_tracer,
)


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


def test_bad_environment_values_fail_clearly() -> None:
    with pytest.raises(ConfigError, match="OTEL_TRACES_SAMPLER"):
        Config.from_env({"OTEL_TRACES_SAMPLER": "nope"})
    with pytest.raises(ConfigError, match="not an integer"):
        Config.from_env({"OTEL_ATTRIBUTE_COUNT_LIMIT": "many"})


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


def test_bad_span_limits_from_environment() -> None:
    with pytest.raises(ConfigError, match="max_attributes"):
        Config.from_env({"OTEL_ATTRIBUTE_COUNT_LIMIT": "-3"})
