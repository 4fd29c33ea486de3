"""The resource: attributes describing the process that produces the spans (``service.name`` and friends)."""

from __future__ import annotations

import os
import uuid
import weakref
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


# The semantic-conventions version the attribute names follow (stable HTTP names, messaging.operation.type and
# .name, which came in 1.26.0): sent as the resource's and the scope's schema_url.
SCHEMA_URL = "https://opentelemetry.io/schemas/1.26.0"
INSTANCE_ID = "service.instance.id"


class Resource:
    __slots__ = ("attributes", "_own_instance_id", "__weakref__")

    def __init__(self, attributes: Mapping[str, Any], *, own_instance_id: bool = False) -> None:
        """``own_instance_id``: ``service.instance.id`` is this process's own, and changes in a forked child."""
        self.attributes: Mapping[str, Any] = MappingProxyType(dict(attributes))
        self._own_instance_id = own_instance_id
        if own_instance_id:
            _OWN_ID_RESOURCES.add(self)

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
    """Precedence (OpenTelemetry's): explicit service name > resource attributes from options > environment.

    Without a ``service.instance.id`` from either, the process's own (a random UUID) is used, so that the workers
    of one service can be told apart.
    """
    attributes: dict[str, Any] = dict(env_attributes)
    attributes.update(extra)
    attributes.update(SDK_ATTRIBUTES)
    attributes["service.name"] = service_name
    if service_version is not None:
        attributes["service.version"] = service_version
    own = INSTANCE_ID not in attributes
    if own:
        attributes[INSTANCE_ID] = _instance_id
    return Resource(attributes, own_instance_id=own)


_instance_id = str(uuid.uuid4())
_OWN_ID_RESOURCES: weakref.WeakSet[Resource] = weakref.WeakSet()


def _new_instance_after_fork() -> None:
    # A forked worker is another instance: the resources built before the fork (a preloading server's master)
    # take the child's id. Encoders notice through the new attributes mapping.
    global _instance_id
    _instance_id = str(uuid.uuid4())
    for resource in list(_OWN_ID_RESOURCES):
        resource.attributes = MappingProxyType({**resource.attributes, INSTANCE_ID: _instance_id})


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_new_instance_after_fork)
