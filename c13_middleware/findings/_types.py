"""What a finding is, and the thresholds the detectors use."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

from ..trace._span import SpanKind

__all__ = ["CodeSite", "Finding", "FindingThresholds", "SpanLike"]


class _IdsLike(Protocol):
    @property
    def trace_id(self) -> int: ...
    @property
    def span_id(self) -> int: ...


class _StatusLike(Protocol):
    @property
    def is_error(self) -> bool: ...


class SpanLike(Protocol):
    """What the detectors read of a span: a c13 ``Span``, or a read-only view of a span stored elsewhere (the
    viewer's, from OTLP)."""

    @property
    def name(self) -> str: ...
    @property
    def kind(self) -> SpanKind: ...
    @property
    def context(self) -> _IdsLike: ...
    @property
    def parent(self) -> _IdsLike | None: ...
    @property
    def start_time(self) -> int: ...
    @property
    def end_time(self) -> int | None: ...
    @property
    def attributes(self) -> Mapping[str, object]: ...
    @property
    def status(self) -> _StatusLike: ...


@dataclass(frozen=True, slots=True)
class CodeSite:
    """Where in the application: ``code.function.name``, ``code.file.path``, ``code.line.number``."""

    function: str
    file: str
    line: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line} ({self.function})" if self.function else f"{self.file}:{self.line}"


class _RecommendationLike(Protocol):
    """The profiler's ``Recommendation``, read structurally (this layer sits below the profiler)."""

    @property
    def rule(self) -> str: ...
    @property
    def message(self) -> str: ...
    @property
    def function(self) -> str: ...
    @property
    def location(self) -> str: ...
    @property
    def value(self) -> float: ...
    @property
    def threshold(self) -> float: ...


@dataclass(frozen=True, slots=True)
class Finding:
    """One thing that was wrong with a request, with its evidence.

    ``kind``: ``n_plus_one_db``, ``slow_db_query``, ``sequential_http``, or a profiler rule (``slow_function``,
    ``frequent_calls``, ``many_slow_io``, ``blocking_io_in_event_loop``, ``high_allocation_rate``). ``summary`` is
    one line with the figures. ``span_ids`` are the spans involved (empty for profiler findings, which come from
    samples), ``trace_id`` their trace (0 when unknown). ``value`` is the figure compared with ``threshold`` (seconds,
    or a count).
    """

    kind: str
    summary: str
    span_ids: tuple[int, ...] = ()
    trace_id: int = 0
    location: CodeSite | None = None
    value: float = 0.0
    threshold: float = 0.0

    @classmethod
    def from_recommendation(cls, recommendation: _RecommendationLike, trace_id: int = 0) -> Finding:
        """A profiler ``Recommendation`` as a finding: its rule is the kind, its message the summary, and its
        ``file:line`` location the code site."""
        file, _, line = recommendation.location.rpartition(":")
        site = (
            CodeSite(recommendation.function, file, int(line)) if file and line.isascii() and line.isdigit() else None
        )
        return cls(
            recommendation.rule,
            recommendation.message,
            (),
            trace_id,
            site,
            float(recommendation.value),
            float(recommendation.threshold),
        )


@dataclass(frozen=True, slots=True)
class FindingThresholds:
    """The detectors' thresholds; the defaults are Sentry's (docs/findings.md)."""

    n_plus_one_min_queries: int = 5
    n_plus_one_min_total_s: float = 0.05
    slow_query_s: float = 0.5
    sequential_http_min_calls: int = 3
    sequential_http_min_call_s: float = 0.1
    # Longest pause between two calls still read as "one right after the other" (no work on the first's result).
    sequential_http_max_gap_s: float = 0.5
    max_findings: int = 10

    def __post_init__(self) -> None:
        if self.n_plus_one_min_queries < 2 or self.sequential_http_min_calls < 2 or self.max_findings < 1:
            raise ValueError("FindingThresholds: the counts must be at least 2 (max_findings at least 1)")
        for name in (
            "n_plus_one_min_total_s",
            "slow_query_s",
            "sequential_http_min_call_s",
            "sequential_http_max_gap_s",
        ):
            if getattr(self, name) < 0:
                raise ValueError(f"FindingThresholds.{name} must not be negative")
