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
from ..trace._semconv import exception_type_name, is_ascii_number
from ..trace._span import Span, finish_span
from ._extensions import RequestProfileProtocol
from ._head import HeaderItems

EMPTY_BAGGAGE = Baggage.EMPTY

# The request being handled in this context: a second adapter mounted on the same app (Django under the ASGI
# middleware) finds it here and annotates its span instead of opening another one.
_server_request: ContextVar[ServerRequest | None] = ContextVar("c13_server_request", default=None)


def active_server_request() -> ServerRequest | None:
    return _server_request.get()


def number(value: object, max_digits: int) -> int | None:
    """A status or close code an app or a server handed over: an int, or a str of 1 to ``max_digits`` ASCII digits
    (docs/security.md, "Numbers are ASCII digits"), either of at most ``max_digits`` digits; anything else is absent."""
    if isinstance(value, int) and not isinstance(value, bool):
        return int(value) if 0 <= value < 10**max_digits else None
    if isinstance(value, str) and is_ascii_number(value, max_digits):
        return int(value)
    return None


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
        "_handled",
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
        self._exception: BaseException | None = None  # recorded as the span's exception event
        self._handled: BaseException | None = None  # turned into a response by the framework; its status decides
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

    def stop_profile(self) -> None:
        """The handler's work is done: stop sampling before the shell's own finishing work (route naming)."""
        if self.profile is not None:
            self.profile.stop()

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

    def response_started(self, status: object, headers: HeaderItems | None = None) -> None:
        """The response head. ``status`` is what the app sent: anything but an int or 1 to 3 ASCII digits is absent."""
        code = status if type(status) is int else number(status, 3)
        self.status = code
        span = self.span
        if code is not None:
            if span._recording and span.end_time is None:
                span.attributes["http.response.status_code"] = code
            handled = self._handled
            if handled is not None:
                self._handled = None
                if code >= 500:  # a handled exception is the request's failure only when it became a 5xx
                    self.record_exception(handled)
            if code >= 500:
                exc = self._exception
                span.set_error(exc, error_type=None if exc is not None else str(code))
        if headers is not None and self.core.captures_response_headers:
            span.set_attributes(self.core.response_header_attributes(headers()))

    def record_exception(self, exc: BaseException, *, escaped: bool = True) -> None:
        """Record ``exc`` once as an ``exception`` event and fail the span: it left the handler.

        ``escaped=False``: a framework turns it into a response (docs/server.md, "Exceptions"): it is recorded only
        if that response is a 5xx (or none follows); a 4xx says what happened and records nothing."""
        if not escaped:
            if self._exception is not exc:
                self._handled = exc
            return
        span = self.span
        self._handled = None
        if self._exception is not exc:
            self._exception = exc
            span.record_exception(exc)
        span.set_error(exc)

    def failed(self, exc: BaseException) -> None:
        """``exc`` escaped the adapter: recorded, and if no response has started the server answers 500."""
        self.record_exception(exc)
        if self.status is None and self.rpc is None:
            self.response_started(500)

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
        if self._handled is not None:  # handled, but no response followed: it is what the request ended with
            self.record_exception(self._handled)
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
