"""What the exporter says about a failing backend: each outage's start, a reminder at most once per interval
while it lasts, and its end, so that a second outage later in the process is not silent and a recovery is seen.

An outage starts with the first failed attempt after a success (or at start-up) and ends with the next accepted
export. Calls come from the exporter's sending thread, one at a time.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from ...trace._safety import logger

REMINDER_INTERVAL = 60.0  # seconds between two lines about one outage


class OutageLog:
    __slots__ = ("endpoint", "interval", "_clock", "_since", "_last_line", "_dropped_before", "_gave_up_told")

    def __init__(
        self, endpoint: str, interval: float = REMINDER_INTERVAL, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.endpoint = endpoint  # as shown: credentials already redacted
        self.interval = interval
        self._clock = clock
        self._since: float | None = None
        self._last_line = 0.0
        self._dropped_before = 0
        self._gave_up_told = False

    @property
    def in_outage(self) -> bool:
        return self._since is not None

    def failed(self, problem: str, retrying: bool, dropped_so_far: int) -> None:
        """An attempt failed; ``dropped_so_far`` is the exporter's dropped counter, to report the outage's cost."""
        now = self._clock()
        outcome = "retrying, then dropping spans" if retrying else "spans dropped (not retryable)"
        if self._since is None:
            self._since = self._last_line = now
            self._dropped_before = dropped_so_far
            self._gave_up_told = False
            logger.warning("c13_middleware: OTLP: %s %s; %s", self.endpoint, problem, outcome)
        elif now - self._last_line >= self.interval:
            self._last_line = now
            logger.warning("c13_middleware: OTLP: %s has been failing for %.0f s (now: %s); %d spans dropped so far",
                           self.endpoint, now - self._since, problem,
                           dropped_so_far - self._dropped_before)  # fmt: skip

    def gave_up(self, max_retry_time: float) -> None:
        """An export ran out of retry time: said once per outage."""
        if not self._gave_up_told:
            self._gave_up_told = True
            logger.warning("c13_middleware: OTLP: export to %s still failing after %.1f s of retries; spans dropped",
                           self.endpoint, max_retry_time)  # fmt: skip

    def succeeded(self, dropped_so_far: int) -> None:
        if self._since is None:
            return
        logger.warning("c13_middleware: OTLP: exports to %s succeed again after %.1f s; %d spans dropped meanwhile",
                       self.endpoint, self._clock() - self._since, dropped_so_far - self._dropped_before)  # fmt: skip
        self._since = None
