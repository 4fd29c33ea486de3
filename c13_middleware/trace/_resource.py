"""The resource: attributes describing the process that produces the spans (``service.name`` and friends)."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any
from urllib.parse import unquote

from .._version import __version__
from ._safety import log_once

SDK_ATTRIBUTES: Mapping[str, str] = {
    "telemetry.sdk.name": "c13_middleware",
    "telemetry.sdk.language": "python",
    "telemetry.sdk.version": __version__,
}


class Resource:
    __slots__ = ("attributes",)

    def __init__(self, attributes: Mapping[str, Any]) -> None:
        self.attributes: Mapping[str, Any] = MappingProxyType(dict(attributes))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Resource) and dict(self.attributes) == dict(other.attributes)

    def __hash__(self) -> int:
        return hash(tuple(sorted(self.attributes.items())))

    def __repr__(self) -> str:
        return f"Resource({dict(self.attributes)!r})"

    @property
    def service_name(self) -> str:
        return str(self.attributes.get("service.name", ""))


def parse_resource_attributes(text: str) -> dict[str, str]:
    """OTEL_RESOURCE_ATTRIBUTES: ``key1=value1,key2=value2`` with percent-encoded values; bad members skipped."""
    result: dict[str, str] = {}
    for member in text.split(","):
        if not member.strip():
            continue
        key, sep, value = member.partition("=")
        key = key.strip()
        if not sep or not key:
            log_once(
                "resource-attributes", "c13_middleware: ignoring malformed OTEL_RESOURCE_ATTRIBUTES member %r", member
            )
            continue
        result[key] = unquote(value.strip())
    return result


def build_resource(
    service_name: str, service_version: str | None, extra: Mapping[str, Any], env_attributes: Mapping[str, str]
) -> Resource:
    """Precedence (OpenTelemetry's): explicit service name > resource attributes from options > environment."""
    attributes: dict[str, Any] = dict(env_attributes)
    attributes.update(extra)
    attributes.update(SDK_ATTRIBUTES)
    attributes["service.name"] = service_name
    if service_version is not None:
        attributes["service.version"] = service_version
    return Resource(attributes)
