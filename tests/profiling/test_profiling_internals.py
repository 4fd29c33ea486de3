"""Edge cases of the engine: span bookkeeping, fallbacks, await sites, the protobuf writer, text sections."""

from __future__ import annotations

import asyncio
import logging
import sys
import time

import pytest

from c13_middleware.profiling import (
    SPAN_ACTIVATION_LISTENER,
    Profiler,
    ProfileSession,
    ProfileType,
    SampleState,
    _session,
    configure_sampler,
    render_text,
)
from c13_middleware.profiling._sampler import SAMPLER
from c13_middleware.profiling.renderers._protobuf import Message
from tests.profiling.profiling_helpers import burn_alpha, has, run_async


def test_nested_and_repeated_spans_in_one_frame_are_tracked_and_cleaned() -> None:
    session = ProfileSession(span_id=1)
    with session:
        listener = SPAN_ACTIVATION_LISTENER.get()
        assert listener is not None
        listener(10, True)
        listener(11, True)  # same frame, nested
        burn_alpha(0.04)
        listener(11, False)
        listener(99, False)  # never entered: ignored
        listener(10, True)  # re-entered while still open
        assert session.current_span() == 10
        listener(12, True)  # left open: cleaned up when the session stops
    assert not SAMPLER.markers
    spans = {s.span_id for s in session.report().samples if s.stack}
    assert spans <= {10, 11, 12} and 11 in spans  # 12 is current for the last instructions before the stop
    assert session.current_span() == 12  # the listener's view at stop time
    listener(13, True)  # a stale listener call after stop is harmless
    assert not SAMPLER.markers


def test_listener_of_a_stopped_session_only_forwards() -> None:
    seen: list[int] = []
    token = SPAN_ACTIVATION_LISTENER.set(lambda span, entering: seen.append(span))
    try:
        first = ProfileSession()
        first.start()
        second = ProfileSession()
        second.start()
        first.stop()  # out of order: second's listener still chains first's
        listener = SPAN_ACTIVATION_LISTENER.get()
        assert listener is not None
        listener(5, True)
        second.stop()
        assert SPAN_ACTIVATION_LISTENER.get() is not None and seen == [5]
    finally:
        SPAN_ACTIVATION_LISTENER.reset(token)


@run_async
async def test_async_with_session_and_await_sites() -> None:
    async def inner() -> None:
        await asyncio.sleep(0.08)  # the site: the innermost await of application code

    sleep_line = inner.__code__.co_firstlineno + 1
    session = ProfileSession()
    async with session:  # the chain is read from the task's coroutine, below this registered frame
        await inner()
    [event] = [e for e in session.report().slow_io if e.source == "await"]
    assert event.name == "asyncio.sleep" and event.where == f"{__file__}:{sleep_line}"

    run = ProfileSession()
    await run.run_async(inner())
    [event] = [e for e in run.report().slow_io if e.source == "await"]
    assert event.name == "asyncio.sleep" and event.duration_s >= 0.05
    assert event.where == f"{__file__}:{sleep_line}"


@run_async
async def test_async_generators_in_the_await_chain() -> None:
    async def ticks():  # type: ignore[no-untyped-def]
        for _ in range(2):
            await asyncio.sleep(0.04)
            yield 1

    async def consume() -> int:
        return sum([x async for x in ticks()])

    session = ProfileSession()
    assert await session.run_async(consume()) == 2
    report = session.report()
    assert report.io_wait_s >= 0.05
    # An async generator's asend() awaitable does not expose its generator: the chain ends at the consumer.
    assert {e.name for e in report.slow_io if e.source == "await"} == {"async_generator_asend"}
    assert {e.where for e in report.slow_io if e.source == "await"} == {
        f"{__file__}:{consume.__code__.co_firstlineno + 1}"
    }


def test_failing_run_async_start_is_logged_once(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    session = ProfileSession()

    def broken(*args: object, **kwargs: object) -> None:
        raise OSError("boom")

    monkeypatch.setattr(session, "_begin", broken)
    monkeypatch.setattr(_session, "_logged", set())
    with caplog.at_level(logging.ERROR, logger="c13_middleware.profiling"):
        assert asyncio.run(session.run_async(asyncio.sleep(0, result=7))) == 7
        assert asyncio.run(session.run_async(asyncio.sleep(0, result=8))) == 8
    assert caplog.text.count("starting a profile failed") == 1


def test_without_thread_cpu_clocks_the_leaf_rule_decides(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(SAMPLER._clocks, "available", False)
    with Profiler() as profiler:
        burn_alpha(0.03)
        time.sleep(0.06)
    report = profiler.generate_report()
    states = {s.state for s in report.samples}
    assert states == {SampleState.CPU, SampleState.IO}
    assert report.io_wait_s >= 0.04


def test_configure_switch_interval() -> None:
    old = SAMPLER.switch_interval_s
    configure_sampler(switch_interval_s=0.001)
    try:
        assert SAMPLER.switch_interval_s == 0.001
        configure_sampler(switch_interval_s=None)
        assert SAMPLER.switch_interval_s is None
    finally:
        configure_sampler(switch_interval_s=old)


def test_protobuf_writer_encodings() -> None:
    message = Message().uint(1, 0).uint(2, 300).bool(3, True).bool(4, False).uint(5, -1).packed(6, [])
    assert message.encode() == bytes([0x10, 0xAC, 0x02, 0x18, 0x01, 0x28]) + b"\xff" * 9 + b"\x01"
    assert Message().string(1, "").encode() == b"\x0a\x00"


def test_text_report_memory_and_io_sections() -> None:
    with Profiler(ProfileType.MEMORY) as profiler:
        blob = [bytes(2000) for _ in range(500)]
        time.sleep(0.06)
    assert blob
    text = render_text(profiler.generate_report())
    assert "Memory (process-wide): allocated" in text and " blocks  " in text
    assert "Slow IO" in text and "time.sleep" in text


def test_a_request_that_blocks_then_computes_gets_both_states() -> None:
    session = ProfileSession()
    with session:
        time.sleep(0.03)
        burn_alpha(0.03)
    report = session.report()
    assert has(report, "burn_alpha") > 0
    assert {SampleState.IO, SampleState.CPU} <= {s.state for s in report.samples}


def test_a_context_seen_between_two_task_steps_is_not_cached_as_foreign() -> None:
    """The sampler's stack snapshot can predate its scan: a task's Context may be entered when the stack is taken
    and not any more when the scan runs. That answer must not be cached for the task's coroutine frame, which lives
    across all the task's steps (the cause of rare 'no samples' profiles of spawned tasks)."""
    import contextvars
    from collections.abc import Generator
    from typing import Any

    from c13_middleware.profiling._attribution import Attribution
    from c13_middleware.profiling._discovery import scan_frame
    from c13_middleware.profiling._hooks import ACTIVE_SESSIONS

    class Live:
        active = True

    session = Live()
    ctx = contextvars.copy_context()
    ctx.run(ACTIVE_SESSIONS.set, (session,))

    def step_runner(context: contextvars.Context) -> Generator[None, None, None]:  # holds the Context, like Handle
        yield

    def task_coroutine() -> Generator[None, None, None]:  # the task's frame: no reference to the Context
        yield

    runner, task = step_runner(ctx), task_coroutine()
    next(runner)
    next(task)
    parent, child = runner.gi_frame, task.gi_frame
    assert parent is not None and child is not None
    assert scan_frame(parent, child) is None  # not entered at this instant: undecided
    assert ctx.run(scan_frame, parent, child) == (session,)

    attribution = Attribution()
    frames: list[Any] = [child, parent]
    assert attribution.discover(frames) == {}  # between steps: nothing now ...
    assert ctx.run(attribution.discover, frames) == {session: 1}  # ... and found on the next step
    runner.close()
    task.close()


def test_a_runner_that_has_left_the_call_is_not_cached_as_foreign() -> None:
    """``Handle._run`` ends with ``self = None``: scanned after the step, its locals hold no Context. The task's
    coroutine frame has been suspended by then (``f_back`` is None), so that "nothing here" must not be cached for
    it, or every later step of the task goes unattributed. A live call with nothing in it is a cacheable no."""
    from collections.abc import Generator
    from typing import Any

    from c13_middleware.profiling._attribution import Attribution
    from c13_middleware.profiling._discovery import scan_frame

    def step_runner() -> Generator[None, None, None]:
        self = None  # what the runner holds once its step is over
        yield self

    def task_coroutine() -> Generator[None, None, None]:
        yield

    runner, task = step_runner(), task_coroutine()
    next(runner)
    next(task)
    parent, child = runner.gi_frame, task.gi_frame
    assert parent is not None and child is not None and child.f_back is None
    assert scan_frame(parent, child) is None
    attribution = Attribution()
    assert attribution.discover([child, parent]) == {}
    assert child not in attribution._scans  # scanned again on the task's next step
    runner.close()
    task.close()

    def callee() -> tuple[Any, ...] | None:
        return scan_frame(sys._getframe(1), sys._getframe(0))

    def caller() -> tuple[Any, ...] | None:
        return callee()

    assert caller() == ()


def test_a_discovery_on_a_stale_stack_is_not_kept() -> None:
    """The stack is read before the scan: if the thread has left the scanned frame meanwhile (a pool worker that
    finished an item and entered the next one's Context, another request's), the positive answer is dropped and not
    cached; a frame still running on the thread keeps it."""
    import contextvars
    import sys
    import threading
    from collections.abc import Generator
    from typing import Any

    from c13_middleware.profiling._attribution import Attribution, _still_running
    from c13_middleware.profiling._hooks import ACTIVE_SESSIONS

    class Live:
        active = True

    session = Live()
    ctx = contextvars.copy_context()
    ctx.run(ACTIVE_SESSIONS.set, (session,))

    def runner(context: contextvars.Context) -> Generator[None, None, None]:  # holds the Context, like a worker
        yield

    def callee() -> Generator[None, None, None]:
        yield

    parent_gen, child_gen = runner(ctx), callee()
    next(parent_gen)
    next(child_gen)
    parent, child = parent_gen.gi_frame, child_gen.gi_frame
    assert parent is not None and child is not None
    me = threading.get_ident()
    assert not _still_running(me, child) and _still_running(me, sys._getframe())
    attribution = Attribution()
    frames: list[Any] = [child, parent]
    assert ctx.run(attribution.discover, frames, me) == {}  # entered, but the stack is not this thread's now
    assert child not in attribution._scans
    assert ctx.run(attribution.discover, frames) == {session: 1}  # no thread to check against: kept
    parent_gen.close()
    child_gen.close()


def test_a_thread_subclass_init_is_pool_start_up() -> None:
    """anyio's WorkerThread.__init__ builds its queue before Thread.__init__ runs: its frames are the pool's
    start-up too (one ``[wait] thread pool start-up`` frame), found by the subclass's own ``__init__`` code."""
    import threading

    from c13_middleware.profiling._attribution import _is_thread_init

    class Worker(threading.Thread):
        def __init__(self) -> None:
            super().__init__(daemon=True)

    class Plain:
        def __init__(self) -> None:
            pass

    assert _is_thread_init(Worker.__init__.__code__)
    assert _is_thread_init(Worker.__init__.__code__)  # cached
    assert not _is_thread_init(Plain.__init__.__code__)
