"""Each sample goes to the request whose execution it belongs to: asyncio interleaving, threads, thread pools."""

from __future__ import annotations

import asyncio
import contextvars
import threading
from concurrent.futures import ThreadPoolExecutor

import anyio.to_thread
import httpx
import pytest
from asgiref.sync import sync_to_async
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from c13_middleware import Tracer
from c13_middleware.profiling import ProfileReport, ProfileSession, SampleState
from c13_middleware.profiling._hooks import SPAN_ACTIVATION_LISTENER
from tests.profiling.profiling_helpers import burn_alpha, burn_beta, has, run_async, share

BURN = 0.15


def assert_separated(alpha: ProfileReport, beta: ProfileReport) -> None:
    assert len(alpha.samples) >= 20 and len(beta.samples) >= 20
    assert share(alpha, "burn_alpha") >= 0.9, share(alpha, "burn_alpha")
    assert share(beta, "burn_beta") >= 0.9, share(beta, "burn_beta")
    assert has(alpha, "burn_beta") == 0
    assert has(beta, "burn_alpha") == 0


@run_async
async def test_interleaved_asyncio_requests_are_attributed_apart() -> None:
    async def handler(burn: object) -> None:
        for _ in range(60):
            burn(0.004)  # type: ignore[operator]
            await asyncio.sleep(0)  # hand the loop to the other request

    alpha, beta = ProfileSession(name="alpha"), ProfileSession(name="beta")
    await asyncio.gather(alpha.run_async(handler(burn_alpha)), beta.run_async(handler(burn_beta)))
    a, b = alpha.report(), beta.report()
    assert_separated(a, b)
    # Both ran on the loop thread, interleaved: each was on CPU only part of its wall time.
    assert a.cpu_s < a.wall_s and b.cpu_s < b.wall_s
    assert a.cpu_s > 0.1 and b.cpu_s > 0.1


def test_threaded_requests_are_attributed_apart() -> None:
    reports: dict[str, ProfileReport] = {}

    def serve(name: str, burn: object) -> None:
        session = ProfileSession(name=name)
        session.run_sync(burn, BURN)  # type: ignore[arg-type]
        reports[name] = session.report()

    threads = [
        threading.Thread(target=serve, args=("alpha", burn_alpha)),
        threading.Thread(target=serve, args=("beta", burn_beta)),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert_separated(reports["alpha"], reports["beta"])
    # Two CPU-bound threads share the GIL: each spends a good part of its time waiting for it, not on IO.
    for report in reports.values():
        assert report.io_wait_s < 0.02
        assert {s.state for s in report.samples} <= {SampleState.CPU, SampleState.WAIT}


def _starlette_app() -> Starlette:
    def alpha(request: Request) -> PlainTextResponse:  # sync: Starlette runs it in anyio's thread pool
        burn_alpha(BURN)
        return PlainTextResponse("alpha")

    def beta(request: Request) -> PlainTextResponse:
        burn_beta(BURN)
        return PlainTextResponse("beta")

    return Starlette(routes=[Route("/alpha", alpha), Route("/beta", beta)])


@run_async
async def test_starlette_sync_endpoints_in_the_thread_pool_are_attributed() -> None:
    app = _starlette_app()
    sessions: dict[str, ProfileSession] = {}

    async def profiled(scope, receive, send):  # type: ignore[no-untyped-def]
        session = sessions[scope["path"]] = ProfileSession(name=scope["path"])
        await session.run_async(app(scope, receive, send))

    transport = httpx.ASGITransport(app=profiled)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        responses = await asyncio.gather(client.get("/alpha"), client.get("/beta"))
    assert [r.text for r in responses] == ["alpha", "beta"]
    a, b = sessions["/alpha"].report(), sessions["/beta"].report()
    assert_separated(a, b)
    loop_thread = threading.get_ident()
    assert all(s.thread_id != loop_thread for s in a.samples if any(a.frames[i].name == "burn_alpha" for i in s.stack))


@pytest.mark.parametrize("runner", ["asyncio.to_thread", "anyio", "asgiref", "executor+copy_context"])
@run_async
async def test_thread_pool_runners_are_attributed(runner: str) -> None:
    executor = ThreadPoolExecutor(max_workers=2)

    async def offload(burn: object) -> None:
        if runner == "asyncio.to_thread":
            await asyncio.to_thread(burn, BURN)  # type: ignore[arg-type]
        elif runner == "anyio":
            await anyio.to_thread.run_sync(burn, BURN)  # type: ignore[arg-type]
        elif runner == "asgiref":
            await sync_to_async(burn, thread_sensitive=False)(BURN)  # type: ignore[arg-type]
        else:
            ctx = contextvars.copy_context()
            await asyncio.get_running_loop().run_in_executor(executor, ctx.run, burn, BURN)

    try:
        alpha, beta = ProfileSession(), ProfileSession()
        await asyncio.gather(alpha.run_async(offload(burn_alpha)), beta.run_async(offload(burn_beta)))
    finally:
        executor.shutdown()
    assert_separated(alpha.report(), beta.report())


@run_async
async def test_an_idle_worker_is_not_charged_to_the_request_it_served() -> None:
    executor = ThreadPoolExecutor(max_workers=1)
    session = ProfileSession()

    async def request() -> None:
        ctx = contextvars.copy_context()
        await asyncio.get_running_loop().run_in_executor(executor, ctx.run, burn_alpha, 0.05)
        # The worker now idles in its queue with `ctx` still reachable from its frames: not ours any more.
        await asyncio.sleep(0.15)

    try:
        await session.run_async(request())
    finally:
        executor.shutdown()
    report = session.report()
    worker_samples = [s for s in report.samples if s.thread_id != threading.get_ident()]
    assert worker_samples and all(any(report.frames[i].name == "burn_alpha" for i in s.stack) for s in worker_samples)


@run_async
async def test_tasks_spawned_by_a_request_belong_to_it() -> None:
    async def spawner() -> None:
        task = asyncio.create_task(_spawned())
        await task

    other = ProfileSession()
    session = ProfileSession()
    await asyncio.gather(session.run_async(spawner()), other.run_async(asyncio.sleep(0.2)))
    assert share(session.report(), "burn_alpha") >= 0.9
    assert has(other.report(), "burn_alpha") == 0


async def _spawned() -> None:
    for _ in range(40):
        burn_alpha(0.004)
        await asyncio.sleep(0)


def test_nested_sessions_both_get_the_inner_samples() -> None:
    outer = ProfileSession()
    inner = ProfileSession()
    with outer:
        burn_beta(0.08)
        with inner:
            burn_alpha(0.12)
    o, i = outer.report(), inner.report()
    assert has(o, "burn_alpha") > 0 and has(o, "burn_beta") > 0
    assert share(i, "burn_alpha") >= 0.9 and has(i, "burn_beta") == 0


def test_samples_carry_the_innermost_span() -> None:
    session = ProfileSession(span_id=1)
    with session:
        burn_beta(0.05)
        listener = SPAN_ACTIVATION_LISTENER.get()
        assert listener is not None
        listener(0xA1, True)
        burn_alpha(0.1)
        listener(0xA1, False)
    report = session.report()
    alpha_spans = {s.span_id for s in report.samples if any(report.frames[i].name == "burn_alpha" for i in s.stack)}
    beta_spans = {s.span_id for s in report.samples if any(report.frames[i].name == "burn_beta" for i in s.stack)}
    assert alpha_spans == {0xA1}
    assert beta_spans == {1}
    assert report.span_samples[0xA1] > 0


@run_async
async def test_concurrent_tasks_of_one_request_keep_their_own_spans() -> None:
    session = ProfileSession(span_id=1)

    async def child(span: int, burn: object) -> None:
        listener = SPAN_ACTIVATION_LISTENER.get()
        assert listener is not None
        listener(span, True)
        for _ in range(25):
            burn(0.004)  # type: ignore[operator]
            await asyncio.sleep(0)
        listener(span, False)

    async def request() -> None:
        await asyncio.gather(child(0xB1, burn_alpha), child(0xB2, burn_beta))

    await session.run_async(request())
    report = session.report()
    for span, name in ((0xB1, "burn_alpha"), (0xB2, "burn_beta")):
        spans = {s.span_id for s in report.samples if any(report.frames[i].name == name for i in s.stack)}
        assert spans == {span}


def test_a_previous_span_listener_is_chained() -> None:
    seen: list[tuple[int, bool]] = []
    token = SPAN_ACTIVATION_LISTENER.set(lambda span, entering: seen.append((span, entering)))
    try:
        with ProfileSession():
            listener = SPAN_ACTIVATION_LISTENER.get()
            assert listener is not None
            listener(7, True)
            listener(7, False)
        assert SPAN_ACTIVATION_LISTENER.get() is not None  # the previous one is back
    finally:
        SPAN_ACTIVATION_LISTENER.reset(token)
    assert seen == [(7, True), (7, False)]


def test_spans_made_current_by_the_tracer_core_label_samples(tracer: Tracer) -> None:
    session = ProfileSession(span_id=7)
    with session:
        burn_beta(0.03)
        with tracer.start_as_current_span("inner") as span:
            burn_alpha(0.05)
    report = session.report()
    alpha_spans = {s.span_id for s in report.samples if any(report.frames[i].name == "burn_alpha" for i in s.stack)}
    assert alpha_spans == {span.context.span_id}
    beta_spans = {s.span_id for s in report.samples if any(report.frames[i].name == "burn_beta" for i in s.stack)}
    assert beta_spans == {7}
