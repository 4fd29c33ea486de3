"""The request lifecycle shared by every server adapter: extract, sample, open a SERVER span, make it current,
read the response, end the span exactly once. No framework imports: the ASGI and WSGI shells, and the Flask and
Django adapters, only translate their request and response into these calls.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from contextvars import ContextVar
from typing import Any

from ._config import FORBIDDEN_HEADERS, Config
from ._context import _Activation, _current_baggage
from ._propagation import HeaderGetter, Propagated
from ._safety import log_once
from ._span import Link, Span, SpanKind
from ._traceparent import format_traceparent
from ._tracer import Tracer, get_tracer

KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH", "QUERY"})

# The SERVER span of the request being handled in this context: a second adapter mounted on the same app
# (Django under the ASGI middleware) finds it here and annotates it instead of opening another one.
HeaderItems = Callable[[], Iterable[tuple[str, str]]]

_server_request: ContextVar[ServerRequest | None] = ContextVar("c13_server_request", default=None)


def active_server_request() -> ServerRequest | None:
    return _server_request.get()


class ServerCore:
    """Built once per middleware instance from its options; a wrong option fails here, at start-up."""

    def __init__(self, options: Mapping[str, Any] | None = None, *, config: Config | None = None) -> None:
        default = get_tracer()
        if config is None:
            config = default.config.replace(**options) if options else default.config
        self.config = config
        self.tracer = default if config.pipeline_key == default.config.pipeline_key else Tracer(config)
        self._exact_excluded = frozenset(rule for rule in config.exclude_paths if isinstance(rule, str))
        self._regex_excluded = tuple(rule for rule in config.exclude_paths if isinstance(rule, re.Pattern))
        self._capture_request = _header_matcher(config.capture_request_headers)
        self._capture_response = _header_matcher(config.capture_response_headers)
        self._sanitize = _header_matcher(config.sanitize_fields)
        self._sensitive_query = frozenset(name.lower() for name in config.sensitive_query_params)
        self._max_length = config.span_limits.max_attribute_length

    def is_excluded(self, path: str) -> bool:
        if path in self._exact_excluded:
            return True
        return any(rule.search(path) for rule in self._regex_excluded)

    def start(
        self,
        *,
        method: str,
        path: str,
        scheme: str,
        query: str,
        get_header: HeaderGetter,
        protocol_version: str | None = None,
        server: tuple[str, int | None] | None = None,
        client: str | None = None,
        header_items: HeaderItems | None = None,
    ) -> ServerRequest | None:
        """Open the request's span and make it current; None when the path is excluded or a span is already open
        for this request by an outer adapter (then that adapter's span is the one to annotate)."""
        if _server_request.get() is not None or self.is_excluded(path):
            return None
        try:
            return self._start(method, path, scheme, query, get_header, protocol_version, server, client, header_items)
        except Exception:
            log_once("server-start", "c13_middleware: could not start the request span", exc_info=True)
            return None

    def _start(
        self,
        method: str,
        path: str,
        scheme: str,
        query: str,
        get_header: HeaderGetter,
        protocol_version: str | None,
        server: tuple[str, int | None] | None,
        client: str | None,
        header_items: HeaderItems | None,
    ) -> ServerRequest:
        config = self.config
        incoming = config.propagator.extract(get_header, Propagated())
        parent = incoming.span_context
        links: Sequence[Link] = ()
        baggage = incoming.baggage
        if not config.trust_incoming_context:
            if parent is not None:
                links = (Link(parent, {"c13.link.reason": "untrusted_incoming_context"}),)
            parent = None
            baggage = _current_baggage.get()

        limit = self._max_length
        attributes: dict[str, Any] = {"url.path": path[:limit] if limit else path, "url.scheme": scheme}
        if method in KNOWN_METHODS:
            attributes["http.request.method"] = method
            name = method
        else:
            attributes["http.request.method"] = "_OTHER"
            attributes["http.request.method_original"] = method[:limit] if limit else method
            name = "HTTP"
        if query:
            attributes["url.query"] = self.redact_query(query)[:limit] if limit else self.redact_query(query)
        host_values = get_header("host")
        if host_values:
            host, port = split_host(host_values[0], scheme)
            if host:
                attributes["server.address"] = host
            if port is not None:
                attributes["server.port"] = port
        elif server is not None:
            attributes["server.address"] = server[0]
            if server[1] is not None:
                attributes["server.port"] = server[1]
        if client:
            attributes["client.address"] = client
        agent = get_header("user-agent")
        if agent:
            attributes["user_agent.original"] = agent[0][:limit] if limit else agent[0]
        if protocol_version:
            attributes["network.protocol.version"] = protocol_version
        if self._capture_request is not None and header_items is not None:
            self._capture(attributes, "http.request.header.", self._capture_request, header_items())

        span = self.tracer.start_span(name, kind=SpanKind.SERVER, parent=parent, links=links, attributes=attributes)
        return ServerRequest(self, span, name, baggage)

    def redact_query(self, query: str) -> str:
        if not self._sensitive_query:
            return query
        parts = query.split("&")
        changed = False
        for index, part in enumerate(parts):
            key, sep, _ = part.partition("=")
            if sep and key.lower() in self._sensitive_query:
                parts[index] = f"{key}=REDACTED"
                changed = True
        return "&".join(parts) if changed else query

    def _capture(
        self,
        attributes: dict[str, Any],
        prefix: str,
        matcher: re.Pattern[str],
        headers: Iterable[tuple[str, str]],
    ) -> None:
        captured: dict[str, list[str]] = {}
        for name, value in headers:
            name = name.lower()
            if name in FORBIDDEN_HEADERS or not matcher.fullmatch(name):
                continue
            if self._sanitize is not None and self._sanitize.fullmatch(name):
                value = "[REDACTED]"
            captured.setdefault(name, []).append(value)
        for name, values in captured.items():
            attributes[prefix + name] = tuple(values)


class ServerRequest:
    """One request's span from start to end; every method is safe to call more than once and never raises."""

    __slots__ = (
        "core",
        "span",
        "route",
        "status",
        "_method_name",
        "_baggage",
        "_activation",
        "_baggage_token",
        "_request_token",
        "_ended",
        "_exception",
    )

    def __init__(self, core: ServerCore, span: Span, method_name: str, baggage: Any) -> None:
        self.core = core
        self.span = span
        self._method_name = method_name
        self.route: str | None = None
        self.status: int | None = None
        self._ended = False
        self._exception: BaseException | None = None
        self._activation: _Activation | None = None
        self._baggage_token: Any = None
        self._request_token: Any = None
        self._baggage = baggage

    # Context activation is split from start so the WSGI shell can re-enter it around each body chunk.
    def activate(self) -> None:
        self._activation = _Activation(self.span)
        self._baggage_token = _current_baggage.set(self._baggage)
        self._request_token = _server_request.set(self)

    def deactivate(self) -> None:
        activation, self._activation = self._activation, None
        if activation is None:
            return
        activation.close()
        for var, token in ((_current_baggage, self._baggage_token), (_server_request, self._request_token)):
            try:
                var.reset(token)
            except ValueError:
                pass  # reset from another context: the activating context ended with its task

    def set_route(self, route: str | None) -> None:
        if route and self.route is None:
            self.route = route
            self.span.set_attribute("http.route", route)
            self.span.update_name(f"{self._method_name} {route}")

    @property
    def finished(self) -> bool:
        return self._ended

    def response_started(self, status: int, headers: HeaderItems | None = None) -> None:
        self.status = status
        span = self.span
        span.set_attribute("http.response.status_code", status)
        if status >= 500:
            exc = self._exception
            span.set_error(exc, error_type=None if exc is not None else str(status))
        if self.core._capture_response is not None and headers is not None:
            captured: dict[str, Any] = {}
            self.core._capture(captured, "http.response.header.", self.core._capture_response, headers())
            span.set_attributes(captured)

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
        try:
            self.span.end()
        except Exception:
            log_once("server-end", "c13_middleware: ending the request span failed", exc_info=True)


def split_host(host: str, scheme: str) -> tuple[str, int | None]:
    """``Host`` header → (address, port); IPv6 brackets removed; a bad port is dropped."""
    host = host.strip()
    if host.startswith("["):
        end = host.find("]")
        address, rest = host[1:end] if end > 0 else host, host[end + 1 :] if end > 0 else ""
        port_text = rest[1:] if rest.startswith(":") else ""
    else:
        address, _, port_text = host.partition(":")
    if port_text.isdigit() and len(port_text) <= 5:
        return address, int(port_text)
    if not port_text:
        return address, {"http": 80, "https": 443, "ws": 80, "wss": 443}.get(scheme)
    return address, None


def _header_matcher(patterns: Sequence[str]) -> re.Pattern[str] | None:
    if not patterns:
        return None
    return re.compile("|".join(f"(?:{p})" for p in patterns), re.IGNORECASE)
