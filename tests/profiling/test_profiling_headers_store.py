"""Server-Timing syntax, the profile response headers, and the bounded profile store."""

from __future__ import annotations

import re
import threading
from dataclasses import replace

import pytest

from c13_middleware.profiling import (
    ProfileDecision,
    Profiler,
    ProfileReport,
    ProfileStore,
    ProfileType,
    get_profile,
    profile_response_headers,
    server_timing_value,
    store_profile,
)
from tests.profiling.profiling_helpers import burn_alpha

# RFC 9110 token / quoted-string and the Server-Timing grammar (https://w3c.github.io/server-timing).
TCHAR = r"[!#$%&'*+\-.^_`|~0-9A-Za-z]"
TOKEN = f"{TCHAR}+"
QUOTED = r'"(?:[\t \x21\x23-\x5b\x5d-\x7e]|\\[\t \x21-\x7e])*"'
PARAM = rf"{TOKEN}(?:[ \t]*=[ \t]*(?:{TOKEN}|{QUOTED}))?"
METRIC = rf"{TOKEN}(?:[ \t]*;[ \t]*{PARAM})*"
SERVER_TIMING = re.compile(rf"{METRIC}(?:[ \t]*,[ \t]*{METRIC})*")
METRIC_PARTS = re.compile(rf"({TOKEN});dur=([0-9]+\.[0-9])(?:;desc=({QUOTED}))?")


def _unquote(text: str) -> str:
    return re.sub(r"\\(.)", r"\1", text[1:-1])


@pytest.fixture(scope="module")
def report() -> ProfileReport:
    with Profiler(store=None) as profiler:
        burn_alpha(0.02)
    return profiler.generate_report()


def test_server_timing_is_valid_and_parses_back(report: ProfileReport) -> None:
    spans = [("db query", 0.0123), ('render "home"\\x', 0.004), ("GET /ä", 0.002), ("", 0.001), ("cache", 0.0)]
    value = server_timing_value(report, spans)
    assert SERVER_TIMING.fullmatch(value), value
    metrics = [METRIC_PARTS.fullmatch(part.strip()) for part in value.split(", ")]
    assert all(metrics), value
    parsed = [(m.group(1), float(m.group(2)), _unquote(m.group(3)) if m.group(3) else None) for m in metrics if m]
    assert [name for name, _, _ in parsed[:3]] == ["total", "cpu", "io-wait"]
    assert parsed[0][1] == pytest.approx(report.wall_s * 1000, abs=0.06)
    assert parsed[1][1] == pytest.approx(report.cpu_s * 1000, abs=0.06)
    assert parsed[3] == ("db_query", 12.3, "db query")
    assert parsed[4] == ("render_home_x", 4.0, 'render "home"\\x')
    assert parsed[5] == ("GET", 2.0, "GET /?")
    assert parsed[6] == ("span", 1.0, "")


def test_server_timing_keeps_the_ten_longest_spans(report: ProfileReport) -> None:
    spans = [(f"s{i}", i / 1000) for i in range(30)]
    value = server_timing_value(report, spans)
    names = [part.split(";")[0] for part in value.split(", ")][3:]
    assert names == [f"s{i}" for i in range(29, 19, -1)]


def test_profile_headers_detail_only_for_authorised_requests(report: ProfileReport) -> None:
    signed = profile_response_headers(report, ProfileDecision(ProfileType.CPU, "header", authorized=True), [("a", 1)])
    assert signed[0] == ("x-c13-profile-id", report.profile_id)
    assert signed[1][0] == "server-timing" and "a;dur=1000.0" in signed[1][1]
    sampled = profile_response_headers(report, ProfileDecision(ProfileType.CPU, "sampled"), [("a", 1)])
    assert sampled == [("x-c13-profile-id", report.profile_id)]


def test_store_evicts_by_count_lru(report: ProfileReport) -> None:
    store = ProfileStore(max_profiles=3)
    reports = [replace(report, profile_id=f"p{i}") for i in range(4)]
    for r in reports[:3]:
        assert store.put(r)
    assert store.get("p0") is reports[0]  # p0 becomes most recently used
    store.put(reports[3])
    assert store.ids() == ["p2", "p0", "p3"] and store.get("p1") is None and store.evicted == 1
    assert "p3" in store and len(store) == 3
    assert store.remove("p3") and not store.remove("p3")
    store.clear()
    assert len(store) == 0 and store.total_bytes == 0


def test_store_evicts_by_bytes(report: ProfileReport) -> None:
    size = report.approx_bytes
    store = ProfileStore(max_profiles=100, max_bytes=size * 2 + 1)
    for i in range(5):
        store.put(replace(report, profile_id=f"p{i}"))
    assert store.ids() == ["p3", "p4"] and store.total_bytes == 2 * size
    tiny = ProfileStore(max_bytes=size - 1)
    assert not tiny.put(report) and len(tiny) == 0
    store.put(replace(report, profile_id="p4"))  # replacing keeps the byte count right
    assert store.total_bytes == 2 * size
    with pytest.raises(ValueError):
        ProfileStore(max_profiles=0)


def test_store_is_thread_safe(report: ProfileReport) -> None:
    store = ProfileStore(max_profiles=50)
    copies = [replace(report, profile_id=f"t{i}") for i in range(400)]

    def writer(chunk: list[ProfileReport]) -> None:
        for r in chunk:
            store.put(r)
            store.get(r.profile_id)

    threads = [threading.Thread(target=writer, args=(copies[i::4],)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(store) == 50 and store.total_bytes == 50 * report.approx_bytes and store.evicted == 350


def test_default_store_lookup(report: ProfileReport) -> None:
    assert store_profile(replace(report, profile_id="default-1"))
    assert get_profile("default-1") is not None and get_profile("missing") is None
