"""Who may profile a request: signed header tokens, sampled and slow-request capture, the token CLI."""

from __future__ import annotations

import time

import pytest

from c13_middleware.profile_token import main as token_cli
from c13_middleware.profiling import ProfileDecision, ProfileType, ProfilingPolicy, mint_token, verify_token
from c13_middleware.profiling._triggers import MAX_TOKEN_TTL_S, PROCESS_REPLAY_CACHE, TOKEN_HEADER, ReplayCache
from c13_middleware.trace._config import FORBIDDEN_HEADERS

SECRET = "s3cret-profiling-key"
NOW = 1_700_000_000.0


def headers(**values: str) -> object:
    table = {k.replace("_", "-"): v for k, v in values.items()}
    return table.get


def policy(**kwargs: object) -> ProfilingPolicy:
    return ProfilingPolicy(SECRET, clock=lambda: NOW, replay_cache=ReplayCache(), **kwargs)  # type: ignore[arg-type]


def test_valid_token_turns_profiling_on_for_that_request() -> None:
    for value, kind in (("cpu", ProfileType.CPU), (" Memory ", ProfileType.MEMORY), ("exact", ProfileType.EXACT)):
        token = mint_token(SECRET, "get", "/orders/1", 300, now=NOW, profile_type=kind)
        expiry, nonce, mac = token.split(".")
        assert int(expiry) == NOW + 300 and nonce and len(mac) == 43 and "=" not in mac
        decision = policy().decide("GET", "/orders/1", headers(x_c13_profile=value, x_c13_profile_token=token))
        assert decision == ProfileDecision(kind, "header", authorized=True)


def test_a_token_is_used_once() -> None:
    token = mint_token(SECRET, "GET", "/x", 300, now=NOW)
    shared = policy()
    grants = [shared.decide("GET", "/x", headers(x_c13_profile="cpu", x_c13_profile_token=token)) for _ in range(5)]
    assert [grant is not None for grant in grants] == [True, False, False, False, False]
    # Padding the token does not make it another one.
    again = shared.decide("GET", "/x", headers(x_c13_profile="cpu", x_c13_profile_token=f" {token} "))
    assert again is None
    # A fresh token for the same request is accepted: tokens differ even when minted in the same second.
    fresh = mint_token(SECRET, "GET", "/x", 300, now=NOW)
    assert fresh != token
    assert shared.decide("GET", "/x", headers(x_c13_profile="cpu", x_c13_profile_token=fresh)) is not None


def test_single_use_holds_across_policies_of_one_process() -> None:
    token = mint_token(SECRET, "GET", "/x", 300)
    first, second = ProfilingPolicy(SECRET), ProfilingPolicy(SECRET)
    request = headers(x_c13_profile="cpu", x_c13_profile_token=token)
    assert first.decide("GET", "/x", request) is not None
    assert second.decide("GET", "/x", request) is None
    assert first._replay is second._replay is PROCESS_REPLAY_CACHE


@pytest.mark.parametrize(("minted", "requested"), [("cpu", "memory"), ("memory", "cpu"), ("cpu", "exact")])
def test_a_token_is_bound_to_its_profile_type(minted: str, requested: str) -> None:
    token = mint_token(SECRET, "GET", "/x", 300, now=NOW, profile_type=minted)
    assert policy().decide("GET", "/x", headers(x_c13_profile=requested, x_c13_profile_token=token)) is None
    assert not verify_token(SECRET, "GET", "/x", token, now=NOW, profile_type=requested)
    assert verify_token(SECRET, "GET", "/x", token, now=NOW, profile_type=minted)


def test_the_lifetime_is_capped_whatever_the_token_claims() -> None:
    # Minted "in the future", so its expiry is two hours away: a valid MAC, but over the one-hour cap.
    token = mint_token(SECRET, "GET", "/x", 300, now=NOW + 7200 - 300)
    assert not verify_token(SECRET, "GET", "/x", token, now=NOW)
    assert not verify_token(SECRET, "GET", "/x", token, now=NOW, max_ttl_s=86_400)  # cannot be raised
    assert verify_token(SECRET, "GET", "/x", token, now=NOW + 7200 - MAX_TOKEN_TTL_S)
    with pytest.raises(ValueError):
        mint_token(SECRET, "GET", "/x", MAX_TOKEN_TTL_S + 1)
    with pytest.raises(ValueError):
        ProfilingPolicy(SECRET, max_token_ttl_s=86_400)


def test_the_replay_cache_is_bounded_and_evicts_expired_entries() -> None:
    cache = ReplayCache(capacity=3)
    assert all(cache.first_use(f"m{i}", expiry=int(NOW) + 10, now=NOW) for i in range(3))
    assert not cache.first_use("m0", expiry=int(NOW) + 10, now=NOW)  # a replay
    assert not cache.first_use("m3", expiry=int(NOW) + 10, now=NOW)  # full of live tokens: refused
    assert len(cache) == 3
    assert cache.first_use("m3", expiry=int(NOW) + 100, now=NOW + 11)  # the others expired and were evicted
    assert len(cache) == 1


def test_the_token_header_is_never_recorded() -> None:
    assert TOKEN_HEADER in FORBIDDEN_HEADERS


@pytest.mark.parametrize(
    ("method", "path", "token_of", "note"),
    [
        ("GET", "/orders/1", lambda: mint_token(SECRET, "GET", "/orders/1", 300, now=NOW - 301), "expired"),
        ("GET", "/orders/1", lambda: mint_token("other-secret", "GET", "/orders/1", 300, now=NOW), "forged"),
        ("POST", "/orders/1", lambda: mint_token(SECRET, "GET", "/orders/1", 300, now=NOW), "other method"),
        ("GET", "/orders/2", lambda: mint_token(SECRET, "GET", "/orders/1", 300, now=NOW), "other path"),
        ("GET", "/orders/1", lambda: mint_token(SECRET, "GET", "/orders/1", 300, now=NOW + 3600), "ttl too long"),
        (
            "GET",
            "/orders/1",
            lambda: mint_token(SECRET, "GET", "/orders/1", 300, now=NOW).replace(".", "..", 1),
            "4 parts",
        ),
        ("GET", "/orders/1", lambda: "1700000100.bm9uY2U.", "empty mac"),
        ("GET", "/orders/1", lambda: "\u00b9700000100.bm9uY2U.mac", "non-ascii expiry"),
        ("GET", "/orders/1", lambda: "", "absent"),
        ("GET", "/orders/1", lambda: "garbage", "garbage"),
        ("GET", "/orders/1", lambda: "99999999999.", "empty mac"),
        ("GET", "/orders/1", lambda: "1700000100.é", "non-ascii"),
        ("GET", "/orders/1", lambda: "1" * 200, "oversized"),
    ],
)
def test_bad_or_missing_tokens_are_ignored_silently(method: str, path: str, token_of: object, note: str) -> None:
    token = token_of()  # type: ignore[operator]
    assert policy().decide(method, path, headers(x_c13_profile="cpu", x_c13_profile_token=token)) is None, note


def test_tampered_mac_is_refused() -> None:
    token = mint_token(SECRET, "GET", "/x", 60, now=NOW)
    flipped = token[:-1] + ("A" if token[-1] != "A" else "B")
    assert verify_token(SECRET, "GET", "/x", token, now=NOW)
    assert not verify_token(SECRET, "GET", "/x", flipped, now=NOW)
    assert not verify_token(SECRET, "GET", "/x", token, now=NOW + 61)


def test_header_trigger_is_off_without_a_secret_and_for_unknown_types() -> None:
    token = mint_token(SECRET, "GET", "/x", 60, now=NOW)
    no_secret = ProfilingPolicy(secret=None, clock=lambda: NOW)
    assert not no_secret.enabled
    assert no_secret.decide("GET", "/x", headers(x_c13_profile="cpu", x_c13_profile_token=token)) is None
    assert policy().decide("GET", "/x", headers(x_c13_profile="flamegraph", x_c13_profile_token=token)) is None
    assert policy().decide("GET", "/x", headers(x_c13_profile_token=token)) is None

    def exploding(name: str) -> str | None:
        raise KeyError(name)

    assert policy().decide("GET", "/x", exploding) is None


def test_sampled_profiling_uses_the_configured_fraction() -> None:
    draws = iter([0.05, 0.5, 0.09, 0.99])
    sampled = ProfilingPolicy(sample_rate=0.1, default_type="memory", rng=lambda: next(draws))
    results = [sampled.decide("GET", "/", headers()) for _ in range(4)]
    assert [r is not None for r in results] == [True, False, True, False]
    assert results[0] == ProfileDecision(ProfileType.MEMORY, "sampled", authorized=False)
    with pytest.raises(ValueError):
        ProfilingPolicy(sample_rate=1.5)


def test_slow_request_capture_profiles_everything_and_keeps_slow_ones() -> None:
    slow = ProfilingPolicy(slow_threshold_s=0.5)
    decision = slow.decide("GET", "/", headers())
    assert decision is not None and decision.reason == "slow" and not decision.authorized
    assert not decision.keep(0.2) and decision.keep(0.5)
    assert ProfileDecision(ProfileType.CPU, "header").keep(0.0)
    with pytest.raises(ValueError):
        ProfilingPolicy(slow_threshold_s=-1)


def test_header_wins_over_sampling() -> None:
    token = mint_token(SECRET, "GET", "/x", 60, now=NOW, profile_type="exact")
    both = policy(sample_rate=1.0, slow_threshold_s=1.0)
    decision = both.decide("GET", "/x", headers(x_c13_profile="exact", x_c13_profile_token=token))
    assert decision == ProfileDecision(ProfileType.EXACT, "header", authorized=True)
    assert both.decide("GET", "/x", headers()) == ProfileDecision(ProfileType.CPU, "sampled")


def test_decide_is_cheap_when_off_and_for_unsigned_requests() -> None:
    off = ProfilingPolicy()
    armed = policy()
    get = headers()
    for subject, budget_us in ((off, 2.0), (armed, 5.0)):
        best = float("inf")
        for _ in range(5):
            start = time.perf_counter()
            for _ in range(10_000):
                subject.decide("GET", "/x", get)  # type: ignore[arg-type]
            best = min(best, (time.perf_counter() - start) / 10_000 * 1e6)
        assert best < budget_us, (subject, best)


def test_mint_token_validates() -> None:
    with pytest.raises(ValueError):
        mint_token("", "GET", "/", 10)
    with pytest.raises(ValueError):
        mint_token(SECRET, "GET", "/", 0)
    assert verify_token(SECRET.encode(), "GET", "/", mint_token(SECRET.encode(), "GET", "/", 10))


def test_token_cli(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("C13_TEST_SECRET", SECRET)
    assert token_cli(["--secret-env", "C13_TEST_SECRET", "--method", "GET", "--path", "/x", "--ttl", "300"]) == 0
    token = capsys.readouterr().out.strip()
    assert verify_token(SECRET, "GET", "/x", token)
    assert token_cli(["--secret-env", "C13_TEST_SECRET", "--method", "GET", "--path", "/x", "--curl"]) == 0
    assert "-H 'x-c13-profile: cpu' -H 'x-c13-profile-token: " in capsys.readouterr().out
    argv = ["--secret-env", "C13_TEST_SECRET", "--method", "GET", "--path", "/x", "--type", "memory"]
    assert token_cli(argv) == 0
    memory_token = capsys.readouterr().out.strip()
    assert verify_token(SECRET, "GET", "/x", memory_token, profile_type="memory")
    assert not verify_token(SECRET, "GET", "/x", memory_token, profile_type="cpu")
    assert token_cli(["--secret-env", "C13_TEST_SECRET", "--method", "GET", "--path", "/x", "--ttl", "3601"]) == 2
    assert "3600" in capsys.readouterr().err
    monkeypatch.delenv("C13_TEST_SECRET")
    assert token_cli(["--secret-env", "C13_TEST_SECRET", "--method", "GET", "--path", "/x"]) == 2
    assert "not set" in capsys.readouterr().err
    monkeypatch.setenv("C13_TEST_SECRET", SECRET)
    assert token_cli(["--secret-env", "C13_TEST_SECRET", "--method", "GET", "--path", "/x", "--ttl", "0"]) == 2


def test_token_cli_runs_as_a_module() -> None:
    import os
    import subprocess
    import sys

    env = {**os.environ, "C13_TEST_SECRET": SECRET}
    args = ["--secret-env", "C13_TEST_SECRET", "--method", "GET", "--path", "/x", "--ttl", "60"]
    done = subprocess.run(
        [sys.executable, "-m", "c13_middleware.profile_token", *args], env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert verify_token(SECRET, "GET", "/x", done.stdout.strip())
