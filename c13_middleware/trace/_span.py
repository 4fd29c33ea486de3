"""Spans: the unit of work a trace is made of (OpenTelemetry's data model, with OTLP's enum numbers)."""

from __future__ import annotations

import enum
import time
import traceback
from collections.abc import Mapping, Sequence
from contextvars import ContextVar
from typing import TYPE_CHECKING, NamedTuple, Protocol

from ..propagation._span_context import SpanContext
from ._limits import SpanLimits
from ._safety import log_once
from ._semconv import exception_type_name

if TYPE_CHECKING:
    from ._resource import Resource

# Set by a profiled request: every span ending in its context is appended (its main child spans and slow outgoing
# calls go into the profile and the Server-Timing header). It lives with the span, which fills it, so that the
# context module can depend on spans and not the other way round; ``trace._context`` re-exports it.
SPAN_END_COLLECTOR: ContextVar[list[Span] | None] = ContextVar("c13_span_end_collector", default=None)

Primitive = str | bool | int | float
AttributeValue = Primitive | Sequence[str] | Sequence[bool] | Sequence[int] | Sequence[float]
Attributes = Mapping[str, AttributeValue]

_time_ns = time.time_ns
_perf_ns = time.perf_counter_ns


class SpanKind(enum.IntEnum):
    INTERNAL = 1
    SERVER = 2
    CLIENT = 3
    PRODUCER = 4
    CONSUMER = 5


class StatusCode(enum.IntEnum):
    UNSET = 0
    OK = 1
    ERROR = 2


class SpanStatus(NamedTuple):
    code: StatusCode = StatusCode.UNSET
    description: str = ""

    @classmethod
    def error(cls, description: str = "") -> SpanStatus:
        return cls(StatusCode.ERROR, description)

    @property
    def is_error(self) -> bool:
        return self.code is StatusCode.ERROR


STATUS_UNSET = SpanStatus()
STATUS_OK = SpanStatus(StatusCode.OK)


class Event(NamedTuple):
    name: str
    timestamp: int
    attributes: Mapping[str, AttributeValue]
    dropped_attributes_count: int = 0


class Link(NamedTuple):
    context: SpanContext
    attributes: Mapping[str, AttributeValue] = {}
    dropped_attributes_count: int = 0


_PRIMITIVE_TYPES = (str, bool, int, float)


def clean_value(value: object, max_length: int | None) -> AttributeValue | None:
    """The value as stored, or None when it is not a valid attribute value."""
    kind = type(value)
    if kind is str:
        text: str = value  # type: ignore[assignment]
        return text if max_length is None or len(text) <= max_length else text[:max_length]
    if kind is int or kind is float or kind is bool:
        return value  # type: ignore[return-value]
    if isinstance(value, (list, tuple)):
        if not value:
            return ()
        first = type(value[0])
        if first not in _PRIMITIVE_TYPES or any(type(item) is not first for item in value):
            return None
        if first is str and max_length is not None:
            return tuple(item if len(item) <= max_length else item[:max_length] for item in value)
        return tuple(value)
    for base in (bool, int, float, str):  # subclasses such as str and int enums are stored as their base value
        if isinstance(value, base):
            return clean_value(base(value), max_length)
    return None


def clean_attributes(
    attributes: Mapping[str, object] | None, limits: SpanLimits
) -> tuple[dict[str, AttributeValue], int]:
    """Apply the limits to a whole mapping: (kept, dropped count). This runs per span: the common case (few
    scalar values, short strings) is one C-level copy and a type check per value."""
    if not attributes:
        return {}, 0
    max_length = limits.max_attribute_length
    if len(attributes) <= limits.max_attributes:
        for key, value in attributes.items():
            kind = type(value)
            if type(key) is not str or not key:
                break
            if kind is str:
                if max_length is not None and len(value) > max_length:  # type: ignore[arg-type]
                    break
            elif kind is not int and kind is not float and kind is not bool:
                break
        else:
            return dict(attributes), 0  # type: ignore[arg-type]
    kept: dict[str, AttributeValue] = {}
    max_count = limits.max_attributes
    dropped = 0
    for key, value in attributes.items():
        kind = type(value)
        if kind is str:
            if max_length is not None and len(value) > max_length:  # type: ignore[arg-type]
                value = value[:max_length]  # type: ignore[index]
        elif kind is not int and kind is not float and kind is not bool:
            value = clean_value(value, max_length)
            if value is None:
                _invalid_attribute(key, attributes[key])
                continue
        if type(key) is not str or not key:
            _invalid_attribute(key, value)
            continue
        if len(kept) >= max_count and key not in kept:
            dropped += 1
            continue
        kept[key] = value  # type: ignore[assignment]
    return kept, dropped


def _invalid_attribute(key: object, value: object) -> None:
    log_once(
        f"attribute-type:{type(value).__name__}",
        "c13_middleware: attribute %r dropped: %s is not str/bool/int/float or a homogeneous sequence of them",
        key,
        type(value).__name__,
    )


class InstrumentationScope(NamedTuple):
    """What emitted a span (OTLP's ``InstrumentationScope``) and the schema URL its spans follow. Hashable: the
    OTLP encoders group spans by it; ``attributes`` are ``(key, value)`` pairs."""

    name: str
    version: str = ""
    schema_url: str = ""
    attributes: tuple[tuple[str, AttributeValue], ...] = ()


class SpanOwner(Protocol):
    """What a span needs from whoever started it: a ``Tracer`` satisfies it (the span never imports the tracer)."""

    @property
    def resource(self) -> Resource: ...

    @property
    def scope(self) -> InstrumentationScope | str:
        """The instrumentation scope (a bare name is a scope with that name)."""
        ...

    @property
    def limits(self) -> SpanLimits: ...

    def on_end(self, span: Span) -> None:
        """Called once when a recording span ends."""


class Span:
    """A span being recorded. After ``end()`` it is read-only: writes are ignored, ending again is a no-op.

    Spans are made by ``Tracer.start_span``; the constructor takes attributes already checked against the limits.
    """

    __slots__ = (
        "name",
        "kind",
        "context",
        "parent",
        "start_time",
        "end_time",
        "attributes",
        "events",
        "links",
        "status",
        "dropped_attributes_count",
        "dropped_events_count",
        "dropped_links_count",
        "_start_perf",
        "_tracer",
        "_recording",
    )

    def __init__(
        self,
        name: str,
        context: SpanContext,
        kind: SpanKind,
        parent: SpanContext | None,
        tracer: SpanOwner,
        attributes: dict[str, AttributeValue],
        links: Sequence[Link] = (),
        recording: bool = True,
        start_time: int | None = None,
    ) -> None:
        self.name = name
        self.kind = kind
        self.context = context
        self.parent = parent
        self._tracer = tracer
        self._recording = recording
        self.attributes = attributes
        self._start_perf = _perf_ns()
        if start_time is None:
            self.start_time = _time_ns()
        else:  # a span started in the past: its duration runs from start_time, still on the monotonic clock
            self.start_time = start_time
            self._start_perf -= _time_ns() - start_time
        self.end_time: int | None = None
        self.status = STATUS_UNSET
        # Most spans never get an event or link: share one empty tuple until the first one arrives.
        self.events: Sequence[Event] = _EMPTY
        self.links: Sequence[Link] = links
        self.dropped_attributes_count = 0
        self.dropped_events_count = 0
        self.dropped_links_count = 0

    def __repr__(self) -> str:
        return (
            f"<Span {self.name!r} {self.kind.name} trace={self.context.trace_id:032x} "
            f"span={self.context.span_id:016x} {'ended' if self.end_time is not None else 'open'}>"
        )

    @property
    def resource(self) -> Resource:
        return self._tracer.resource

    @property
    def scope(self) -> InstrumentationScope | str:
        """The instrumentation scope (a bare name is a scope with that name)."""
        return self._tracer.scope

    @property
    def limits(self) -> SpanLimits:
        return self._tracer.limits

    @property
    def tracer(self) -> SpanOwner:
        """What started this span and ends it: a ``Tracer`` unless the span was built by hand. Calls made inside
        the span reuse its pipeline: ``trace._tracer.tracer_of(span)`` gives it typed as a ``Tracer``."""
        return self._tracer

    def is_recording(self) -> bool:
        return self._recording and self.end_time is None

    @property
    def ended(self) -> bool:
        return self.end_time is not None

    @property
    def duration_ns(self) -> int | None:
        return None if self.end_time is None else self.end_time - self.start_time

    def set_attribute(self, key: str, value: AttributeValue) -> None:
        if not self._recording or self.end_time is not None:
            return
        limits = self._tracer.limits
        cleaned = clean_value(value, limits.max_attribute_length)
        if cleaned is None or type(key) is not str or not key:
            _invalid_attribute(key, value)
            return
        attributes = self.attributes
        if key not in attributes and len(attributes) >= limits.max_attributes:
            self.dropped_attributes_count += 1
            return
        attributes[key] = cleaned

    def set_attributes(self, attributes: Mapping[str, AttributeValue]) -> None:
        for key, value in attributes.items():
            self.set_attribute(key, value)

    def update_name(self, name: str) -> None:
        if self._recording and self.end_time is None:
            self.name = name

    def add_event(
        self, name: str, attributes: Mapping[str, object] | None = None, timestamp: int | None = None
    ) -> None:
        if not self._recording or self.end_time is not None:
            return
        limits = self._tracer.limits
        if len(self.events) >= limits.max_events:
            self.dropped_events_count += 1
            return
        kept, dropped = clean_attributes(attributes, limits)
        if self.events is _EMPTY:
            self.events = []
        self.events.append(Event(name, _time_ns() if timestamp is None else timestamp, kept, dropped))  # type: ignore[attr-defined]

    def record_exception(self, exception: BaseException, attributes: Mapping[str, object] | None = None) -> None:
        """Add an ``exception`` event with type, message and stack trace (OpenTelemetry semantic conventions)."""
        if not self._recording or self.end_time is not None:
            return
        event: dict[str, object] = {
            "exception.type": exception_type_name(exception),
            "exception.message": str(exception),
            "exception.stacktrace": "".join(
                traceback.format_exception(type(exception), exception, exception.__traceback__)
            ),
        }
        if attributes:
            event.update(attributes)
        self.add_event("exception", event)

    def set_status(self, status: SpanStatus | StatusCode, description: str = "") -> None:
        """OK is final; UNSET never overwrites; a description is kept only with ERROR."""
        if not self._recording or self.end_time is not None:
            return
        if isinstance(status, StatusCode):
            status = SpanStatus(status, description)
        if status.code is StatusCode.UNSET or self.status.code is StatusCode.OK:
            return
        if status.code is StatusCode.OK and status.description:
            status = STATUS_OK
        self.status = status

    def set_error(self, exception: BaseException | None = None, error_type: str | None = None) -> None:
        """Status ERROR plus ``error.type`` (the exception's qualified class name unless given)."""
        if not self._recording or self.end_time is not None:
            return
        if error_type is None:
            error_type = exception_type_name(exception) if exception is not None else "_OTHER"
        self.set_status(SpanStatus(StatusCode.ERROR, str(exception) if exception is not None else ""))
        if "error.type" not in self.attributes:
            self.set_attribute("error.type", error_type)

    def end(self, end_time: int | None = None) -> None:
        if self.end_time is not None:
            return
        self.end_time = self.start_time + (_perf_ns() - self._start_perf) if end_time is None else end_time
        if self._recording:
            self._tracer.on_end(self)
        collector = SPAN_END_COLLECTOR.get()
        if collector is not None:
            collector.append(self)


_EMPTY: tuple[()] = ()


def finish_span(span: Span, what: str = "a span") -> float:
    """End ``span`` and return its duration in seconds: the one way instrumentation ends the spans it opened. A
    failure (a processor or exporter bug) is logged once per ``what`` and swallowed; the duration is then 0.0 when
    the span has no end time."""
    try:
        span.end()
    except Exception:
        log_once(f"span-end:{what}", "c13_middleware: ending %s failed", what, exc_info=True)
    end_time = span.end_time
    return 0.0 if end_time is None else (end_time - span.start_time) / 1e9
