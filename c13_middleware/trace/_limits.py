"""Bounds on what one span may hold, so a hostile input cannot grow memory without limit."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class SpanLimits:
    max_attributes: int = 128
    # OpenTelemetry leaves value length unbounded by default; request data (user agents, queries) is attacker-chosen,
    # so c13 caps it. OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT overrides.
    max_attribute_length: int | None = 4096
    max_events: int = 128
    max_links: int = 128

    def __post_init__(self) -> None:
        for name in ("max_attributes", "max_events", "max_links"):
            value = getattr(self, name)
            if type(value) is not int or value < 0:
                raise ValueError(f"SpanLimits.{name} must be a non-negative int, got {value!r}")
        length = self.max_attribute_length
        if length is not None and (type(length) is not int or length < 1):
            raise ValueError(f"SpanLimits.max_attribute_length must be a positive int or None, got {length!r}")
