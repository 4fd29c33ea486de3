"""Deciding whether a request is profiled: signed header, sampled fraction, slow-request capture.

Header trigger: ``X-C13-Profile: cpu|memory|exact`` plus ``X-C13-Profile-Token: <expiry>.<mac>`` where ``expiry``
is a unix time in whole seconds and ``mac`` is the unpadded urlsafe base64 of
``HMAC-SHA256(secret, "<METHOD>\\n<path>\\n<expiry>")`` (method upper-cased, path without the query string). The
MAC is compared in constant time, expired tokens and tokens valid for longer than ``max_token_ttl_s`` are refused,
and anything wrong is ignored silently (the request runs unprofiled). Without a secret the header is ignored.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import random
import time
from collections.abc import Callable
from dataclasses import dataclass

from ._types import ProfileType

__all__ = ["PROFILE_HEADER", "TOKEN_HEADER", "ProfileDecision", "ProfilingPolicy", "mint_token", "verify_token"]

PROFILE_HEADER = "x-c13-profile"
TOKEN_HEADER = "x-c13-profile-token"
_MAX_TOKEN_LEN = 128


def _key(secret: str | bytes) -> bytes:
    return secret.encode() if isinstance(secret, str) else bytes(secret)


def _mac(key: bytes, method: str, path: str, expiry: int) -> str:
    digest = hmac.new(key, f"{method.upper()}\n{path}\n{expiry}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def mint_token(secret: str | bytes, method: str, path: str, ttl_s: float, *, now: float | None = None) -> str:
    """A token authorising one profiled request to ``method path`` for ``ttl_s`` seconds."""
    if not secret:
        raise ValueError("secret must not be empty")
    if ttl_s <= 0:
        raise ValueError("ttl_s must be > 0")
    expiry = int((time.time() if now is None else now) + ttl_s)
    return f"{expiry}.{_mac(_key(secret), method, path, expiry)}"


def verify_token(
    secret: str | bytes, method: str, path: str, token: str, *, now: float | None = None, max_ttl_s: float = 86_400
) -> bool:
    if not secret or not token or len(token) > _MAX_TOKEN_LEN:
        return False
    expiry_text, _, mac = token.strip().partition(".")
    if not expiry_text.isdigit() or not mac:
        return False
    expiry = int(expiry_text)
    current = time.time() if now is None else now
    if expiry < current or expiry > current + max_ttl_s:
        return False
    return hmac.compare_digest(_mac(_key(secret), method, path, expiry).encode(), mac.encode("ascii", "replace"))


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
        max_token_ttl_s: float = 86_400,
        clock: Callable[[], float] = time.time,
        rng: Callable[[], float] = random.random,
    ) -> None:
        if not 0.0 <= sample_rate <= 1.0:
            raise ValueError("sample_rate must be within [0, 1]")
        if slow_threshold_s is not None and slow_threshold_s < 0:
            raise ValueError("slow_threshold_s must be >= 0")
        self.secret = _key(secret) if secret else None
        self.sample_rate = sample_rate
        self.slow_threshold_s = slow_threshold_s
        self.default_type = ProfileType.parse(default_type)
        self.max_token_ttl_s = max_token_ttl_s
        self._clock = clock
        self._rng = rng
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
            assert self.secret is not None
            if token and verify_token(
                self.secret, method, path, token, now=self._clock(), max_ttl_s=self.max_token_ttl_s
            ):
                return ProfileDecision(profile_type, "header", authorized=True)
        except Exception:  # unknown type, odd header values: ignored silently
            return None
        return None
