"""Outgoing calls, shared by the httpx and gRPC clients and the messaging helpers; no framework imports.

Which pipeline a call records through (``Pipeline``), whether its context may be sent to the destination
(``ClientSettings.propagates_to``), URL redaction, and the HTTP CLIENT span lifecycle (``HttpClientCall``).
"""

from __future__ import annotations

import functools
import re
import threading
import weakref
from collections.abc import Mapping
from typing import Any

from ..propagation._baggage import Baggage
from ..propagation._fields import inject_fields
from ..propagation._propagators import DEFAULT_PROPAGATOR, HeaderSetter
from ..trace._config import Config
from ..trace._context import _current_baggage, _current_span
from ..trace._observe import record_http_client_call
from ..trace._safety import log_once
from ..trace._semconv import exception_type_name, method_attributes, redact_query
from ..trace._span import Span, SpanKind, finish_span
from ..trace._tracer import Tracer, get_tracer, resolve, tracer_of


class ClientSettings:
    """What an outgoing call needs from a ``Config``, precomputed once per (client, pipeline)."""

    __slots__ = (
        "config",
        "propagator",
        "default_propagator",
        "propagate_all",
        "max_length",
        "max_attributes",
        "_context_to",
        "_baggage_to",
        "_sensitive",
        "_sensitive_search",
    )

    def __init__(self, config: Config) -> None:
        self.config = config
        self.propagator = config.propagator
        self.default_propagator = config.propagator is DEFAULT_PROPAGATOR
        self.max_length = config.span_limits.max_attribute_length
        self.max_attributes = config.span_limits.max_attributes
        self.propagate_all = config.propagate_to is None
        self._context_to = destinations(config.propagate_to)
        self._baggage_to = baggage_destinations(config)
        self._sensitive = frozenset(name.lower() for name in config.sensitive_query_params)
        names = "|".join(re.escape(name) for name in config.sensitive_query_params)
        # One search tells whether a query key may be sensitive (a listed name, or any key with "%" or "+", which
        # only decoding can tell) or the URL has a fragment: most URLs then skip the split.
        self._sensitive_search = (
            re.compile(f"[?&](?:(?:{names})=|[^=&#%+]*[%+])|#", re.IGNORECASE).search if names else None
        )

    def propagates_to(self, host: str, port: int | None, url: str) -> bool:
        """Whether context may be sent to this destination: ``propagate_to`` is None (everywhere), or the destination
        matches it (``Destinations.match``)."""
        return self.propagate_all or self._context_to.match(host, port, url)

    def baggage_to(self, host: str, port: int | None, url: str) -> bool:
        """Whether the current baggage may go to a destination the context goes to (docs/security.md, "Baggage")."""
        return self._baggage_to.match(host, port, url)

    def redact_url(self, url: str) -> str:
        """``user:pass@`` becomes ``REDACTED:REDACTED@``; values of sensitive query parameters (matched on the decoded
        name, docs/security.md) become ``REDACTED``; the fragment (``#...``) is dropped: it is never sent, and
        client-side secrets (OAuth implicit-flow tokens) live there."""
        search = self._sensitive_search
        if "@" not in url and "#" not in url and (search is None or "?" not in url or not search(url)):
            return url
        fragment = url.find("#")
        if fragment >= 0:
            url = url[:fragment]
        scheme_end = url.find("://")
        if scheme_end >= 0:
            start = scheme_end + 3
            end = len(url)
            for stop in "/?":
                found = url.find(stop, start)
                if 0 <= found < end:
                    end = found
            at = url.rfind("@", start, end)
            if at >= 0:
                url = f"{url[:start]}REDACTED:REDACTED{url[at:]}"
        question = url.find("?")
        if question < 0 or search is None or not search(url, question):
            return url
        return f"{url[: question + 1]}{redact_query(url[question + 1 :], self._sensitive)}"


class Destinations:
    """A ``propagate_to``-style allow-list: a string rule equals the host or ``host:port`` (case-insensitive), ``"*"``
    matches everything, a compiled regex is searched in the URL (a message's destination name for queues)."""

    __slots__ = ("everywhere", "_hosts", "_patterns")

    def __init__(self, rules: tuple[str | re.Pattern[str], ...]) -> None:
        hosts: set[str] = set()
        patterns: list[re.Pattern[str]] = []
        for rule in rules:
            if isinstance(rule, re.Pattern):
                patterns.append(rule)
            else:
                hosts.add(_normalize_host_rule(rule))
        self.everywhere = "*" in hosts
        self._hosts = frozenset(hosts)
        self._patterns = tuple(patterns)

    def match(self, host: str, port: int | None, url: str) -> bool:
        if self.everywhere:
            return True
        hosts = self._hosts
        if hosts:
            host = host.lower()
            if host in hosts or (port is not None and f"{host}:{port}" in hosts):
                return True
        return any(pattern.search(url) for pattern in self._patterns)


@functools.lru_cache(maxsize=64)
def destinations(rules: tuple[str | re.Pattern[str], ...] | None) -> Destinations:
    return Destinations(rules or ())


def baggage_destinations(config: Config) -> Destinations:
    """Where baggage may go: ``propagate_baggage_to`` if set, else ``propagate_to`` if set, else nowhere. Baggage
    carries application data (user ids, tenants) that must not cross a trust boundary unasked (W3C Baggage, privacy)."""
    rules = config.propagate_baggage_to
    return destinations(rules if rules is not None else config.propagate_to)


def _normalize_host_rule(rule: str) -> str:
    rule = rule.strip().lower()
    if rule.startswith("["):  # "[::1]" or "[::1]:8080"
        end = rule.find("]")
        if end > 0:
            return rule[1:end] + rule[end + 1 :]
    return rule


class Pipeline:
    """Chooses the tracer for each outgoing call and the settings that go with it.

    * Options that change the pipeline (``service_name``, ``exporter``, ``sampler``, ...) give the client its own
      tracer, used for every call: explicit options win, also inside a traced request (the CLIENT span is still
      a child of the request's span, so the trace stays connected).
    * Otherwise a call made while a span is current records through that span's tracer (a request's span ends
      through its middleware's pipeline, and so do its outgoing calls); with no current span, the process default
      (``configure``) as it is at call time, so clients built before ``configure`` still follow it.
    * Options that do not change the pipeline (``propagate_to``, ``sensitive_query_params``, ``propagator``) are
      applied over the chosen tracer's configuration.

    A wrong option raises ``ConfigError`` here, when the client is built.
    """

    __slots__ = ("_options", "_own", "_follow_current", "_last", "_cache", "_lock")

    def __init__(self, options: Mapping[str, Any] | None = None, *, follow_current: bool = True) -> None:
        self._options = dict(options or {})
        _, tracer = resolve(self._options)
        self._own: Tracer | None = None if tracer is get_tracer() else tracer
        self._follow_current = follow_current
        self._last: tuple[Tracer, ClientSettings] | None = None
        self._cache: weakref.WeakKeyDictionary[Tracer, ClientSettings] = weakref.WeakKeyDictionary()
        self._lock = threading.Lock()

    @property
    def own_tracer(self) -> Tracer | None:
        return self._own

    def tracer(self) -> Tracer:
        own = self._own
        if own is not None:
            return own
        if self._follow_current:
            return tracer_of(_current_span.get())
        return get_tracer()

    def resolve(self) -> tuple[Tracer, ClientSettings]:
        tracer = self.tracer()
        last = self._last
        if last is not None and last[0] is tracer:
            return last
        settings = self._cache.get(tracer)
        if settings is None:
            options = self._options if self._own is None else None
            settings = ClientSettings(tracer.config.replace(**options) if options else tracer.config)
            with self._lock:
                self._cache[tracer] = settings
        last = (tracer, settings)
        self._last = last
        return last


def current_tracer() -> Tracer:
    """The current span's tracer, else the process default."""
    return tracer_of(_current_span.get())


def inject_context(
    set: HeaderSetter, span: Span, settings: ClientSettings, host: str = "", port: int | None = None, url: str = ""
) -> None:
    """Write ``span``'s context with the configured propagator, for a destination the context may go to
    (``settings.propagates_to``), and the current baggage if it may go there too (``settings.baggage_to``). Never
    raises."""
    try:
        baggage = _current_baggage.get()
        if baggage and not settings.baggage_to(host, port, url):
            baggage = Baggage.EMPTY
        inject_fields(set, span.context, baggage, settings.propagator)
    except Exception:
        log_once("client-inject", "c13_middleware: injecting context into an outgoing call failed", exc_info=True)


class HttpClientCall:
    """One HTTP request's CLIENT span, from sending the request to closing the response body; ends exactly once."""

    __slots__ = ("span", "_done", "_observers", "_method", "_host", "_port", "_scheme", "_status")

    def __init__(
        self,
        span: Span,
        observers: tuple[object, ...] = (),
        method: str = "",
        host: str = "",
        port: int | None = None,
        scheme: str = "",
    ) -> None:
        self.span = span
        self._done = threading.Lock()
        self._observers = observers
        self._method = method
        self._host = host
        self._port = port
        self._scheme = scheme
        self._status: int | None = None

    @classmethod
    def start(
        cls,
        tracer: Tracer,
        settings: ClientSettings,
        method: str,
        url_full: str,
        host: str,
        port: int | None,
        scheme: str = "",
    ) -> HttpClientCall:
        """A CLIENT span, child of the current span (attributes are built valid here, so the tracer's trusted
        entry is used: the limits are applied first)."""
        limit = settings.max_length
        if limit is not None:
            url_full, host = url_full[:limit], host[:limit]
        attributes: dict[str, Any] = {"url.full": url_full, "server.address": host}
        name = method_attributes(method, limit, attributes)
        if port is not None:
            attributes["server.port"] = port
        metric = (settings.config.observers, attributes["http.request.method"], host, port, scheme)
        if len(attributes) > settings.max_attributes:
            return cls(tracer.start_span(name, kind=SpanKind.CLIENT, attributes=attributes), *metric)
        current = _current_span.get()
        parent = current.context if current is not None else None
        return cls(tracer.start_trusted(name, SpanKind.CLIENT, parent, attributes), *metric)

    def response(self, status: int, protocol_version: str | None = None) -> None:
        """The response head arrived. On CLIENT spans 4xx and 5xx are errors (semantic conventions)."""
        self._status = status
        span = self.span
        span.set_attribute("http.response.status_code", status)
        if protocol_version:
            span.set_attribute("network.protocol.version", protocol_version)
        if status >= 400:
            span.set_error(None, error_type=str(status))

    def finish(self, exc: BaseException | None = None, **attributes: Any) -> None:
        """End the span, recording ``exc`` (error status, ``error.type`` = its qualified class name) if given."""
        if not self._done.acquire(blocking=False):
            return
        span = self.span
        try:
            if exc is not None:
                if isinstance(exc, Exception):
                    span.record_exception(exc)
                span.set_error(exc)
                # Also after a 4xx/5xx head (a failure while reading its body): the exception names what happened.
                span.set_attribute("error.type", exception_type_name(exc))
            for key, value in attributes.items():
                span.set_attribute(key, value)
        except Exception:
            log_once("client-status", "c13_middleware: recording an outgoing call's outcome failed", exc_info=True)
        duration = finish_span(span, "an outgoing call's span")
        if self._observers:
            status = self._status
            if exc is not None:
                error_type: str | None = exception_type_name(exc)
            else:
                error_type = str(status) if status is not None and status >= 400 else None
            record_http_client_call(
                self._observers,
                method=self._method,
                server_address=self._host,
                server_port=self._port,
                status=status,
                duration_s=duration,
                scheme=self._scheme,
                error_type=error_type,
            )

    @property
    def finished(self) -> bool:
        return self._done.locked()
