"""The OTLP exporters the environment asks for, built for the composition root (which registers them with the
trace layer's and the profiler's hooks). Nothing heavy is imported until an exporter is built."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from ...trace._env_export import exporter_names
from ...trace._safety import log_once

if TYPE_CHECKING:
    from ...trace._exporters import SpanExporter
    from ...trace._resource import Resource
    from .encode_profiles import ReportLike

PROTOCOL_VARIABLES = ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL")


def span_exporter_from_env(env: Mapping[str, str]) -> SpanExporter:
    """``OTLPExporter`` from the environment. Without ``opentelemetry-proto`` and with no protocol chosen, it sends
    OTLP/HTTP JSON (standard library only) rather than nothing, and says so once."""
    from .exporter import OTLPExporter

    try:
        return OTLPExporter(environ=env)
    except ImportError as exc:
        if any(env.get(name, "").strip() for name in PROTOCOL_VARIABLES):
            raise
        log_once("otlp-env-json", "c13_middleware: %s; sending spans as OTLP/HTTP JSON instead", exc)
        return OTLPExporter(protocol="http/json", environ=env)


def profile_export_wanted(env: Mapping[str, str]) -> bool:
    """``OTEL_PROFILES_EXPORTER=otlp`` (or ``none``); unset, on when an OTLP endpoint variable is set (the generic,
    profiles or traces one) or ``OTEL_TRACES_EXPORTER`` names ``otlp``."""
    raw = env.get("OTEL_PROFILES_EXPORTER", "").strip().lower()
    if raw:
        return "otlp" in {part.strip() for part in raw.split(",")}
    if env.get("OTEL_EXPORTER_OTLP_PROFILES_ENDPOINT", "").strip():
        return True
    return "otlp" in exporter_names(env)  # an endpoint variable alone turns OTLP on there too


def profile_listener_from_env(
    env: Mapping[str, str], resource: Resource | None = None
) -> Callable[[ReportLike], None] | None:
    """The report listener that exports profiles as OTLP Profiles, or None when the environment does not ask for it
    (or it cannot be built: logged once)."""
    if not profile_export_wanted(env):
        return None
    try:
        from .profile_exporter import OTLPProfileExporter

        exporter = OTLPProfileExporter(environ=env, resource=resource)
    except Exception as exc:
        log_once("otlp-profiles-env", "c13_middleware: cannot export profiles over OTLP (%s); they stay in-process "
                 "(get_profile)", exc)  # fmt: skip
        return None
    return exporter.export


__all__ = ["profile_export_wanted", "profile_listener_from_env", "span_exporter_from_env"]
