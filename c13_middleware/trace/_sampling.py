"""Samplers: decide at span start whether a span is dropped, recorded only, or recorded and exported."""

from __future__ import annotations

import enum
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, NamedTuple

from ..propagation._span_context import SpanContext
from ..propagation._tracestate import TraceState

if TYPE_CHECKING:
    from ._span import Link, SpanKind


class SamplingDecision(enum.Enum):
    DROP = 0
    RECORD_ONLY = 1
    RECORD_AND_SAMPLE = 2


class SamplingResult(NamedTuple):
    decision: SamplingDecision
    attributes: Mapping[str, object] | None = None
    trace_state: TraceState | None = None


_DROP = SamplingResult(SamplingDecision.DROP)
_SAMPLE = SamplingResult(SamplingDecision.RECORD_AND_SAMPLE)


class Sampler:
    """Base class. ``parent`` is the parent's SpanContext (None for a root span)."""

    description = "Sampler"

    def should_sample(
        self,
        parent: SpanContext | None,
        trace_id: int,
        name: str,
        kind: SpanKind,
        attributes: Mapping[str, object] | None = None,
        links: Sequence[Link] = (),
    ) -> SamplingResult:
        raise NotImplementedError

    def __repr__(self) -> str:
        return self.description


class AlwaysOnSampler(Sampler):
    description = "AlwaysOnSampler"

    def should_sample(
        self,
        parent: SpanContext | None,
        trace_id: int,
        name: str,
        kind: SpanKind,
        attributes: Mapping[str, object] | None = None,
        links: Sequence[Link] = (),
    ) -> SamplingResult:
        return _SAMPLE


class AlwaysOffSampler(Sampler):
    description = "AlwaysOffSampler"

    def should_sample(
        self,
        parent: SpanContext | None,
        trace_id: int,
        name: str,
        kind: SpanKind,
        attributes: Mapping[str, object] | None = None,
        links: Sequence[Link] = (),
    ) -> SamplingResult:
        return _DROP


_TRACE_ID_LIMIT = (1 << 64) - 1


class TraceIdRatioSampler(Sampler):
    """Samples a fraction of traces by the low 64 bits of the trace id: the same rule (and so the same
    decision for the same trace id) as OpenTelemetry's TraceIdRatioBased sampler."""

    def __init__(self, ratio: float) -> None:
        if isinstance(ratio, bool) or not isinstance(ratio, (int, float)) or not 0.0 <= ratio <= 1.0:
            raise ValueError(f"TraceIdRatioSampler ratio must be a number in [0, 1], got {ratio!r}")
        self.ratio = float(ratio)
        self.bound = round(self.ratio * (_TRACE_ID_LIMIT + 1))
        self.description = f"TraceIdRatioBased{{{self.ratio}}}"

    def should_sample(
        self,
        parent: SpanContext | None,
        trace_id: int,
        name: str,
        kind: SpanKind,
        attributes: Mapping[str, object] | None = None,
        links: Sequence[Link] = (),
    ) -> SamplingResult:
        return _SAMPLE if trace_id & _TRACE_ID_LIMIT < self.bound else _DROP


class ParentBasedSampler(Sampler):
    """Follows the parent's sampled flag; ``root`` decides for spans without a parent."""

    def __init__(
        self,
        root: Sampler,
        *,
        remote_parent_sampled: Sampler | None = None,
        remote_parent_not_sampled: Sampler | None = None,
        local_parent_sampled: Sampler | None = None,
        local_parent_not_sampled: Sampler | None = None,
    ) -> None:
        self.root = root
        self.remote_parent_sampled = remote_parent_sampled or AlwaysOnSampler()
        self.remote_parent_not_sampled = remote_parent_not_sampled or AlwaysOffSampler()
        self.local_parent_sampled = local_parent_sampled or AlwaysOnSampler()
        self.local_parent_not_sampled = local_parent_not_sampled or AlwaysOffSampler()
        self.description = f"ParentBased{{root:{root.description}}}"

    def should_sample(
        self,
        parent: SpanContext | None,
        trace_id: int,
        name: str,
        kind: SpanKind,
        attributes: Mapping[str, object] | None = None,
        links: Sequence[Link] = (),
    ) -> SamplingResult:
        if parent is None or not parent.is_valid:
            sampler = self.root
        elif parent.is_remote:
            sampler = self.remote_parent_sampled if parent.sampled else self.remote_parent_not_sampled
        else:
            sampler = self.local_parent_sampled if parent.sampled else self.local_parent_not_sampled
        return sampler.should_sample(parent, trace_id, name, kind, attributes, links)


class RateLimitingSampler(Sampler):
    """At most ``per_second`` sampled traces per second (a token bucket holding one second's worth).

    Child spans of a sampled local parent are always sampled, so a trace is never cut in half;
    wrap it in ParentBasedSampler to also follow remote parents.
    """

    def __init__(self, per_second: float, *, clock: Callable[[], float] | None = None) -> None:
        if isinstance(per_second, bool) or not isinstance(per_second, (int, float)) or per_second < 0:
            raise ValueError(f"RateLimitingSampler per_second must be a non-negative number, got {per_second!r}")
        self.per_second = float(per_second)
        self._clock = clock or time.monotonic
        self._balance = self.per_second
        self._last = self._clock()
        self._lock = threading.Lock()
        self.description = f"RateLimiting{{{self.per_second}}}"

    def should_sample(
        self,
        parent: SpanContext | None,
        trace_id: int,
        name: str,
        kind: SpanKind,
        attributes: Mapping[str, object] | None = None,
        links: Sequence[Link] = (),
    ) -> SamplingResult:
        if parent is not None and parent.is_valid and not parent.is_remote:
            return _SAMPLE if parent.sampled else _DROP
        with self._lock:
            now = self._clock()
            self._balance = min(self.per_second, self._balance + (now - self._last) * self.per_second)
            self._last = now
            if self._balance >= 1.0:
                self._balance -= 1.0
                return _SAMPLE
        return _DROP


def sampler_from_env(name: str, arg: str | None) -> Sampler:
    """OTEL_TRACES_SAMPLER / OTEL_TRACES_SAMPLER_ARG, as the OpenTelemetry SDK reads them."""
    name = name.strip().lower()

    def ratio() -> float:
        try:
            value = float(arg) if arg not in (None, "") else 1.0
        except ValueError:
            raise ValueError(f"OTEL_TRACES_SAMPLER_ARG must be a number in [0, 1], got {arg!r}") from None
        return value

    factories: dict[str, Callable[[], Sampler]] = {
        "always_on": lambda: AlwaysOnSampler(),
        "always_off": lambda: AlwaysOffSampler(),
        "traceidratio": lambda: TraceIdRatioSampler(ratio()),
        "parentbased_always_on": lambda: ParentBasedSampler(AlwaysOnSampler()),
        "parentbased_always_off": lambda: ParentBasedSampler(AlwaysOffSampler()),
        "parentbased_traceidratio": lambda: ParentBasedSampler(TraceIdRatioSampler(ratio())),
    }
    factory = factories.get(name)
    if factory is None:
        raise ValueError(f"OTEL_TRACES_SAMPLER={name!r} is not one of: {', '.join(sorted(factories))}")
    return factory()
