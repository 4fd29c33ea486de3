"""One request's SERVER span from start to end: made current for the handler, told about the response, ended
exactly once (with its profile and observers). Built by ``ServerCore.start``."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from contextvars import ContextVar
from types import FrameType
from typing import Any, Protocol

from ..propagation._baggage import Baggage
from ..propagation._traceparent import format_traceparent
from ..trace._config import Config
from ..trace._context import SPAN_ACTIVATION_LISTENER, _current_baggage, _current_span
from ..trace._observe import notify, record_rpc_call
from ..trace._semconv import exception_type_name
from ..trace._span import Span, finish_span
from ._extensions import RequestProfileProtocol
from ._head import HeaderItems

EMPTY_BAGGAGE = Baggage.EMPTY

# The request being handled in this context: a second adapter mounted on the same app (Django under the ASGI
# middleware) finds it here and annotates its span instead of opening another one.
_server_request: ContextVar[ServerRequest | None] = ContextVar("c13_server_request", default=None)


def active_server_request() -> ServerRequest | None:
    return _server_request.get()


class RequestCore(Protocol):
    """What a request needs from the core that started it (``ServerCore``)."""

    @property
    def config(self) -> Config: ...

    @property
    def max_length(self) -> int | None: ...

    @property
    def observers(self) -> tuple[object, ...]: ...

    @property
    def captures_response_headers(self) -> bool: ...

    def response_header_attributes(self, headers: Iterable[tuple[str, str]]) -> dict[str, Any]: ...

    def begin_profile(self, decision: object, span: Span, frame: FrameType) -> RequestProfileProtocol | None: ...


class ServerRequest:
    """One request's span from start to end; every method is safe to call more than once and never raises."""

    __slots__ = (
        "core",
        "span",
        "route",
        "status",
        "_method_name",
        "_baggage",
        "_span_token",
        "_baggage_token",
        "_request_token",
        "_ended",
        "_exception",
        "method",
        "scheme",
        "profile_decision",
        "profile",
        "streamed",
        "rpc",
        "_rpc_error_type",
    )

    def __init__(self, core: RequestCore, span: Span, method_name: str, baggage: Any) -> None:
        self.core = core
        self.span = span
        self._method_name = method_name
        self.route: str | None = None
        self.status: int | None = None
        self._ended = False
        self._exception: BaseException | None = None
        self.method = ""
        self.scheme = ""
        self.profile_decision: object = None  # the profiler's, handed back to it by begin_profile
        self.profile: RequestProfileProtocol | None = None
        self.streamed: bool | None = None  # set by an adapter that knows whether its response body is streamed
        self._span_token: Any = None
        self._baggage_token: Any = None
        self._request_token: Any = None
        self._baggage = baggage
        self.rpc: Mapping[str, Any] | None = None  # an RPC's rpc.* attributes (``ServerCore.start_rpc``)
        self._rpc_error_type: str | None = None

    # Context activation is split from start so the WSGI shell can re-enter it around each body chunk.
    def activate(self) -> None:
        span = self.span
        self._span_token = _current_span.set(span)
        self._request_token = _server_request.set(self)
        baggage = self._baggage
        if baggage is EMPTY_BAGGAGE and _current_baggage.get() is EMPTY_BAGGAGE:
            self._baggage_token = None
        else:
            self._baggage_token = _current_baggage.set(baggage)
        listener = SPAN_ACTIVATION_LISTENER.get()
        if listener is not None:
            listener(span.context.span_id, True)

    def deactivate(self) -> None:
        token = self._span_token
        if token is None:
            return
        self._span_token = None
        try:
            _current_span.reset(token)
            _server_request.reset(self._request_token)
            if self._baggage_token is not None:
                _current_baggage.reset(self._baggage_token)
        except ValueError:
            pass  # reset from another context: the activating context ended with its task
        listener = SPAN_ACTIVATION_LISTENER.get()
        if listener is not None:
            listener(self.span.context.span_id, False)

    def begin_profile(self, frame: FrameType) -> None:
        """Profile this request if it was chosen for profiling; ``frame`` is the shell's, above the handler.
        Call it after ``activate`` and in the request's context."""
        decision = self.profile_decision
        if decision is not None and self.profile is None:
            self.profile = self.core.begin_profile(decision, self.span, frame)

    def profile_headers(self, streamed: bool) -> list[tuple[str, str]]:
        """The profile's headers for the response head, sent once the handler is done. A streamed body's work is not
        done yet: its head gets only the id (if the caller may see it) and the profile runs on to the last chunk,
        ending with the request."""
        profile = self.profile
        if profile is None:
            return []
        return profile.early_headers() if streamed else profile.finish()

    def set_route(self, route: str | None) -> None:
        if route and self.route is None and type(route) is str:
            self.route = route
            span = self.span
            if span.end_time is None and span.is_recording():
                limit = self.core.max_length
                span.attributes["http.route"] = route[:limit] if limit else route
                span.name = f"{self._method_name} {route}"

    @property
    def finished(self) -> bool:
        return self._ended

    def response_started(self, status: int, headers: HeaderItems | None = None) -> None:
        self.status = status
        span = self.span
        if span._recording and span.end_time is None:
            span.attributes["http.response.status_code"] = status
        if status >= 500:
            exc = self._exception
            span.set_error(exc, error_type=None if exc is not None else str(status))
        if headers is not None and self.core.captures_response_headers:
            span.set_attributes(self.core.response_header_attributes(headers()))

    def record_exception(self, exc: BaseException, *, escaped: bool = True) -> None:
        """Record ``exc`` once as an ``exception`` event. ``escaped``: it left the handler, so the request failed;
        an exception a framework's error handler turned into a response leaves the status to that response."""
        span = self.span
        if self._exception is not exc:
            self._exception = exc
            span.record_exception(exc)
        if escaped:
            span.set_error(exc)

    def response_headers(self) -> list[tuple[str, str]]:
        """Headers the middleware adds to the response."""
        if not self.core.config.server_timing_trace or not self.span.context.trace_id:
            return []
        return [("server-timing", f"trace;desc={format_traceparent(self.span.context)}")]

    def finish(self) -> None:
        if self._ended:
            return
        self._ended = True
        span = self.span
        if self.profile is not None:
            self.profile.finish()  # before the span ends: it carries c13.profile.id
        duration = finish_span(span, "the request span")
        observers = self.core.observers
        if not observers:
            return
        rpc = self.rpc
        if rpc is None:
            notify(observers, "request_finished", self, duration)
        else:
            record_rpc_call(
                observers,
                "server",
                service=rpc.get("rpc.service", ""),
                method=rpc.get("rpc.method", ""),
                grpc_status_code=self.status,
                duration_s=duration,
                error_type=self._rpc_error_type,
                system=str(rpc.get("rpc.system", "grpc")),
            )

    def rpc_ended(self, status: int | None, error_type: str | None) -> None:
        """An RPC's outcome, as its protocol defines it (gRPC: the status code's number, and which codes are errors):
        what ``finish`` reports to the observers (``rpc_call``)."""
        self.status = status
        self._rpc_error_type = error_type

    @property
    def error_type(self) -> str | None:
        """``error.type`` of a failed request (exception class or 5xx status), else None."""
        value = self.span.attributes.get("error.type")
        if value is None and self._exception is not None:
            return exception_type_name(self._exception)
        if value is None and self.status is not None and self.status >= 500:
            return str(self.status)
        return None if value is None else str(value)
