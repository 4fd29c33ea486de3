"""When and how long to wait before sending an OTLP request again.

OTLP/HTTP: 429, 502, 503 and 504 are retried, as are connection failures and timeouts; every other 4xx/5xx is
final. OTLP/gRPC: the status codes of ``RETRYABLE_GRPC_CODES`` are retried, and ``RESOURCE_EXHAUSTED`` only when
the server sends ``RetryInfo``; every other code is final. The wait is the server's (``Retry-After``, or
``RetryInfo.retry_delay``) when it gives one, else exponential backoff with random jitter. Nothing is retried past
the deadline: a wait that would end after it gives up at once.
"""

from __future__ import annotations

import email.utils
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timezone

RETRYABLE_STATUS = frozenset({429, 502, 503, 504})
RETRYABLE_GRPC_CODES = frozenset(
    {"CANCELLED", "DEADLINE_EXCEEDED", "ABORTED", "OUT_OF_RANGE", "UNAVAILABLE", "DATA_LOSS"}
)
MAX_RETRY_AFTER = 3600.0  # ignore absurd values: the deadline bounds the wait anyway


def parse_retry_after(value: str | None, now: Callable[[], float] = time.time) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or HTTP-date), or None if absent or invalid."""
    if value is None:
        return None
    value = value.strip()
    if not value:
        return None
    if value.isdigit():
        return min(float(value), MAX_RETRY_AFTER)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # HTTP dates are GMT; a "-0000" zone parses as naive
        when = when.replace(tzinfo=timezone.utc)
    return clamp_delay(when.timestamp() - now())


def clamp_delay(seconds: float) -> float:
    """A server's wait, kept within ``[0, MAX_RETRY_AFTER]``."""
    return min(max(0.0, seconds), MAX_RETRY_AFTER)


def grpc_retryable(code: str, has_retry_info: bool) -> bool:
    """Whether a gRPC status code (its name) may be retried. ``RESOURCE_EXHAUSTED`` may only when the server says,
    with ``RetryInfo``, that the exhaustion will pass (a quota that is used up for good would be retried forever)."""
    return code in RETRYABLE_GRPC_CODES or (code == "RESOURCE_EXHAUSTED" and has_retry_info)


@dataclass(frozen=True)
class Backoff:
    """Exponential backoff: ``initial * multiplier**attempt``, capped at ``maximum``, times a random factor in
    ``[1 - jitter, 1]`` so that many processes do not retry in step."""

    initial: float = 0.5
    maximum: float = 5.0
    multiplier: float = 2.0
    jitter: float = 0.5

    def delay(self, attempt: int, rand: Callable[[], float] = random.random) -> float:
        base = min(self.maximum, self.initial * self.multiplier ** min(attempt, 64))
        return base * (1.0 - self.jitter * rand())


class RetryClock:
    """The retry budget of one export: ``max_time`` seconds from its start, checked before each wait."""

    __slots__ = ("deadline", "attempt", "backoff", "_monotonic")

    def __init__(self, max_time: float, backoff: Backoff, monotonic: Callable[[], float] = time.monotonic) -> None:
        self._monotonic = monotonic
        self.deadline = monotonic() + max_time
        self.attempt = 0
        self.backoff = backoff

    def remaining(self) -> float:
        return self.deadline - self._monotonic()

    def next_delay(self, retry_after: float | None) -> float | None:
        """How long to wait before the next attempt, or None when that attempt could not start in time."""
        delay = retry_after if retry_after is not None else self.backoff.delay(self.attempt)
        self.attempt += 1
        # A retry needs some time left to run in, not just to start.
        if delay + min(0.05, self.backoff.initial) >= self.remaining():
            return None
        return delay
