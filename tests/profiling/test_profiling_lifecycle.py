"""Starting and stopping: the standalone Profiler, sessions, the sampler thread's life."""

from __future__ import annotations

import asyncio
import logging
import threading
import time

import pytest

from c13_middleware.profiling import (
    ProfileDecision,
    Profiler,
    ProfileSession,
    ProfileStore,
    ProfileType,
    _session,
    configure_sampler,
    default_store,
    finish_profile,
    get_profile,
)
from c13_middleware.profiling._sampler import SAMPLER
from tests.profiling.profiling_helpers import burn_alpha, has, run_async, share


def test_start_stop_twice_gives_two_profiles() -> None:
    profiler = Profiler(ProfileType.CPU)
    ids = []
    for _ in range(2):
        profiler.start()
        assert profiler.is_running and SAMPLER.running
        burn_alpha(0.05)
        report = profiler.stop()
        assert not profiler.is_running
        assert share(report, "burn_alpha") >= 0.9
        ids.append(report.profile_id)
        assert get_profile(report.profile_id) is report  # stored in the default store
    assert ids[0] != ids[1]
    assert not SAMPLER.sampling


def test_misuse_raises_clear_errors() -> None:
    profiler = Profiler()
    with pytest.raises(RuntimeError, match="not running"):
        profiler.stop()
    with pytest.raises(RuntimeError, match="no finished profile"):
        profiler.generate_report()
    with pytest.raises(RuntimeError, match="not running"):
        profiler.record_io("x", 1.0)
    profiler.start()
    try:
        with pytest.raises(RuntimeError, match="already running"):
            profiler.start()
        with pytest.raises(RuntimeError, match="no finished profile"):
            profiler.generate_report()
    finally:
        profiler.stop()
    with pytest.raises(RuntimeError, match="not running"):
        profiler.stop()
    assert profiler.generate_report() is profiler.generate_report()  # built once


def test_session_runs_once_and_reports_only_after_stop() -> None:
    session = ProfileSession()
    with pytest.raises(RuntimeError, match="not running"):
        session.stop()
    session.start()
    with pytest.raises(RuntimeError, match="before asking"):
        session.report()
    session.stop()
    with pytest.raises(RuntimeError, match="runs once"):
        session.start()
    assert session.report().profile_id == session.profile_id


def test_context_manager_and_store_opt_out() -> None:
    store = ProfileStore(max_profiles=5)
    with Profiler("cpu", name="block", store=store) as profiler:
        burn_alpha(0.03)
    report = profiler.generate_report()
    assert report.name == "block" and report.profile_type is ProfileType.CPU
    assert store.get(report.profile_id) is report
    with Profiler(store=None) as unstored:
        burn_alpha(0.01)
    assert get_profile(unstored.generate_report().profile_id) is None


@run_async
async def test_async_context_manager_and_astop() -> None:
    async with Profiler() as profiler:
        burn_alpha(0.05)
        await asyncio.sleep(0.06)
    report = profiler.generate_report()
    assert share(report, "burn_alpha") >= 0.8
    assert report.io_wait_s >= 0.04  # suspended while the loop idled in its selector
    assert any(e.kind == "await" and "asyncio.sleep" in e.name for e in report.slow_io)

    profiler.start()
    burn_alpha(0.03)
    report = await profiler.astop()
    assert report.profile_id == profiler.profile_id and share(report, "burn_alpha") >= 0.8


def sampler_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "c13-profiler-sampler"]


def test_the_sampler_runs_only_while_a_session_is_active(monkeypatch: pytest.MonkeyPatch) -> None:
    assert SAMPLER.stop_idle() and not sampler_threads()
    first, second = ProfileSession(), ProfileSession()
    first.start()
    second.start()
    assert SAMPLER.sampling and SAMPLER.active_sessions == 2 and len(sampler_threads()) == 1
    assert not SAMPLER.stop_idle()  # refuses while sessions are active
    first.stop()
    assert SAMPLER.sampling  # the other session still needs it
    second.stop()
    assert not SAMPLER.sampling and not SAMPLER.markers
    assert first.report() and second.report()
    # Idle, the thread waits (without waking up) for linger_s, then exits by itself.
    monkeypatch.setattr(SAMPLER, "linger_s", 0.05)
    deadline = time.monotonic() + 2.0
    while sampler_threads() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not sampler_threads() and not SAMPLER.running


def test_back_to_back_sessions_reuse_the_parked_thread() -> None:
    with ProfileSession():
        pass
    [thread] = sampler_threads()
    with ProfileSession() as session:
        burn_alpha(0.02)
    assert sampler_threads() == [thread]
    assert has(session.report(), "burn_alpha") > 0


def test_switch_interval_is_lowered_while_sampling_and_restored(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    before = sys.getswitchinterval()
    with ProfileSession():
        assert sys.getswitchinterval() == min(before, 0.0005)
    assert sys.getswitchinterval() == before  # restored at once, even though the thread lingers
    monkeypatch.setattr(SAMPLER, "switch_interval_s", None)
    with ProfileSession():
        assert sys.getswitchinterval() == before


def test_configure_sampler_validates_and_changes_the_rate() -> None:
    with pytest.raises(ValueError):
        configure_sampler(interval_s=5.0)
    old = SAMPLER.interval_s
    configure_sampler(interval_s=0.004)
    try:
        with ProfileSession() as session:
            burn_alpha(0.2)
        overhead = session.report().overhead
        assert overhead.interval_s == 0.004
        assert overhead.achieved_rate_hz < 260  # ~1 / (4 ms + scheduling), clearly below the 1 ms default
    finally:
        configure_sampler(interval_s=old)


def test_run_sync_and_run_async_attach_to_a_running_session() -> None:
    session = ProfileSession()
    session.start()
    assert session.run_sync(burn_alpha, 0.03) > 0
    asyncio.run(session.run_async(asyncio.sleep(0)))
    session.stop()
    assert has(session.report(), "burn_alpha") >= 10


def test_profiler_failures_never_reach_the_request(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise OSError("boom")

    session = ProfileSession()
    monkeypatch.setattr(session, "_begin", broken)
    monkeypatch.setattr(_session, "_logged", set())
    with caplog.at_level(logging.ERROR, logger="c13_middleware.profiling"):
        assert session.run_sync(lambda: 42) == 42
        with session:
            pass
    assert "starting a profile" in caplog.text


def test_slow_request_capture_keeps_only_slow_profiles() -> None:
    store = ProfileStore()
    decision = ProfileDecision(ProfileType.CPU, "slow", keep_if_slower_than_s=0.05)
    fast = ProfileSession()
    fast.run_sync(burn_alpha, 0.005)
    assert finish_profile(fast, decision, store=store) is None and len(store) == 0
    slow = ProfileSession()
    slow.start()
    burn_alpha(0.08)
    report = finish_profile(slow, decision, store=store)  # stops it too
    assert report is not None and store.get(report.profile_id) is report
    assert finish_profile(slow, ProfileDecision(ProfileType.CPU, "header"), store=None) is report
    assert default_store().get(report.profile_id) is None


def test_thread_binding_covers_code_after_the_registered_frame_returns() -> None:
    """Hook-style frameworks start in one function and stop in another: the thread stays bound to the session."""
    session = ProfileSession()

    def before_request() -> None:
        session.start()

    def after_request() -> None:
        session.stop()

    def serve() -> None:
        before_request()
        burn_alpha(0.06)
        after_request()

    thread = threading.Thread(target=serve)
    thread.start()
    thread.join()
    assert share(session.report(), "burn_alpha") >= 0.9
