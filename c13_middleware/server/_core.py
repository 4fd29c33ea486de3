"""The request lifecycle shared by every server adapter: extract, sample, open a SERVER span (this module), make it
current, read the response, end it exactly once (``_server_request``). No framework imports: the ASGI and WSGI shells,
and the Flask and Django adapters, only translate their request and response into these calls.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping, Sequence
from types import FrameType
from typing import Any

from ..propagation._baggage import Baggage
from ..propagation._fields import extract_fields
from ..propagation._span_context import SpanContext
from ..trace._config import FORBIDDEN_HEADERS, excluded_urls_from_env
from ..trace._context import _current_span
from ..trace._observe import notify
from ..trace._safety import log_once
from ..trace._semconv import method_attributes, redact_query, split_host
from ..trace._span import Link, Span, SpanKind
from ..trace._tracer import Tracer, get_tracer, resolve
from ._extensions import RequestProfileProtocol, request_profiler
from ._head import RequestHead, RpcHead
from ._request import EMPTY_BAGGAGE, ServerRequest, _server_request, active_server_request

# Header capture per request and direction (docs/security.md, "Input bounds"): what one request can add to its span.
MAX_CAPTURED_CHARS = 16384
MAX_CAPTURED_NAME = 256


class ServerCore:
    """Built once per middleware instance from its options; a wrong option fails here, at start-up."""

    def __init__(self, options: Mapping[str, Any] | None = None, env_names: Sequence[str] = ()) -> None:
        """``env_names``: the adapter's names in OpenTelemetry's ``OTEL_PYTHON_{NAME}_EXCLUDED_URLS`` variables; the
        first one set wins over the generic ``OTEL_PYTHON_EXCLUDED_URLS``, an ``exclude_urls`` option over both."""
        if env_names and "exclude_urls" not in (options or {}):
            for name in env_names:
                found = excluded_urls_from_env(os.environ, name)
                if found is not None:
                    options = {**(options or {}), "exclude_urls": found}
                    break
        self.config, tracer = resolve(options)
        # Options that change the pipeline give this middleware its own tracer; otherwise it follows the process
        # default as it is at request time, so ``configure()`` may run after the middleware was built (Flask's
        # ``C13(app)`` at import, ``configure`` at start-up).
        self._own_tracer = tracer if tracer is not get_tracer() else None
        config = self.config
        self._exact_excluded = frozenset(rule for rule in config.exclude_paths if isinstance(rule, str))
        self._regex_excluded = tuple(rule for rule in config.exclude_paths if isinstance(rule, re.Pattern))
        self._url_excluded = config.exclude_urls
        self._capture_request = _header_matcher(config.capture_request_headers)
        self._capture_response = _header_matcher(config.capture_response_headers)
        self._sanitize = _header_matcher(config.sanitize_fields)
        self._sensitive_query = frozenset(name.lower() for name in config.sensitive_query_params)
        self.max_length = config.span_limits.max_attribute_length
        self.captures_request_headers = self._capture_request is not None
        self.captures_response_headers = self._capture_response is not None
        self.profiler = request_profiler(config)
        # The headers shells collect with the propagation headers: the propagator's, plus the profiling trigger's.
        self.request_fields = tuple(config.propagator.fields) + (self.profiler.request_headers if self.profiler else ())
        self._field_set = frozenset(self.request_fields)
        self.environ_fields = tuple(("HTTP_" + n.upper().replace("-", "_"), n) for n in self.request_fields)
        self.observers = tuple(config.observers)

    def _url_is_excluded(
        self, scheme: str, host: str | None, server: tuple[str, int | None] | None, path: str, query: str
    ) -> bool:
        """OpenTelemetry's rule: each regex is searched in the full URL, ``scheme://host[:port]/path?query``."""
        try:
            if not host and server is not None:
                name = f"[{server[0]}]" if ":" in server[0] else server[0]
                default_port = server[1] is None or (scheme, server[1]) in (("http", 80), ("https", 443))
                host = name if default_port else f"{name}:{server[1]}"
            url = f"{scheme}://{host or ''}{path}" + (f"?{query}" if query else "")
            return any(rule.search(url) for rule in self._url_excluded)
        except Exception:  # a server's odd scope or environ values: trace the request rather than fail it
            log_once("exclude-urls", "c13_middleware: could not match a request URL to exclude_urls", exc_info=True)
            return False

    def start(self, head: RequestHead) -> ServerRequest | None:
        """Open the request's span; None when the path is excluded or an outer adapter already opened the span for
        this request (that adapter's span is then the one to annotate)."""
        method, path, scheme, query, host, user_agent, propagation, protocol_version, server, client, header_items = (
            head
        )
        if _server_request.get() is not None or path in self._exact_excluded:
            return None
        if self._regex_excluded and any(rule.search(path) for rule in self._regex_excluded):
            return None
        if self._url_excluded and self._url_is_excluded(scheme, host, server, path, query):
            return None
        try:
            baggage = EMPTY_BAGGAGE
            parent = None
            links: Sequence[Link] = ()
            if propagation:
                parent, baggage, links = self._incoming(propagation)
            current = _current_span.get()
            if current is not None:  # a span outside c13's middleware (FastAPI's own) may be this request's
                parent = self._join(current, parent, links)

            limit = self.max_length
            if limit is not None and len(path) > limit:
                path = path[:limit]
            attributes: dict[str, Any] = {"url.path": path, "url.scheme": scheme}
            name = method_attributes(method, limit, attributes)
            if query:
                query = self.redact_query(query)
                attributes["url.query"] = query[:limit] if limit else query
            if host:
                address, port = split_host(host, scheme)
                if address:
                    attributes["server.address"] = address[:limit] if limit else address
                if port is not None:
                    attributes["server.port"] = port
            elif server is not None:
                attributes["server.address"] = server[0][:limit] if limit else server[0]
                if server[1] is not None:
                    attributes["server.port"] = server[1]
            if client:
                attributes["client.address"] = client[:limit] if limit else client
            if user_agent:
                attributes["user_agent.original"] = user_agent[:limit] if limit else user_agent
            if protocol_version:
                attributes["network.protocol.version"] = protocol_version[:limit] if limit else protocol_version
            if self._capture_request is not None and header_items is not None:
                self._capture(attributes, "http.request.header.", self._capture_request, header_items())
                span = self.tracer.start_span(
                    name, kind=SpanKind.SERVER, parent=parent, links=links, attributes=attributes
                )
            else:
                span = self.tracer.start_trusted(name, SpanKind.SERVER, parent, attributes, links)
            request = ServerRequest(self, span, name, baggage)
            if self.profiler is not None:
                fields = propagation or {}
                request.profile_decision = self.profiler.decide(
                    method, path, lambda header: (fields.get(header) or (None,))[0]
                )
            if self.observers:
                request.scheme = scheme
                request.method = attributes["http.request.method"]
                notify(self.observers, "request_started", request)
            return request
        except Exception:
            log_once("server-start", "c13_middleware: could not start the request span", exc_info=True)
            return None

    def start_rpc(self, head: RpcHead) -> ServerRequest | None:
        """Open an RPC's SERVER span, with the same extraction, trust rule and profiling trigger as a request (the
        trigger signs ``POST`` and ``/package.Service/Method``). None on failure: the call then runs untraced."""
        try:
            name, rpc_attributes, address, port, metadata = head
            fields = self.collect_fields(metadata) if metadata else None
            parent = None
            baggage = EMPTY_BAGGAGE
            links: Sequence[Link] = ()
            if fields:
                parent, baggage, links = self._incoming(fields)
            current = _current_span.get()
            if current is not None:
                parent = self._join(current, parent, links)
            attributes = dict(rpc_attributes)
            if address:
                attributes["client.address"] = address
            if port is not None:
                attributes["client.port"] = port
            span = self.tracer.start_span(name, kind=SpanKind.SERVER, parent=parent, links=links, attributes=attributes)
            request = ServerRequest(self, span, name, baggage)
            request.rpc = rpc_attributes
            if self.profiler is not None:
                found = fields or {}
                request.profile_decision = self.profiler.decide(
                    "POST", "/" + name, lambda header: (found.get(header) or (None,))[0]
                )
            return request
        except Exception:
            log_once("server-start-rpc", "c13_middleware: could not start an RPC server span", exc_info=True)
            return None

    def _incoming(self, fields: Mapping[str, Sequence[str]]) -> tuple[SpanContext | None, Baggage, Sequence[Link]]:
        """The caller's context and baggage; at a trust boundary neither is kept: the new trace links to the caller."""
        config = self.config
        parent, baggage = extract_fields(fields, config.propagator)
        if config.trust_incoming_context:
            return parent, baggage, ()
        return None, EMPTY_BAGGAGE, restart_links(parent)

    def _join(self, current: Span, parent: SpanContext | None, links: Sequence[Link]) -> SpanContext | None:
        """The SERVER span's parent when ``current`` is already current in the request's context (docs/server.md,
        "Parent"); ``parent`` and ``links``: what ``_incoming`` made of the request's own fields."""
        trusted = self.config.trust_incoming_context
        caller = links[0].context if links and not trusted else None
        return join_current(current, parent, caller, trusted)

    def collect_fields(self, items: Iterable[tuple[str, str | bytes]]) -> dict[str, list[str]] | None:
        """The propagation and profiling-trigger fields among ``items`` (lower-case names, repeats kept in order)."""
        found: dict[str, list[str]] | None = None
        wanted = self._field_set
        for name, value in items:
            if name in wanted:
                if found is None:
                    found = {}
                found.setdefault(name, []).append(value if isinstance(value, str) else value.decode("latin-1"))
        return found

    @property
    def tracer(self) -> Tracer:
        return self._own_tracer or get_tracer()

    def redact_query(self, query: str) -> str:
        return redact_query(query, self._sensitive_query)

    def response_header_attributes(self, headers: Iterable[tuple[str, str]]) -> dict[str, Any]:
        """``http.response.header.*`` attributes for the configured response headers (``captures_response_headers``)."""
        captured: dict[str, Any] = {}
        if self._capture_response is not None:
            self._capture(captured, "http.response.header.", self._capture_response, headers)
        return captured

    def begin_profile(self, decision: object, span: Span, frame: FrameType) -> RequestProfileProtocol | None:
        """The request's profile, started for the handler running below ``frame``."""
        profiler = self.profiler
        return profiler.begin(decision, span, frame) if profiler is not None else None

    def _capture(
        self,
        attributes: dict[str, Any],
        prefix: str,
        matcher: re.Pattern[str],
        headers: Iterable[tuple[str, str]],
    ) -> None:
        """Bounded (docs/security.md): each value cut to the attribute length limit, names longer than
        ``MAX_CAPTURED_NAME`` skipped unread, and capture stops before ``MAX_CAPTURED_CHARS`` names and values."""
        captured: dict[str, list[str]] = {}
        limit = self.max_length
        budget = MAX_CAPTURED_CHARS
        for name, value in headers:
            if len(name) > MAX_CAPTURED_NAME:
                continue
            name = name.lower()
            if name in FORBIDDEN_HEADERS or not matcher.fullmatch(name):
                continue
            if self._sanitize is not None and self._sanitize.fullmatch(name):
                value = "[REDACTED]"
            elif limit is not None and len(value) > limit:
                value = value[:limit]
            budget -= len(name) + len(value)
            if budget < 0:
                break
            captured.setdefault(name, []).append(value)
        for name, values in captured.items():
            attributes[prefix + name] = tuple(values)


def join_current(
    current: Span, incoming: SpanContext | None, caller: SpanContext | None, trusted: bool
) -> SpanContext | None:
    """Whether c13's SERVER span joins ``current``, a span current in the request's context before c13's middleware
    ran (a framework's own SERVER span started outside it, such as FastAPI's; a local in-process caller's span):
    ``current``'s context when it joins, else ``incoming`` (the trusted caller's context, or None).

    * An ended span is never a parent: it is left over from an earlier request in a reused context.
    * A trusted incoming context wins unless ``current`` continues it directly (its parent is the caller's span, as
      a framework's span started from the same ``traceparent`` is): the same request, one trace.
    * With no incoming context, ``current`` is joined: the request has no context of its own.
    * Untrusted (``caller``: the context the caller sent, now only a link): ``current`` is joined only when it is
      local, neither a remote context nor the direct child of one, and not in the caller's trace.
    """
    if current.end_time is not None:
        return incoming
    ctx = current.context
    own_parent = current.parent
    if trusted:
        if incoming is None:
            return ctx
        if (
            own_parent is not None
            and own_parent.span_id == incoming.span_id
            and own_parent.trace_id == incoming.trace_id
        ):
            return ctx
        return incoming
    if ctx.is_remote or (own_parent is not None and own_parent.is_remote):
        return None
    if caller is not None and caller.trace_id == ctx.trace_id:
        return None
    return ctx


def restart_links(parent: SpanContext | None) -> tuple[Link, ...]:
    """At a trust boundary the caller's context does not become the parent: the new trace links to it instead."""
    return () if parent is None else (Link(parent, {"c13.link.reason": "untrusted_incoming_context"}),)


def _header_matcher(patterns: Sequence[str]) -> re.Pattern[str] | None:
    if not patterns:
        return None
    return re.compile("|".join(f"(?:{p})" for p in patterns), re.IGNORECASE)


__all__ = [
    "RequestHead",
    "RpcHead",
    "ServerCore",
    "ServerRequest",
    "active_server_request",
    "join_current",
    "restart_links",
]
