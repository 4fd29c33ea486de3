"""One frozen, validated configuration object shared by the core, every adapter and every client.

Options come from keyword arguments; where OpenTelemetry defines an environment variable for the same thing it is
read (``_env``), once, when the process default is built. A wrong keyword option fails at start-up with a
``ConfigError`` naming the option; a wrong environment value is a warning naming the variable, and the default applies.
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
from ._env import (
    env_options,
    excluded_urls_from_env as excluded_urls_from_env,  # re-exported for the server core
    ignore_variable,
)
from ._env_export import exporter_from_env
from ._exporters import SpanExporter
from ._limits import SpanLimits
from ._observe import RequestObserver
from ._processors import SpanProcessor
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
    # Where the current baggage goes (docs/security.md, "Baggage"): None follows propagate_to when that is set, and
    # sends baggage nowhere when it is not; it never goes where the trace context does not.
    propagate_baggage_to: tuple[PathRule, ...] | None = None
    # Told about every traced request (metrics); see _observe.RequestObserver.
    observers: tuple[RequestObserver, ...] = ()
    # Per-request profiling: a header trigger needs this HMAC secret; sampled and slow-request capture need none.
    profile_secret: str | None = field(default=None, repr=False)
    profile_sample_rate: float = 0.0
    profile_slow_threshold_s: float | None = None
    profile_type: str = "cpu"
    # ``configure`` only: make c13 OpenTelemetry's tracer provider (None: when the API is importable and free).
    opentelemetry: bool | None = None

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
        """Defaults, then OpenTelemetry's environment variables, then ``options`` (which win). The exporter comes
        from ``OTEL_TRACES_EXPORTER`` or an OTLP endpoint variable unless ``exporter`` or ``processors`` is given
        (see ``_env_export``).

        An environment value that fails validation is skipped with a warning naming the variable; a variable whose
        option is given as a keyword is not read. A wrong keyword option raises ``ConfigError``."""
        env = os.environ if environ is None else environ
        config = cls()
        for found in env_options(env, options):
            if found.option in options:
                continue
            try:
                config = config.replace(**{found.option: found.value})
            except ConfigError as exc:
                raw = found.value if isinstance(found.value, str) else ""
                ignore_variable(found.variable, raw, str(exc).removeprefix("c13_middleware: "), found.default)
        # Code that builds its own pipeline (exporter= or processors=) owns it, as with the OpenTelemetry SDK.
        if not {"exporter", "processors"} & options.keys() and config.exporter is None and not config.disabled:
            exporter = exporter_from_env(env)  # OTEL_TRACES_EXPORTER, or an OTLP endpoint variable
            if exporter is not None:
                config = config.replace(exporter=exporter)
        return config.replace(**options)


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


# The names OpenTelemetry gives its samplers (OTEL_TRACES_SAMPLER), also accepted as the ``sampler`` option.
SAMPLER_NAMES = (
    "always_on",
    "always_off",
    "traceidratio",
    "parentbased_always_on",
    "parentbased_always_off",
    "parentbased_traceidratio",
)


def _sampler(value: object) -> Sampler:
    if isinstance(value, str):
        name = value.strip().lower()
        if name not in SAMPLER_NAMES:
            close = difflib.get_close_matches(name, SAMPLER_NAMES, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else f" ({', '.join(SAMPLER_NAMES)})"
            raise ValueError(f"expected a Sampler or a sampler name, got {value!r}{hint}")
        return sampler_from_env(name, None)
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
    "propagate_baggage_to": lambda v: None if v is None else _rules(v),
    "observers": lambda v: _observers(v),
    "profile_secret": lambda v: None if v is None else _secret(v),
    "profile_sample_rate": lambda v: _number(v, 0.0, 1.0),
    "profile_slow_threshold_s": lambda v: None if v is None else _number(v, 0.0, None),
    "profile_type": lambda v: _choice(v, ("cpu", "memory", "exact")),
    "opentelemetry": lambda v: None if v is None else _bool(v),
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
