"""Deciding whether a request is profiled: signed header, sampled fraction, slow-request capture.

Header trigger: ``X-C13-Profile: cpu|memory|exact`` plus ``X-C13-Profile-Token: <expiry>.<nonce>.<mac>`` where
``expiry`` is a unix time in whole seconds, ``nonce`` random urlsafe base64, and ``mac`` the unpadded urlsafe base64
of ``HMAC-SHA256(secret, "<METHOD>\\n<path>\\n<expiry>\\n<type>\\n<nonce>")`` (method upper-cased, path without
the query string, type ``cpu``/``memory``/``exact``). The MAC is compared in constant time; expired tokens and tokens
valid for longer than ``MAX_TOKEN_TTL_S`` (one hour, whatever the token claims) are refused; a token is accepted once
per process (``ReplayCache``). Anything wrong is ignored silently (the request runs unprofiled). Without a secret the
header is ignored. The rules are stated in docs/security.md.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import random
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from ..trace._semconv import is_ascii_number
from ._types import ProfileType

__all__ = [
    "MAX_TOKEN_TTL_S",
    "PROFILE_HEADER",
    "TOKEN_HEADER",
    "ProfileDecision",
    "ProfilingPolicy",
    "ReplayCache",
    "mint_token",
    "verify_token",
]

PROFILE_HEADER = "x-c13-profile"
TOKEN_HEADER = "x-c13-profile-token"
MAX_TOKEN_TTL_S = 3600
_MAX_TOKEN_LEN = 128


def _key(secret: str | bytes) -> bytes:
    return secret.encode() if isinstance(secret, str) else bytes(secret)


def _mac(key: bytes, method: str, path: str, expiry: int, profile_type: ProfileType, nonce: str) -> str:
    message = f"{method.upper()}\n{path}\n{expiry}\n{profile_type.value}\n{nonce}".encode()
    return base64.urlsafe_b64encode(hmac.new(key, message, hashlib.sha256).digest()).rstrip(b"=").decode("ascii")


def mint_token(
    secret: str | bytes,
    method: str,
    path: str,
    ttl_s: float,
    *,
    now: float | None = None,
    profile_type: ProfileType | str = ProfileType.CPU,
) -> str:
    """A token authorising one ``profile_type`` profile of one request to ``method path``, for ``ttl_s`` seconds
    (at most ``MAX_TOKEN_TTL_S``)."""
    if not secret:
        raise ValueError("secret must not be empty")
    if not 0 < ttl_s <= MAX_TOKEN_TTL_S:
        raise ValueError(f"ttl_s must be > 0 and <= {MAX_TOKEN_TTL_S}")
    kind = ProfileType.parse(profile_type)
    expiry = int((time.time() if now is None else now) + ttl_s)
    nonce = base64.urlsafe_b64encode(secrets.token_bytes(9)).decode("ascii")
    return f"{expiry}.{nonce}.{_mac(_key(secret), method, path, expiry, kind, nonce)}"


def verify_token(
    secret: str | bytes,
    method: str,
    path: str,
    token: str,
    *,
    now: float | None = None,
    max_ttl_s: float = MAX_TOKEN_TTL_S,
    profile_type: ProfileType | str = ProfileType.CPU,
) -> bool:
    """Whether ``token`` is a valid, unexpired token for a ``profile_type`` profile of ``method path``. Stateless:
    single use is enforced by ``ProfilingPolicy`` (``ReplayCache``). ``max_ttl_s`` can only shorten the lifetime."""
    return _verified_expiry(secret, method, path, token, now, max_ttl_s, profile_type) is not None


def _verified_expiry(
    secret: str | bytes,
    method: str,
    path: str,
    token: str,
    now: float | None,
    max_ttl_s: float,
    profile_type: ProfileType | str,
) -> int | None:
    if not secret or not isinstance(token, str) or not token or len(token) > _MAX_TOKEN_LEN:
        return None
    parts = token.strip().split(".")
    if len(parts) != 3:
        return None
    expiry_text, nonce, mac = parts
    if not (is_ascii_number(expiry_text, 12) and nonce and mac):
        return None
    expiry = int(expiry_text)
    current = time.time() if now is None else now
    if expiry < current or expiry > current + min(max_ttl_s, MAX_TOKEN_TTL_S):
        return None
    expected = _mac(_key(secret), method, path, expiry, ProfileType.parse(profile_type), nonce)
    return expiry if hmac.compare_digest(expected.encode(), mac.encode("ascii", "replace")) else None


class ReplayCache:
    """The MACs of tokens already accepted, with their expiry: a token is accepted once. Bounded: expired entries
    are evicted when the cache is full, and while it is full of live tokens new ones are refused (fail closed).
    ``capacity`` live tokens is ``capacity`` profiled requests within one token lifetime."""

    def __init__(self, capacity: int = 4096) -> None:
        self.capacity = capacity
        self._used: dict[str, int] = {}
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._used)

    def first_use(self, mac: str, expiry: int, now: float) -> bool:
        """Record ``mac``; False when it was seen before (a replay) or there is no room."""
        with self._lock:
            used = self._used
            if mac in used:
                return False
            if len(used) >= self.capacity:
                for key in [key for key, until in used.items() if until < now]:
                    del used[key]
                if len(used) >= self.capacity:
                    return False
            used[mac] = expiry
            return True


# One per process: every middleware in the process shares it, so a token is used at most once per worker process.
PROCESS_REPLAY_CACHE = ReplayCache()


@dataclass(frozen=True, slots=True)
class ProfileDecision:
    """Profile this request. ``authorized``: the caller proved it may see details (Server-Timing breakdown).

    ``keep_if_slower_than_s``: slow-request capture; keep the profile only if the request took at least this long.
    """

    profile_type: ProfileType
    reason: str  # "header", "sampled" or "slow"
    authorized: bool = False
    keep_if_slower_than_s: float | None = None

    def keep(self, wall_s: float) -> bool:
        return self.keep_if_slower_than_s is None or wall_s >= self.keep_if_slower_than_s


class ProfilingPolicy:
    """Which requests to profile. Checked on every request: with nothing configured ``decide`` returns at once."""

    def __init__(
        self,
        secret: str | bytes | None = None,
        sample_rate: float = 0.0,
        slow_threshold_s: float | None = None,
        default_type: ProfileType | str = ProfileType.CPU,
        *,
        max_token_ttl_s: float = MAX_TOKEN_TTL_S,
        clock: Callable[[], float] = time.time,
        rng: Callable[[], float] = random.random,
        replay_cache: ReplayCache | None = None,
    ) -> None:
        if not 0.0 <= sample_rate <= 1.0:
            raise ValueError("sample_rate must be within [0, 1]")
        if slow_threshold_s is not None and slow_threshold_s < 0:
            raise ValueError("slow_threshold_s must be >= 0")
        if not 0 < max_token_ttl_s <= MAX_TOKEN_TTL_S:
            raise ValueError(f"max_token_ttl_s must be > 0 and <= {MAX_TOKEN_TTL_S}")
        self.secret = _key(secret) if secret else None
        self.sample_rate = sample_rate
        self.slow_threshold_s = slow_threshold_s
        self.default_type = ProfileType.parse(default_type)
        self.max_token_ttl_s = max_token_ttl_s
        self._clock = clock
        self._rng = rng
        self._replay = PROCESS_REPLAY_CACHE if replay_cache is None else replay_cache
        self._off = self.secret is None and sample_rate == 0.0 and slow_threshold_s is None

    @property
    def enabled(self) -> bool:
        return not self._off

    def decide(self, method: str, path: str, header: Callable[[str], str | None]) -> ProfileDecision | None:
        """``header(name)`` returns a request header by lower-case name, or None. Never raises."""
        if self._off:
            return None
        if self.secret is not None:
            decision = self._from_header(method, path, header)
            if decision is not None:
                return decision
        if self.sample_rate and self._rng() < self.sample_rate:
            return ProfileDecision(self.default_type, "sampled")
        if self.slow_threshold_s is not None:
            return ProfileDecision(self.default_type, "slow", keep_if_slower_than_s=self.slow_threshold_s)
        return None

    def _from_header(self, method: str, path: str, header: Callable[[str], str | None]) -> ProfileDecision | None:
        try:
            requested = header(PROFILE_HEADER)
            if not requested:
                return None
            profile_type = ProfileType.parse(requested)
            token = header(TOKEN_HEADER)
            if not token:
                return None
            assert self.secret is not None
            now = self._clock()
            expiry = _verified_expiry(self.secret, method, path, token, now, self.max_token_ttl_s, profile_type)
            if expiry is not None and self._replay.first_use(token.strip().rpartition(".")[2], expiry, now):
                return ProfileDecision(profile_type, "header", authorized=True)
        except Exception:  # unknown type, odd header values: ignored silently
            return None
        return None
