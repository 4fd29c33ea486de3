"""One frozen, validated configuration object shared by the core, every adapter and every client.

Options come from keyword arguments; where OpenTelemetry defines an environment variable for the same thing it is
read here, once, when the process default is built. A wrong option fails at start-up with a clear message.
"""

from __future__ import annotations

import dataclasses
import difflib
import os
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from ..propagation._propagators import DEFAULT_PROPAGATOR, Propagator
from ._exporters import SpanExporter
from ._limits import SpanLimits
from ._observe import RequestObserver
from ._processors import SpanProcessor
from ._resource import parse_resource_attributes
from ._sampling import AlwaysOnSampler, ParentBasedSampler, Sampler, sampler_from_env


class ConfigError(ValueError):
    """A c13 option is unknown or has a wrong value."""


# OpenTelemetry's default redaction list for URL query values, then common secret-bearing names: AWS SigV4 presign
# parameters, API keys, passwords, tokens and sessions, OAuth client secrets and authorization codes. Matched on the
# decoded, lower-cased name (docs/security.md). ``code`` is redacted always, not only next to ``state``: an
# authorization code is a bearer secret until exchanged, and a non-secret ``code`` loses only its value.
DEFAULT_SENSITIVE_QUERY_PARAMS = (
    "AWSAccessKeyId",
    "Signature",
    "sig",
    "X-Goog-Signature",
    "X-Amz-Signature",
    "X-Amz-Credential",
    "X-Amz-Security-Token",
    "access_token",
    "refresh_token",
    "id_token",
    "token",
    "jwt",
    "api_key",
    "api-key",
    "apikey",
    "password",
    "passwd",
    "secret",
    "client_secret",
    "session_id",
    "code",
)
# Never recorded as span attributes, whatever an allow-list says.
# The profiling token is a bearer credential: recording it would let anyone who reads traces profile requests.
FORBIDDEN_HEADERS = frozenset({"authorization", "cookie", "set-cookie", "proxy-authorization", "x-c13-profile-token"})

PathRule = str | re.Pattern[str]


def _default_service_name() -> str:
    return "unknown_service:python"


@dataclass(frozen=True)
class Config:
    service_name: str = field(default_factory=_default_service_name)
    service_version: str | None = None
    resource_attributes: Mapping[str, Any] = field(default_factory=dict)
    sampler: Sampler = field(default_factory=lambda: ParentBasedSampler(AlwaysOnSampler()))
    exporter: SpanExporter | None = None
    processors: tuple[SpanProcessor, ...] = ()
    export_mode: str = "batch"
    span_limits: SpanLimits = field(default_factory=SpanLimits)
    disabled: bool = False
    propagator: Propagator = DEFAULT_PROPAGATOR
    # Incoming requests.
    exclude_paths: tuple[PathRule, ...] = ()
    exclude_urls: tuple[re.Pattern[str], ...] = ()
    trust_incoming_context: bool = True
    capture_request_headers: tuple[str, ...] = ()
    capture_response_headers: tuple[str, ...] = ()
    sanitize_fields: tuple[str, ...] = ()
    sensitive_query_params: tuple[str, ...] = DEFAULT_SENSITIVE_QUERY_PARAMS
    server_timing_trace: bool = False
    # Outgoing calls: None sends context everywhere; otherwise only to matching hosts or URL patterns.
    propagate_to: tuple[PathRule, ...] | None = None
    # Told about every traced request (metrics); see _observe.RequestObserver.
    observers: tuple[RequestObserver, ...] = ()
    # Per-request profiling: a header trigger needs this HMAC secret; sampled and slow-request capture need none.
    profile_secret: str | None = field(default=None, repr=False)
    profile_sample_rate: float = 0.0
    profile_slow_threshold_s: float | None = None
    profile_type: str = "cpu"

    @property
    def profiling_enabled(self) -> bool:
        return bool(self.profile_secret) or self.profile_sample_rate > 0 or self.profile_slow_threshold_s is not None

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            check = _CHECKS.get(f.name)
            if check is not None:
                try:
                    object.__setattr__(self, f.name, check(getattr(self, f.name)))
                except (TypeError, ValueError) as exc:
                    raise ConfigError(f"c13_middleware: option {f.name}: {exc}") from None
        if self.export_mode not in ("batch", "simple"):
            raise ConfigError(
                f"c13_middleware: option export_mode must be 'batch' or 'simple', got {self.export_mode!r}"
            )

    @classmethod
    def option_names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in dataclasses.fields(cls))

    def replace(self, **options: Any) -> Config:
        """A copy with ``options`` applied; unknown names raise ConfigError naming the closest valid option."""
        names = self.option_names()
        for name in options:
            if name not in names:
                close = difflib.get_close_matches(name, names, n=1)
                hint = f"; did you mean {close[0]!r}?" if close else f"; valid options: {', '.join(names)}"
                raise ConfigError(f"c13_middleware: unknown option {name!r}{hint}")
        return dataclasses.replace(self, **options)

    @property
    def pipeline_key(self) -> tuple[object, ...]:
        """What decides which spans go where: configs with the same key share one tracer."""
        return (
            self.service_name,
            self.service_version,
            tuple(sorted(self.resource_attributes.items())),
            id(self.sampler),
            id(self.exporter),
            tuple(id(p) for p in self.processors),
            self.export_mode,
            self.span_limits,
            self.disabled,
        )

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **options: Any) -> Config:
        """Defaults, then OpenTelemetry's environment variables, then ``options`` (which win)."""
        env = os.environ if environ is None else environ
        return cls().replace(**_env_options(env)).replace(**options)


def _str(value: object) -> str:
    if not isinstance(value, str) or not value:
        raise TypeError(f"expected a non-empty str, got {value!r}")
    return value


def _opt_str(value: object) -> str | None:
    return None if value is None else _str(value)


def _bool(value: object) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"expected True or False, got {value!r}")
    return value


def _instance(kind: type, *, optional: bool = False) -> Callable[[object], Any]:
    def check(value: object) -> object:
        if value is None and optional:
            return None
        if not isinstance(value, kind):
            raise TypeError(f"expected a {kind.__name__}, got {type(value).__name__}")
        return value

    return check


def _sampler(value: object) -> Sampler:
    if isinstance(value, str):
        return sampler_from_env(value, None)
    return _instance(Sampler)(value)  # type: ignore[no-any-return]


def _propagator(value: object) -> Propagator:
    if not (callable(getattr(value, "extract", None)) and callable(getattr(value, "inject", None))):
        raise TypeError(f"expected a propagator with extract() and inject(), got {type(value).__name__}")
    return value  # type: ignore[return-value]


def _names(value: object) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [part for part in value.split(",")]
    if not isinstance(value, Iterable):
        raise TypeError(f"expected a list of names, got {value!r}")
    names = tuple(str(item).strip() for item in value)
    for name in names:
        try:
            re.compile(name)
        except re.error as exc:
            raise ValueError(f"{name!r} is not a valid pattern: {exc}") from None
    return tuple(name for name in names if name)


def _rules(value: object) -> tuple[PathRule, ...]:
    if isinstance(value, (str, re.Pattern)):
        value = [value]
    if not isinstance(value, Iterable):
        raise TypeError(f"expected a list of paths or compiled regexes, got {value!r}")
    rules = tuple(value)
    for rule in rules:
        if not isinstance(rule, (str, re.Pattern)):
            raise TypeError(f"expected a path (str) or a compiled regex, got {rule!r}")
    return rules


def _url_patterns(value: object) -> tuple[re.Pattern[str], ...]:
    if isinstance(value, (str, re.Pattern)):
        value = [value]
    if not isinstance(value, Iterable):
        raise TypeError(f"expected a list of regexes, got {value!r}")
    patterns = []
    for item in value:
        if isinstance(item, str):
            try:
                item = re.compile(item)
            except re.error as exc:
                raise ValueError(f"{item!r} is not a valid regex: {exc}") from None
        if not isinstance(item, re.Pattern):
            raise TypeError(f"expected a regex (str or compiled), got {item!r}")
        patterns.append(item)
    return tuple(patterns)


def excluded_urls_from_env(env: Mapping[str, str], name: str) -> tuple[re.Pattern[str], ...] | None:
    """OpenTelemetry's ``OTEL_PYTHON_{name}_EXCLUDED_URLS`` (``name`` empty: ``OTEL_PYTHON_EXCLUDED_URLS``):
    comma-separated regexes searched in the request's full URL. None when the variable is unset or blank."""
    var = f"OTEL_PYTHON_{name}_EXCLUDED_URLS" if name else "OTEL_PYTHON_EXCLUDED_URLS"
    raw = env.get(var, "").strip()
    if not raw:
        return None
    try:
        return _url_patterns([part.strip() for part in raw.split(",") if part.strip()])
    except ValueError as exc:
        raise ConfigError(f"c13_middleware: {var}: {exc}") from None


def _processors(value: object) -> tuple[SpanProcessor, ...]:
    if not isinstance(value, Iterable):
        raise TypeError("expected a list of SpanProcessor")
    return tuple(_instance(SpanProcessor)(p) for p in value)


def _mapping(value: object) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise TypeError(f"expected a mapping, got {type(value).__name__}")
    return MappingProxyType(dict(value))


_CHECKS: dict[str, Callable[[Any], Any]] = {
    "service_name": _str,
    "service_version": _opt_str,
    "resource_attributes": _mapping,
    "sampler": _sampler,
    "exporter": _instance(SpanExporter, optional=True),
    "processors": _processors,
    "export_mode": _str,
    "span_limits": _instance(SpanLimits),
    "disabled": _bool,
    "propagator": _propagator,
    "exclude_paths": _rules,
    "exclude_urls": _url_patterns,
    "trust_incoming_context": _bool,
    "capture_request_headers": _names,
    "capture_response_headers": _names,
    "sanitize_fields": _names,
    "sensitive_query_params": _names,
    "server_timing_trace": _bool,
    "propagate_to": lambda v: None if v is None else _rules(v),
    "observers": lambda v: _observers(v),
    "profile_secret": lambda v: None if v is None else _secret(v),
    "profile_sample_rate": lambda v: _number(v, 0.0, 1.0),
    "profile_slow_threshold_s": lambda v: None if v is None else _number(v, 0.0, None),
    "profile_type": lambda v: _choice(v, ("cpu", "memory", "exact")),
}


def _secret(value: object) -> str:
    if not isinstance(value, str) or len(value) < 16:
        raise ValueError("expected a str of at least 16 characters (an HMAC key)")
    return value


def _number(value: object, low: float, high: float | None) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"expected a number, got {value!r}")
    if value < low or (high is not None and value > high):
        raise ValueError(f"expected a number in [{low}, {high if high is not None else 'inf'}], got {value!r}")
    return float(value)


def _choice(value: object, choices: tuple[str, ...]) -> str:
    if not isinstance(value, str) or value.lower() not in choices:
        raise ValueError(f"expected one of {', '.join(choices)}, got {value!r}")
    return value.lower()


def _observers(value: object) -> tuple[RequestObserver, ...]:
    if isinstance(value, RequestObserver):
        value = [value]
    if not isinstance(value, Iterable):
        raise TypeError("expected a list of observers with request_started() and request_finished()")
    observers = tuple(value)
    for observer in observers:
        if not isinstance(observer, RequestObserver):
            raise TypeError(f"{observer!r} has no request_started()/request_finished()")
    return observers


def _env_int(env: Mapping[str, str], *names: str) -> int | None:
    for name in names:
        raw = env.get(name, "").strip()
        if raw:
            try:
                return int(raw)
            except ValueError:
                raise ConfigError(f"c13_middleware: {name}={raw!r} is not an integer") from None
    return None


def _env_options(env: Mapping[str, str]) -> dict[str, Any]:
    options: dict[str, Any] = {}
    resource = parse_resource_attributes(env.get("OTEL_RESOURCE_ATTRIBUTES", ""))
    if resource:
        options["resource_attributes"] = resource
    name = env.get("OTEL_SERVICE_NAME", "").strip() or str(resource.get("service.name", "")).strip()
    if name:
        options["service_name"] = name
    if "service.version" in resource:
        options["service_version"] = resource["service.version"]
    sampler = env.get("OTEL_TRACES_SAMPLER", "").strip()
    if sampler:
        try:
            options["sampler"] = sampler_from_env(sampler, env.get("OTEL_TRACES_SAMPLER_ARG"))
        except ValueError as exc:
            raise ConfigError(f"c13_middleware: {exc}") from None
    if env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        options["disabled"] = True
    limits: dict[str, Any] = {}
    for key, names in (
        ("max_attributes", ("OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT", "OTEL_ATTRIBUTE_COUNT_LIMIT")),
        ("max_attribute_length", ("OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT", "OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT")),
        ("max_events", ("OTEL_SPAN_EVENT_COUNT_LIMIT",)),
        ("max_links", ("OTEL_SPAN_LINK_COUNT_LIMIT",)),
    ):
        value = _env_int(env, *names)
        if value is not None:
            limits[key] = value
    if limits:
        try:
            options["span_limits"] = SpanLimits(**limits)
        except ValueError as exc:
            raise ConfigError(f"c13_middleware: {exc}") from None
    secret = env.get("C13_PROFILE_SECRET", "")
    if secret:
        options["profile_secret"] = secret
    excluded = excluded_urls_from_env(env, "")
    if excluded is not None:
        options["exclude_urls"] = excluded
    for key, var in (
        ("capture_request_headers", "OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SERVER_REQUEST"),
        ("capture_response_headers", "OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SERVER_RESPONSE"),
        ("sanitize_fields", "OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SANITIZE_FIELDS"),
    ):
        raw = env.get(var, "").strip()
        if raw:
            options[key] = raw
    return options
