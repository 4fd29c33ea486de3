"""OpenTelemetry's environment variables, read as the OpenTelemetry SDK reads them: an invalid value is a warning
naming the variable and the default used, never an error. (A wrong keyword option, by contrast, is a ``ConfigError``
at start-up: see ``_config.Config``.)"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterator, Mapping
from typing import Any, NamedTuple

from ._limits import SpanLimits
from ._resource import parse_resource_attributes
from ._safety import log_once
from ._sampling import sampler_from_env

# Variables whose value must never appear in a log line.
_SECRET_VARIABLES = frozenset({"C13_PROFILE_SECRET"})
_DEFAULT_SAMPLER = "parentbased_always_on"


class EnvOption(NamedTuple):
    """An option's value as read from ``variable``; ``default`` describes what applies if the value is refused."""

    option: str
    value: Any
    variable: str
    default: str = "the default"


def ignore_variable(variable: str, raw: str, reason: str, default: str) -> None:
    """Warn, once per variable and value, that ``variable`` is ignored and ``default`` applies."""
    shown = "(value hidden)" if variable in _SECRET_VARIABLES else repr(raw[:100])
    log_once(
        f"env:{variable}:{'' if variable in _SECRET_VARIABLES else raw}",
        "c13_middleware: ignoring environment variable %s=%s: %s; using %s",
        variable,
        shown,
        reason,
        default,
    )


def excluded_urls_from_env(env: Mapping[str, str], name: str) -> tuple[re.Pattern[str], ...] | None:
    """OpenTelemetry's ``OTEL_PYTHON_{name}_EXCLUDED_URLS`` (``name`` empty: ``OTEL_PYTHON_EXCLUDED_URLS``):
    comma-separated regexes searched in the request's full URL. None when the variable is unset, blank or invalid
    (then a warning says so and nothing is excluded)."""
    var = f"OTEL_PYTHON_{name}_EXCLUDED_URLS" if name else "OTEL_PYTHON_EXCLUDED_URLS"
    raw = env.get(var, "").strip()
    if not raw:
        return None
    try:
        return tuple(re.compile(part.strip()) for part in raw.split(",") if part.strip())
    except re.error as exc:
        ignore_variable(var, raw, f"not a list of valid regexes ({exc})", "no URL exclusion")
        return None


def _env_int(env: Mapping[str, str], names: tuple[str, ...], default: object) -> tuple[int, str] | None:
    for name in names:
        raw = env.get(name, "").strip()
        if not raw:
            continue
        digits = raw[1:] if raw[:1] in "+-" else raw
        if digits.isascii() and digits.isdigit():
            return int(raw), name
        ignore_variable(name, raw, "not an integer", f"the default {default!r}")
    return None


def _sampler(env: Mapping[str, str]) -> Iterator[EnvOption]:
    name = env.get("OTEL_TRACES_SAMPLER", "").strip()
    if not name:
        return
    arg = env.get("OTEL_TRACES_SAMPLER_ARG")
    try:
        yield EnvOption("sampler", sampler_from_env(name, arg), "OTEL_TRACES_SAMPLER")
        return
    except ValueError as exc:
        reason = str(exc)
    try:  # a valid name with a bad argument: the SDK keeps the sampler, at its default ratio
        sampler = sampler_from_env(name, None)
    except ValueError:
        ignore_variable("OTEL_TRACES_SAMPLER", name, reason, f"the default sampler {_DEFAULT_SAMPLER}")
        return
    ignore_variable("OTEL_TRACES_SAMPLER_ARG", arg or "", reason, "the default ratio 1.0")
    yield EnvOption("sampler", sampler, "OTEL_TRACES_SAMPLER")


def _span_limits(env: Mapping[str, str]) -> Iterator[EnvOption]:
    defaults = SpanLimits()
    limits: dict[str, int] = {}
    for key, names in (
        ("max_attributes", ("OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT", "OTEL_ATTRIBUTE_COUNT_LIMIT")),
        ("max_attribute_length", ("OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT", "OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT")),
        ("max_events", ("OTEL_SPAN_EVENT_COUNT_LIMIT",)),
        ("max_links", ("OTEL_SPAN_LINK_COUNT_LIMIT",)),
    ):
        found = _env_int(env, names, getattr(defaults, key))
        if found is None:
            continue
        value, var = found
        try:
            SpanLimits(**{key: value})
        except ValueError as exc:
            ignore_variable(var, str(value), str(exc), f"the default {getattr(defaults, key)!r}")
            continue
        limits[key] = value
    if limits:
        yield EnvOption("span_limits", SpanLimits(**limits), "OTEL_*_LIMIT")


def env_options(env: Mapping[str, str], given: Collection[str] = ()) -> Iterator[EnvOption]:
    """The options OpenTelemetry's (and c13's) environment variables set, in the order they apply. Variables for
    the ``given`` options (set as keywords, which win) are not read, so they cannot warn."""
    resource = parse_resource_attributes(env.get("OTEL_RESOURCE_ATTRIBUTES", ""))
    if resource:
        yield EnvOption("resource_attributes", resource, "OTEL_RESOURCE_ATTRIBUTES")
    name = env.get("OTEL_SERVICE_NAME", "").strip()
    if name:
        yield EnvOption("service_name", name, "OTEL_SERVICE_NAME")
    elif str(resource.get("service.name", "")).strip():
        yield EnvOption("service_name", str(resource["service.name"]).strip(), "OTEL_RESOURCE_ATTRIBUTES")
    if "service.version" in resource:
        yield EnvOption("service_version", resource["service.version"], "OTEL_RESOURCE_ATTRIBUTES")
    if "sampler" not in given:
        yield from _sampler(env)
    if env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        yield EnvOption("disabled", True, "OTEL_SDK_DISABLED")
    if "span_limits" not in given:
        yield from _span_limits(env)
    secret = env.get("C13_PROFILE_SECRET", "")
    if secret:
        yield EnvOption("profile_secret", secret, "C13_PROFILE_SECRET", "no header-triggered profiling")
    excluded = None if "exclude_urls" in given else excluded_urls_from_env(env, "")
    if excluded is not None:
        yield EnvOption("exclude_urls", excluded, "OTEL_PYTHON_EXCLUDED_URLS")
    for key, var in (
        ("capture_request_headers", "OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SERVER_REQUEST"),
        ("capture_response_headers", "OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SERVER_RESPONSE"),
        ("sanitize_fields", "OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SANITIZE_FIELDS"),
    ):
        raw = env.get(var, "").strip()
        if raw:
            yield EnvOption(key, raw, var, "no header capture" if key.startswith("capture") else "no sanitizing")
