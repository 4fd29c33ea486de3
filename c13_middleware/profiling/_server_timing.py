"""Response headers for a profiled request: ``X-C13-Profile-Id`` and, for authorised requests, ``Server-Timing``.

Syntax (https://w3c.github.io/server-timing): ``metric *( OWS "," OWS metric )``,
``metric = metric-name *( OWS ";" OWS server-timing-param )``, the name a ``token`` and ``dur``/``desc`` params whose
values are a token or a ``quoted-string``. Durations are milliseconds. Span names become metric names by replacing
every non-token character with ``_``; the original name goes, escaped, into ``desc``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from ._triggers import ProfileDecision
from ._types import ProfileReport

__all__ = ["PROFILE_ID_HEADER", "profile_response_headers", "server_timing_value"]

PROFILE_ID_HEADER = "x-c13-profile-id"
_NOT_TCHAR = re.compile(r"[^!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_MAX_SPANS = 10
_MAX_DESC = 100


def _token(name: str) -> str:
    token = _NOT_TCHAR.sub("_", name).strip("_")[:64]
    return token or "span"


def _quoted(text: str) -> str:
    """A quoted-string: printable ASCII only (others become ``?``), with ``"`` and ``\\`` escaped."""
    clean = "".join(ch if " " <= ch <= "~" or ch == "\t" else "?" for ch in text[:_MAX_DESC])
    return '"' + clean.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _metric(name: str, seconds: float, desc: str | None = None) -> str:
    value = f"{name};dur={max(0.0, seconds) * 1000:.1f}"
    return value if desc is None else f"{value};desc={_quoted(desc)}"


def server_timing_value(profile: ProfileReport, child_spans: Sequence[tuple[str, float]]) -> str:
    """``total``, ``cpu``, ``io-wait`` and up to 10 of the longest child spans ``(name, duration_s)``."""
    metrics = [
        _metric("total", profile.wall_s),
        _metric("cpu", profile.cpu_s),
        _metric("io-wait", profile.io_wait_s),
    ]
    longest = sorted(child_spans, key=lambda item: item[1], reverse=True)[:_MAX_SPANS]
    metrics.extend(_metric(_token(name), duration, name) for name, duration in longest)
    return ", ".join(metrics)


def profile_response_headers(
    profile: ProfileReport, decision: ProfileDecision, child_spans: Sequence[tuple[str, float]] = ()
) -> list[tuple[str, str]]:
    """Headers to add to a profiled response: the id always, Server-Timing only if the request was authorised."""
    headers = [(PROFILE_ID_HEADER, profile.profile_id)]
    if decision.authorized:
        headers.append(("server-timing", server_timing_value(profile, child_spans)))
    return headers
