"""Who may profile a request: signed header tokens, sampled and slow-request capture, the token CLI."""

from __future__ import annotations

import time

import pytest

from c13_middleware.profile_token import main as token_cli
from c13_middleware.profiling import ProfileDecision, ProfileType, ProfilingPolicy, mint_token, verify_token

SECRET = "s3cret-profiling-key"
NOW = 1_700_000_000.0


def headers(**values: str) -> object:
    table = {k.replace("_", "-"): v for k, v in values.items()}
    return table.get


def policy(**kwargs: object) -> ProfilingPolicy:
    return ProfilingPolicy(SECRET, clock=lambda: NOW, **kwargs)  # type: ignore[arg-type]


def test_valid_token_turns_profiling_on_for_that_request() -> None:
    token = mint_token(SECRET, "get", "/orders/1", 300, now=NOW)
    expiry, mac = token.split(".")
    assert int(expiry) == NOW + 300 and len(mac) == 43 and "=" not in mac
    for value, kind in (("cpu", ProfileType.CPU), (" Memory ", ProfileType.MEMORY), ("exact", ProfileType.EXACT)):
        decision = policy().decide("GET", "/orders/1", headers(x_c13_profile=value, x_c13_profile_token=token))
        assert decision == ProfileDecision(kind, "header", authorized=True)


@pytest.mark.parametrize(
    ("method", "path", "token_of", "note"),
    [
        ("GET", "/orders/1", lambda: mint_token(SECRET, "GET", "/orders/1", 300, now=NOW - 301), "expired"),
        ("GET", "/orders/1", lambda: mint_token("other-secret", "GET", "/orders/1", 300, now=NOW), "forged"),
        ("POST", "/orders/1", lambda: mint_token(SECRET, "GET", "/orders/1", 300, now=NOW), "other method"),
        ("GET", "/orders/2", lambda: mint_token(SECRET, "GET", "/orders/1", 300, now=NOW), "other path"),
        ("GET", "/orders/1", lambda: mint_token(SECRET, "GET", "/orders/1", 3 * 86_400, now=NOW), "ttl too long"),
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
    token = mint_token(SECRET, "GET", "/x", 60, now=NOW)
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
