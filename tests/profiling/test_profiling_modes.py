"""CPU/IO split and IO classification, MEMORY mode and EXACT mode."""

from __future__ import annotations

import asyncio
import socket
import sys
import threading
import time

import pytest

from c13_middleware.profiling import (
    ACTIVE_SESSIONS,
    SPAN_ACTIVATION_LISTENER,
    Profiler,
    ProfileSession,
    ProfileType,
    SampleState,
)
from tests.profiling.profiling_helpers import burn_alpha, run_async


def fib(n: int) -> int:
    return n if n < 2 else fib(n - 1) + fib(n - 2)


def leaf_call(x: int) -> int:
    return x + 1


def many_calls(n: int) -> int:
    total = 0
    for i in range(n):
        total += leaf_call(i)
    return total


def test_cpu_and_sleep_are_split() -> None:
    with Profiler() as profiler:
        burn_alpha(0.1)
        time.sleep(0.1)
    report = profiler.generate_report()
    assert 0.07 <= report.cpu_s <= 0.14
    assert 0.08 <= report.io_wait_s <= 0.13
    assert report.cpu_s + report.io_wait_s + report.other_wait_s == pytest.approx(report.wall_s, abs=0.03)
    sleeps = [e for e in report.slow_io if e.kind == "sleep"]
    assert len(sleeps) == 1 and sleeps[0].name == "time.sleep" and 0.08 <= sleeps[0].duration_s <= 0.13
    assert sleeps[0].where.endswith(f"{__file__}:{test_cpu_and_sleep_are_split.__code__.co_firstlineno + 3}")
    states = {s.state for s in report.samples}
    assert SampleState.CPU in states and SampleState.IO in states


def test_socket_wait_is_io_and_lock_wait_is_not() -> None:
    left, right = socket.socketpair()
    lock = threading.Lock()
    lock.acquire()

    def later() -> None:
        time.sleep(0.08)
        right.sendall(b"x")
        time.sleep(0.08)
        lock.release()

    helper = threading.Thread(target=later)
    helper.start()
    try:
        with Profiler() as profiler:
            assert left.recv(1) == b"x"
            with lock:
                pass
        helper.join()
    finally:
        left.close()
        right.close()
    report = profiler.generate_report()
    recvs = [e for e in report.slow_io if e.kind == "socket"]
    assert len(recvs) == 1 and recvs[0].name == "left.recv"
    assert 0.05 <= report.io_wait_s <= 0.12  # the recv, not the lock
    assert report.other_wait_s >= 0.05  # the lock wait
    assert not [e for e in report.slow_io if "lock" in e.name]


@run_async
async def test_blocking_call_on_the_event_loop_is_flagged() -> None:
    async with Profiler() as profiler:
        time.sleep(0.07)  # blocks every request on this loop
    report = profiler.generate_report()
    [event] = [e for e in report.slow_io if e.kind == "sleep"]
    assert event.blocking_loop
    assert [r.rule for r in report.recommendations] == ["blocking_io_in_event_loop"]


def test_external_io_records_are_reported_when_slow() -> None:
    with Profiler() as profiler:
        profiler.record_io("GET https://api.example/users", 0.2, "app/users.py:10")
        profiler.record_io("GET https://api.example/fast", 0.01, "app/users.py:11")
    [event] = profiler.generate_report().slow_io
    assert (event.name, event.duration_s, event.where, event.source) == (
        "GET https://api.example/users",
        0.2,
        "app/users.py:10",
        "external",
    )


def test_memory_mode_reports_top_sites_with_process_scope() -> None:
    with Profiler(ProfileType.MEMORY) as profiler:
        kept = [bytearray(1000) for _ in range(5000)]
        del kept[:2500]
    report = profiler.generate_report()
    assert report.memory is not None and report.memory_scope == "process"
    assert report.memory.allocated_bytes >= 2_400_000
    assert report.memory.peak_bytes >= 4_900_000
    top = report.memory_hotspots[0]
    assert top.file == __file__ and top.size_bytes >= 2_400_000 and top.count >= 2500
    assert len(report.memory_hotspots) <= 10
    assert all("c13_middleware/_profiling" not in site.file for site in report.memory_hotspots)


def test_memory_mode_leaves_an_application_tracemalloc_running() -> None:
    import tracemalloc

    tracemalloc.start()
    try:
        with Profiler(ProfileType.MEMORY) as profiler:
            data = [str(i) * 10 for i in range(1000)]
        assert tracemalloc.is_tracing()
        assert data and profiler.generate_report().memory is not None
    finally:
        tracemalloc.stop()


def test_exact_mode_counts_calls_exactly() -> None:
    with Profiler(ProfileType.EXACT) as profiler:
        many_calls(12_345)
        fib(10)
    report = profiler.generate_report()
    stats = {f.name: f for f in report.functions}
    assert stats["leaf_call"].calls == 12_345 and stats["leaf_call"].calls_exact
    assert stats["many_calls"].calls == 1
    assert stats["fib"].calls == 177  # fib(10) makes 177 calls
    leaf = stats["leaf_call"]
    assert leaf.min_s is not None and leaf.avg_s is not None and leaf.max_s is not None
    assert 0 < leaf.min_s <= leaf.avg_s <= leaf.max_s
    assert [r.rule for r in report.recommendations] == ["frequent_calls"]
    assert report.recommendations[0].function == "leaf_call" and report.recommendations[0].value == 12_345


def test_exact_mode_counts_generator_calls_once() -> None:
    def numbers(n: int):  # type: ignore[no-untyped-def]
        yield from range(n)

    with Profiler(ProfileType.EXACT) as profiler:
        assert sum(numbers(100)) == 4950
        assert sum(numbers(10)) == 45
    stats = {f.name.rsplit(".", 1)[-1]: f for f in profiler.generate_report().functions}
    assert stats["numbers"].calls == 2


@run_async
async def test_exact_mode_separates_interleaved_requests() -> None:
    async def request(n: int) -> None:
        for _ in range(5):
            many_calls(n)
            await asyncio.sleep(0)

    a, b = ProfileSession(ProfileType.EXACT), ProfileSession(ProfileType.EXACT)
    await asyncio.gather(a.run_async(request(100)), b.run_async(request(7)))
    count = {s: {f.name: f.calls for f in s.report().functions}["leaf_call"] for s in (a, b)}
    assert count == {a: 500, b: 35}


def test_exact_mode_steps_aside_for_another_profiler() -> None:
    def other(frame: object, event: str, arg: object) -> None:
        return None

    sys.setprofile(other)
    try:
        with Profiler(ProfileType.EXACT) as profiler:
            many_calls(10)
        assert sys.getprofile() is other
    finally:
        sys.setprofile(None)
    report = profiler.generate_report()
    assert any("another profiler" in note for note in report.notes)
    assert all(not f.calls_exact for f in report.functions)


def test_exact_hook_removes_itself_when_stopped_from_another_thread() -> None:
    session = ProfileSession(ProfileType.EXACT)
    session.start()
    many_calls(10)
    stopper = threading.Thread(target=session.stop)
    stopper.start()
    stopper.join()
    many_calls(1)  # the next call event in this thread uninstalls the orphaned hook
    assert sys.getprofile() is None
    assert {f.name: f.calls for f in session.report().functions}["leaf_call"] == 10
    # Another thread cannot edit this thread's context: the stopped session stays listed here, inert.
    assert ACTIVE_SESSIONS.get() == (session,) and not session.active
    ACTIVE_SESSIONS.set(())
    SPAN_ACTIVATION_LISTENER.set(None)
