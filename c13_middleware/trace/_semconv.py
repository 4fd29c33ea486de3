"""The semantic conventions' shared vocabulary: HTTP methods, exception type names, host and URL helpers. Used by
the server core, the clients and the metrics, so each rule exists once."""

from __future__ import annotations

import functools
from typing import Any
from urllib.parse import unquote_plus

KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH", "QUERY"})
DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}


def default_port(scheme: str) -> int | None:
    return DEFAULT_PORTS.get(scheme)


def split_address(text: str, default: int | None) -> tuple[str | None, int | None]:
    """``host``, ``host:port``, ``[v6]``, ``[v6]:port`` or a bare IPv6 address → (host, port).

    A missing port is ``default``; a port that is not a number of at most five ASCII digits is dropped (None):
    ``str.isdigit`` alone accepts "²" or "٣", which ``int`` then rejects or reads as another number.
    """
    text = text.strip()
    if text.startswith("["):
        end = text.find("]")
        if end < 0:
            return text or None, default
        host, rest = text[1:end], text[end + 1 :]
        port_text = rest[1:] if rest.startswith(":") else ""
    elif text.count(":") == 1:
        host, _, port_text = text.partition(":")
    else:  # a bare host, or an IPv6 address without brackets
        host, port_text = text, ""
    if not port_text:
        return host or None, default
    return host or None, int(port_text) if is_ascii_number(port_text, 5) else None


def is_ascii_number(text: str, max_digits: int) -> bool:
    """1 to ``max_digits`` ASCII digits: the only numbers read from request data (docs/security.md)."""
    return len(text) <= max_digits and text.isascii() and text.isdigit()


# Hosts repeat, so their split is cached; only short ones, so the cache holds at most 512 × 256 characters whatever
# the clients send. A longer host is split uncached, with the same result.
_MAX_CACHED_HOST = 256


def split_host(host: str, scheme: str) -> tuple[str | None, int | None]:
    """A ``Host`` header → (address, port), the scheme's port when none is given."""
    if len(host) + len(scheme) <= _MAX_CACHED_HOST:
        return _split_host_cached(host, scheme)
    return split_address(host, DEFAULT_PORTS.get(scheme))


@functools.lru_cache(maxsize=512)
def _split_host_cached(host: str, scheme: str) -> tuple[str | None, int | None]:
    return split_address(host, DEFAULT_PORTS.get(scheme))


def query_name(raw: str) -> str:
    """A query parameter's name as the application reads it: ``+`` as space, percent-decoded (UTF-8, as form
    decoding does), lower-cased. ``%74oken`` and ``TOKEN`` are both ``token``."""
    if "%" in raw or "+" in raw:
        raw = unquote_plus(raw, errors="replace")
    return raw.lower()


def redact_query(query: str, sensitive: frozenset[str]) -> str:
    """``name=value`` pairs whose name, decoded by ``query_name``, is in ``sensitive`` (lower-cased names) get the
    value ``REDACTED``. The name is kept as sent."""
    if not sensitive:
        return query
    parts = query.split("&")
    changed = False
    for index, part in enumerate(parts):
        key, sep, _ = part.partition("=")
        if sep and query_name(key) in sensitive:
            parts[index] = f"{key}=REDACTED"
            changed = True
    return "&".join(parts) if changed else query


def method_attributes(method: str, limit: int | None, attributes: dict[str, Any]) -> str:
    """Set ``http.request.method`` (``_OTHER``, plus ``http.request.method_original``, for a method outside the
    semantic conventions' set) and return the method part of the span name (``HTTP`` for ``_OTHER``)."""
    if method in KNOWN_METHODS:
        attributes["http.request.method"] = method
        return method
    attributes["http.request.method"] = "_OTHER"
    attributes["http.request.method_original"] = method[:limit] if limit else method
    return "HTTP"


def exception_type_name(exception: BaseException) -> str:
    cls = type(exception)
    module = cls.__module__
    return cls.__qualname__ if module in ("builtins", "__main__") else f"{module}.{cls.__qualname__}"
