"""What the server core needs from a per-request profiler, and where one is registered.

The server layer sits below profiling: it names the shape it needs here and the composition root
(``c13_middleware/_compose.py``) registers the implementation, so a service that never turns profiling on never
imports the profiler.
"""

from __future__ import annotations

from collections.abc import Callable
from types import FrameType
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

if TYPE_CHECKING:  # annotations only: importing the package must stay cheap (it registers the profiler here)
    from ..trace._config import Config
    from ..trace._span import Span

Decision = TypeVar("Decision")


class RequestProfileProtocol(Protocol):
    """One profiled request."""

    def stop(self) -> None:
        """Stop sampling (idempotent, never raises): what the shell does after the handler is not the request's."""
        ...

    def finish(self) -> list[tuple[str, str]]:
        """Stop the profile (idempotent, never raises); the headers to add to the response."""
        ...

    def early_headers(self) -> list[tuple[str, str]]:
        """The headers for a response head sent before the profile ends (a streamed body)."""
        ...


class RequestProfilerProtocol(Protocol[Decision]):
    """Built once per middleware; decides per request and starts the chosen requests' profiles."""

    @property
    def request_headers(self) -> tuple[str, ...]:
        """The request header names (lower case) ``decide`` reads: the shells collect them with the propagation's."""
        ...

    def decide(self, method: str, path: str, header: Callable[[str], str | None]) -> Decision | None:
        """Whether to profile this request (None: not); never raises."""
        ...

    def begin(self, decision: Decision, span: Span, frame: FrameType) -> RequestProfileProtocol | None:
        """Start profiling the handler running below ``frame``; None on failure."""
        ...


RequestProfilerFactory = Callable[["Config"], "RequestProfilerProtocol[Any]"]

_factory: RequestProfilerFactory | None = None


def set_request_profiler(factory: RequestProfilerFactory | None) -> RequestProfilerFactory | None:
    """Register the factory ``ServerCore`` asks for a profiler when ``config.profiling_enabled``; returns the one it
    replaces (None: profiling is off everywhere)."""
    global _factory
    previous, _factory = _factory, factory
    return previous


def request_profiler(config: Config) -> RequestProfilerProtocol[Any] | None:
    """The registered profiler for ``config``, or None when profiling is off or none is registered."""
    if _factory is None or not config.profiling_enabled:
        return None
    return _factory(config)
