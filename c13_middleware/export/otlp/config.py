"""The OTLP exporter's settings: from its options, else from OpenTelemetry's environment variables, read once.

For each setting the order is: the option, then ``OTEL_EXPORTER_OTLP_TRACES_*``, then ``OTEL_EXPORTER_OTLP_*``,
then the default. Over HTTP, ``OTEL_EXPORTER_OTLP_ENDPOINT`` is a base URL that gets ``v1/traces`` appended to its
path; ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`` and the ``endpoint`` option are used as they are. Over gRPC every
endpoint is used as it is (the method, not a path, says what is sent). A wrong option raises ``ValueError``; a
wrong environment value is logged once and the default used.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import unquote, urlsplit

from ...trace._safety import log_once

PROTOCOLS = ("http/protobuf", "http/json", "grpc")
COMPRESSIONS = ("gzip", "none")
DEFAULT_ENDPOINT = "http://localhost:4318/v1/traces"
DEFAULT_GRPC_ENDPOINT = "http://localhost:4317"
DEFAULT_TIMEOUT = 10.0  # seconds (OTEL_EXPORTER_OTLP_TIMEOUT is in milliseconds, default 10000)
TRACES_PATH = "v1/traces"


# The userinfo of a URL (``http://user:pass@host``), up to the last ``@`` before the path: what must never be shown.
_USERINFO = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*://)?[^/?#]*@")


def redact_url(url: str) -> str:
    """``url`` with any ``user:password@`` replaced by ``REDACTED@``: the form logs and reprs show."""
    return _USERINFO.sub(lambda match: f"{match.group(1) or ''}REDACTED@", url, count=1)


@dataclass(frozen=True)
class Settings:
    endpoint: str = DEFAULT_ENDPOINT
    protocol: str = "http/protobuf"
    headers: Mapping[str, str] = field(default_factory=dict)
    timeout: float = DEFAULT_TIMEOUT
    compression: str = "none"
    certificate_file: str | None = None
    client_certificate_file: str | None = None
    client_key_file: str | None = None
    insecure: bool = False  # gRPC only, for an endpoint without http:// or https://

    def __repr__(self) -> str:
        # Credentials in the endpoint and header values (tokens) are secrets: never shown.
        headers = {key: "REDACTED" for key in self.headers}
        return (
            f"Settings(endpoint={redact_url(self.endpoint)!r}, protocol={self.protocol!r}, headers={headers!r}, "
            f"timeout={self.timeout!r}, compression={self.compression!r}, insecure={self.insecure!r})"
        )


def parse_headers(text: str) -> dict[str, str]:
    """``key1=value1,key2=value2``, keys and values percent-decoded and trimmed; malformed members skipped."""
    headers: dict[str, str] = {}
    for member in text.split(","):
        if not member.strip():
            continue
        key, sep, value = member.partition("=")
        key, value = unquote(key).strip(), unquote(value).strip()
        if not sep or not key or not _valid_header(key, value):
            log_once(
                "otlp-env-headers", "c13_middleware: ignoring malformed OTLP header entry %r", member.split("=")[0]
            )
            continue
        headers[key] = value
    return headers


def _valid_header(key: str, value: str) -> bool:
    """An HTTP token for a name; printable ASCII (and tabs) for a value, so that no line can be injected."""
    name_ok = key.isascii() and all(" " < c < "\x7f" and c not in '()<>@,;:\\"/[]?={}' for c in key)
    return name_ok and all(" " <= c < "\x7f" or c == "\t" for c in value)


def traces_url(base: str) -> str:
    """The traces URL under a base endpoint: ``http://host:4318`` and ``http://host:4318/`` → ``.../v1/traces``."""
    return base + TRACES_PATH if base.endswith("/") else f"{base}/{TRACES_PATH}"


def check_endpoint(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"OTLP endpoint must be an http:// or https:// URL with a host, got {redact_url(url)!r}")
    return url


def check_grpc_endpoint(target: str) -> str:
    """An ``http(s)://host:port`` URL, or any other gRPC target (``host:port``, ``dns:///host:port``, ...)."""
    parts = urlsplit(target)
    if parts.scheme in ("http", "https"):
        try:
            valid = bool(parts.hostname) and parts.port != 0
        except ValueError:  # a port that is not a number, or out of range
            valid = False
        if not valid:
            raise ValueError(f"OTLP/gRPC endpoint {redact_url(target)!r} has no host, or a bad port")
    elif not target or not target.isprintable() or any(c.isspace() for c in target):
        raise ValueError(f"OTLP/gRPC endpoint must be an http(s):// URL or a gRPC target, got {redact_url(target)!r}")
    return target


def grpc_target(endpoint: str, insecure: bool) -> tuple[str, bool]:
    """The channel target and whether the channel is secure.

    The scheme of an ``http://`` or ``https://`` URL decides, whatever ``insecure`` says; its path is not used and
    a missing port is the scheme's (80 or 443). Any other endpoint is a gRPC target, used as given, and secure
    unless ``insecure``.
    """
    parts = urlsplit(endpoint)
    if parts.scheme not in ("http", "https"):
        return endpoint, not insecure
    secure = parts.scheme == "https"
    host = parts.netloc.rpartition("@")[2]
    return (host if parts.port else f"{host}:{443 if secure else 80}"), secure


def _env(environ: Mapping[str, str], name: str) -> str | None:
    """``OTEL_EXPORTER_OTLP_TRACES_<name>``, else ``OTEL_EXPORTER_OTLP_<name>``, else None (empty counts as unset)."""
    for variable in (f"OTEL_EXPORTER_OTLP_TRACES_{name}", f"OTEL_EXPORTER_OTLP_{name}"):
        value = environ.get(variable, "").strip()
        if value:
            return value
    return None


def resolve_settings(
    endpoint: str | None = None,
    protocol: str | None = None,
    headers: Mapping[str, str] | None = None,
    timeout: float | None = None,
    compression: str | None = None,
    environ: Mapping[str, str] | None = None,
    *,
    insecure: bool | None = None,
    certificate_file: str | None = None,
    client_certificate_file: str | None = None,
    client_key_file: str | None = None,
) -> Settings:
    """The settings, the environment read once here (``environ`` defaults to ``os.environ``)."""
    env = os.environ if environ is None else environ

    if protocol is None:
        protocol = _env(env, "PROTOCOL") or "http/protobuf"
        if protocol not in PROTOCOLS:
            log_once("otlp-env-protocol", "c13_middleware: OTLP protocol %r is not supported (only %s); using "
                     "http/protobuf", protocol, ", ".join(PROTOCOLS))  # fmt: skip
            protocol = "http/protobuf"
    elif protocol not in PROTOCOLS:
        raise ValueError(f"OTLP protocol must be one of {PROTOCOLS}, got {protocol!r}")

    endpoint = _resolve_endpoint(endpoint, protocol == "grpc", env)

    if headers is None:
        headers = parse_headers(_env(env, "HEADERS") or "")
    else:
        headers = dict(headers)
        for key, value in headers.items():
            if not isinstance(key, str) or not isinstance(value, str) or not _valid_header(key, value):
                raise ValueError(f"invalid OTLP header {key!r}")

    if timeout is None:
        raw = _env(env, "TIMEOUT")
        timeout = DEFAULT_TIMEOUT
        if raw is not None:
            try:
                timeout = float(raw) / 1000
                if not timeout > 0:
                    raise ValueError(raw)
            except ValueError:
                log_once("otlp-env-timeout", "c13_middleware: OTLP timeout %r is not a positive number of "
                         "milliseconds; using %d", raw, DEFAULT_TIMEOUT * 1000)  # fmt: skip
                timeout = DEFAULT_TIMEOUT
    elif not timeout > 0:
        raise ValueError(f"OTLP timeout must be a positive number of seconds, got {timeout!r}")

    if compression is None:
        compression = (_env(env, "COMPRESSION") or "none").lower()
        if compression not in COMPRESSIONS:
            log_once("otlp-env-compression", "c13_middleware: OTLP compression %r is not supported (gzip or none); "
                     "using none", compression)  # fmt: skip
            compression = "none"
    elif compression not in COMPRESSIONS:
        raise ValueError(f"OTLP compression must be 'gzip' or 'none', got {compression!r}")

    if insecure is None:
        flag = (_env(env, "INSECURE") or "false").lower()
        insecure = flag == "true"  # the specification's booleans: only "true" is true
        if flag not in ("true", "false"):
            log_once("otlp-env-insecure", "c13_middleware: OTLP insecure %r is not true or false; using false", flag)

    return Settings(
        endpoint=endpoint,
        protocol=protocol,
        headers=headers,
        timeout=float(timeout),
        compression=compression,
        certificate_file=certificate_file or _env(env, "CERTIFICATE"),
        client_certificate_file=client_certificate_file or _env(env, "CLIENT_CERTIFICATE"),
        client_key_file=client_key_file or _env(env, "CLIENT_KEY"),
        insecure=bool(insecure),
    )


def _resolve_endpoint(endpoint: str | None, grpc: bool, env: Mapping[str, str]) -> str:
    check, default = (check_grpc_endpoint, DEFAULT_GRPC_ENDPOINT) if grpc else (check_endpoint, DEFAULT_ENDPOINT)
    if endpoint is None:
        traces_endpoint = env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "").strip()
        base_endpoint = env.get("OTEL_EXPORTER_OTLP_ENDPOINT", "").strip()
        if base_endpoint and not grpc:
            base_endpoint = traces_url(base_endpoint)
        try:
            return check(traces_endpoint or base_endpoint or default)
        except ValueError as exc:
            log_once("otlp-env-endpoint", "c13_middleware: %s; using %s", exc, default)
            return default
    endpoint = check(endpoint)
    path = urlsplit(endpoint).path if endpoint.startswith(("http://", "https://")) else ""
    if grpc and path not in ("", "/"):
        log_once("otlp-grpc-endpoint-path", "c13_middleware: OTLP/gRPC endpoint %s has a path, which gRPC does not "
                 "use; traces go to its host and port", redact_url(endpoint))  # fmt: skip
    elif not grpc and path in ("", "/"):
        log_once("otlp-endpoint-path", "c13_middleware: OTLP endpoint %s has no path; collectors take traces on "
                 "/v1/traces (the endpoint option is used as given)", redact_url(endpoint))  # fmt: skip
    return endpoint
