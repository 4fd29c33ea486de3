"""Per-request profiling for the server adapters: decide, run a profile session around the handler, feed it the
request's outgoing calls, and produce the response headers.

The profiler is imported only when a service turns profiling on (a secret, a sample rate or a slow threshold).
"""

from __future__ import annotations

from collections.abc import Callable
from contextvars import Token
from types import FrameType
from typing import TYPE_CHECKING

from ..trace._context import SPAN_END_COLLECTOR
from ..trace._safety import log_once
from ..trace._span import SpanKind
from ._api import finish_profile
from ._server_timing import PROFILE_ID_HEADER, profile_response_headers
from ._session import ProfileSession
from ._triggers import PROFILE_HEADER, TOKEN_HEADER, ProfileDecision, ProfilingPolicy
from ._types import ProfilingThresholds

if TYPE_CHECKING:
    from ..trace._config import Config
    from ..trace._span import Span

PROFILE_HEADERS = (PROFILE_HEADER, TOKEN_HEADER)


class RequestProfiler:
    """Built once per middleware from its configuration (the server's ``RequestProfilerProtocol``)."""

    request_headers = PROFILE_HEADERS

    def __init__(self, config: Config) -> None:
        self.policy = ProfilingPolicy(
            secret=config.profile_secret,
            sample_rate=config.profile_sample_rate,
            slow_threshold_s=config.profile_slow_threshold_s,
            default_type=config.profile_type,
        )
        self.thresholds = ProfilingThresholds()
        self.service = config.service_name

    def decide(self, method: str, path: str, header: Callable[[str], str | None]) -> ProfileDecision | None:
        try:
            return self.policy.decide(method, path, header)
        except Exception:
            log_once("profile-decide", "c13_middleware: the profiling trigger failed", exc_info=True)
            return None

    def begin(self, decision: ProfileDecision, span: Span, frame: FrameType) -> RequestProfile | None:
        """Start profiling the request whose handler runs below ``frame``."""
        try:
            session = ProfileSession(
                decision.profile_type,
                name=span.name,
                trace_id=span.context.trace_id,
                span_id=span.context.span_id,
                thresholds=self.thresholds,
                service=self.service,
                # Sampled and slow-request profiles run all the time: the always-on rate, within its CPU budget.
                # A token asks for this one request in detail: the on-demand rate.
                always_on=decision.reason != "header",
            )
            profile = RequestProfile(session, decision, span)
            session.start_at(frame)
            return profile
        except Exception:
            log_once("profile-begin", "c13_middleware: could not start a request profile", exc_info=True)
            return None


class RequestProfile:
    """One profiled request (the server's ``RequestProfileProtocol``). ``finish`` is idempotent and never raises; it
    returns the headers to add."""

    __slots__ = ("session", "decision", "span", "_spans", "_token", "_finished", "headers")

    def __init__(self, session: ProfileSession, decision: ProfileDecision, span: Span) -> None:
        self.session = session
        self.decision = decision
        self.span = span
        self._spans: list[Span] = []
        self._token: Token[list[Span] | None] | None = SPAN_END_COLLECTOR.set(self._spans)
        self._finished = False
        self.headers: list[tuple[str, str]] = []

    def finish(self) -> list[tuple[str, str]]:
        if self._finished:
            return self.headers
        self._finished = True
        try:
            self.stop()  # first: c13's own finishing work below is not the request's
            self._release()
            slow_io = self.session.thresholds.slow_io_s
            children: list[tuple[str, float]] = []
            for span in self._spans:
                duration = (span.duration_ns or 0) / 1e9
                if span.kind is SpanKind.CLIENT:
                    # "GET" alone says little in Server-Timing when a request makes several calls: add the peer.
                    address = span.attributes.get("server.address")
                    children.append((f"{span.name} {address}" if address else span.name, duration))
                    if duration >= slow_io:
                        self.session.record_io(span.name, duration, _where(span))
                else:
                    children.append((span.name, duration))
            self.session.name = self.span.name  # the route is known by now ("GET /items/{id}")
            self.session.record_spans(self._spans)  # span findings join the recommendations, if the report is kept
            report = finish_profile(self.session, self.decision)
            if report is None:
                return self.headers  # slow-request capture: fast enough, nothing kept
            self.span.set_attribute("c13.profile.id", report.profile_id)
            if self.decision.authorized:
                # Only a caller holding a valid token learns that a profile exists, and its figures.
                self.headers = profile_response_headers(report, self.decision, children)
        except Exception:
            log_once("profile-finish", "c13_middleware: could not finish a request profile", exc_info=True)
            self.stop()  # a failure before finish_profile ran must not leave the session registered
        return self.headers

    def stop(self) -> None:
        """Stop sampling; idempotent, never raises (the report is built later, by ``finish``)."""
        try:
            if self.session.running:
                self.session.stop()
        except Exception:
            log_once("profile-stop", "c13_middleware: could not stop a request profile", exc_info=True)

    def early_headers(self) -> list[tuple[str, str]]:
        """For a response whose head goes out before the profile ends (a streamed body): just the id, if allowed."""
        if not self.decision.authorized:
            return []
        return [(PROFILE_ID_HEADER, self.session.profile_id)]

    def _release(self) -> None:
        token, self._token = self._token, None
        if token is not None:
            try:
                SPAN_END_COLLECTOR.reset(token)
            except ValueError:
                SPAN_END_COLLECTOR.set(None)  # finished from another context (a task's done callback)


def _where(span: Span) -> str:
    attributes = span.attributes
    if "url.full" in attributes:
        return str(attributes["url.full"])
    address = attributes.get("server.address", "")
    port = attributes.get("server.port")
    return f"{address}:{port}" if port is not None else str(address)
