"""Per-request profiling overhead: c13's profiler (each mode) next to pyinstrument, in the same run.

    python -m benchmarks.bench_profiler [--rounds 5] [--batch-seconds 0.3] [--no-exact]
    python -m benchmarks.bench_profiler --attribution 150     # attribution under load only

Two workloads per "request": recursive fib (call-heavy, the worst case for any profiler that hooks calls) and a
realistic one (json.dumps/loads of a 200-record payload and a string.Template page). Each request runs in its own
profile: c13 ``Profiler`` (start, run, stop; the report is built after the timed section, as the middleware does
after the response) or ``pyinstrument.Profiler(async_mode="enabled")`` (start, run, stop). Modes are interleaved
round by round and each overhead is the median over rounds of (time per request / baseline time per request) - 1,
for wall time and for process CPU time (which includes the sampler thread). "samples/s" is per busy thread. The
"bare 1 ms thread" row is the floor any sampler thread pays for taking the GIL ~550 times a second.
"""

from __future__ import annotations

import argparse
import gc
import json
import platform
import statistics
import string
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

from c13_middleware.profiling import Profiler, ProfileSession, ProfileType, ProfilingPolicy
from c13_middleware.profiling._sampler import SAMPLER

FIB_N = 26
ROW = string.Template("<tr><td>$id</td><td>$name</td><td>$email</td><td>$score</td></tr>")
PAGE = string.Template("<html><body><h1>$count users</h1><table>$rows</table></body></html>")


def fib(n: int) -> int:
    return n if n < 2 else fib(n - 1) + fib(n - 2)


def fib_request() -> None:
    fib(FIB_N)


def realistic_request() -> None:
    payload = {
        "users": [
            {"id": i, "name": f"user{i}", "email": f"user{i}@example.com", "tags": ["a", "b", str(i)], "score": i * 1.5}
            for i in range(200)
        ]
    }
    for _ in range(8):
        decoded = json.loads(json.dumps(payload))
        rows = "".join(ROW.substitute(u) for u in decoded["users"])
        PAGE.substitute(count=len(decoded["users"]), rows=rows)


class Mode:
    def __init__(self, name: str) -> None:
        self.name = name
        self.rates: list[float] = []
        self.sampler_shares: list[float] = []

    def run(self, request: Callable[[], None]) -> None:
        request()


class C13(Mode):
    def __init__(self, name: str, profile_type: ProfileType) -> None:
        super().__init__(name)
        self.profile_type = profile_type
        self.pending: list[Profiler] = []

    def run(self, request: Callable[[], None]) -> None:
        profiler = Profiler(self.profile_type, store=None)
        profiler.start()
        request()
        profiler.session.stop()  # type: ignore[union-attr]
        self.pending.append(profiler)

    def settle(self) -> None:
        for profiler in self.pending:  # outside the timed section
            report = profiler.generate_report()
            if report.wall_s > 0:
                self.rates.append(report.overhead.samples / report.wall_s)
        self.pending.clear()


class AlwaysOn(Mode):
    """A sampled / slow-capture request profile: ``ProfileSession(always_on=True)``, ~100 Hz, adaptive 1% budget."""

    def __init__(self) -> None:
        super().__init__("c13 always-on")
        self.pending: list[ProfileSession] = []

    def run(self, request: Callable[[], None]) -> None:
        session = ProfileSession(always_on=True)
        session.start()
        request()
        session.stop()
        self.pending.append(session)

    def settle(self) -> None:
        for session in self.pending:
            report = session.report()
            if report.wall_s > 0:
                self.rates.append(report.overhead.samples / report.wall_s)
        self.pending.clear()


class BareSampler(Mode):
    """The floor for any sampler thread under the GIL: a thread that only wakes every 1 ms (GIL switch interval
    0.5 ms, as c13 sets it) and reads ``sys._current_frames()``, with no stack walk and no bookkeeping. Like c13's
    sampler it stays alive between requests, blocked."""

    def __init__(self) -> None:
        super().__init__("bare 1 ms thread (floor)")
        self.active = threading.Event()
        self.ticks = 0
        threading.Thread(target=self._loop, daemon=True).start()

    def _loop(self) -> None:
        while True:
            self.active.wait()
            time.sleep(0.001)
            sys._current_frames()
            self.ticks += 1

    def run(self, request: Callable[[], None]) -> None:
        saved = sys.getswitchinterval()
        sys.setswitchinterval(0.0005)
        ticks, start = self.ticks, time.perf_counter()
        self.active.set()
        request()
        self.active.clear()
        self.rates.append((self.ticks - ticks) / (time.perf_counter() - start))
        sys.setswitchinterval(saved)


class Pyinstrument(Mode):
    def __init__(self) -> None:
        super().__init__("pyinstrument")
        from pyinstrument import Profiler as PyProfiler

        self.factory = PyProfiler
        self.sessions: list[Any] = []

    def run(self, request: Callable[[], None]) -> None:
        profiler = self.factory(async_mode="enabled")
        profiler.start()
        request()
        self.sessions.append(profiler.stop())

    def settle(self) -> None:
        for session in self.sessions:
            if session.duration > 0:
                self.rates.append(session.sample_count / session.duration)
        self.sessions.clear()


def batch(mode: Mode, request: Callable[[], None], seconds: float) -> tuple[float, float]:
    """Requests until ``seconds`` have passed (at least 2): (wall, CPU) per request. Also notes the c13 sampler
    thread's own CPU (``thread_time`` of every tick) as a share of the batch's wall time."""
    gc.collect()
    count = 0
    sampler0 = SAMPLER.overhead_s
    wall0, cpu0 = time.perf_counter(), time.process_time()
    while count < 2 or time.perf_counter() - wall0 < seconds:
        mode.run(request)
        count += 1
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    mode.sampler_shares.append((SAMPLER.overhead_s - sampler0) / wall)
    settle = getattr(mode, "settle", None)
    if settle is not None:
        settle()
    return wall / count, cpu / count


def measure(modes: list[Mode], request: Callable[[], None], rounds: int, seconds: float) -> list[tuple[str, ...]]:
    base = modes[0]
    wall_ratio: dict[str, list[float]] = {m.name: [] for m in modes}
    cpu_ratio: dict[str, list[float]] = {m.name: [] for m in modes}
    base_ms: list[float] = []
    for _ in range(rounds):
        baseline = batch(base, request, seconds)
        base_ms.append(baseline[0] * 1000)
        for mode in modes[1:]:
            wall, cpu = batch(mode, request, seconds)
            after = batch(base, request, seconds)  # a baseline on each side absorbs drift
            reference = ((baseline[0] + after[0]) / 2, (baseline[1] + after[1]) / 2)
            wall_ratio[mode.name].append(wall / reference[0] - 1)
            cpu_ratio[mode.name].append(cpu / reference[1] - 1)
            baseline = after
    rows = [(base.name, f"{statistics.median(base_ms):.1f} ms/request", "-", "-", "-", "-")]
    for mode in modes[1:]:
        rate = f"{statistics.median(mode.rates):.0f}" if mode.rates else "-"
        sampler = statistics.median(mode.sampler_shares)
        rows.append(
            (
                mode.name,
                "",
                f"{100 * statistics.median(wall_ratio[mode.name]):+.1f}%",
                f"{100 * statistics.median(cpu_ratio[mode.name]):+.1f}%",
                f"{100 * sampler:.2f}%" if sampler > 0 else "-",
                rate,
            )
        )
    return rows


def decide_cost_us() -> tuple[float, float]:
    off, armed = ProfilingPolicy(), ProfilingPolicy(secret="s")
    headers: dict[str, str] = {}
    out = []
    for policy in (off, armed):
        best = float("inf")
        for _ in range(5):
            start = time.perf_counter()
            for _ in range(100_000):
                policy.decide("GET", "/x", headers.get)
            best = min(best, (time.perf_counter() - start) / 100_000 * 1e6)
        out.append(best)
    return out[0], out[1]


def table(title: str, rows: list[tuple[str, ...]]) -> str:
    header = ("mode", "baseline", "wall overhead", "CPU overhead", "c13 sampler CPU", "samples/s")
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = [f"### {title}", "", "| " + " | ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)) + " |"]
    lines.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    lines += ["| " + " | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) + " |" for r in rows]
    return "\n".join(lines)


def attribution(requests: int) -> None:
    """Attribution under load (tests/profiling/load_scenario.py): ``requests`` concurrent profiled requests on a
    uvicorn server, each burning CPU in its own function; per profile, the share of its executing samples in its own
    code and the samples holding another request's function."""
    from tests.profiling.load_scenario import run_load

    print(f"\n### Attribution: {requests} concurrent profiled requests per row, uvicorn on 127.0.0.1\n")
    print("| endpoints | CPU per request | wall | profiles < 95% own | min own | foreign samples | no sample |")
    print("|---|---|---|---|---|---|---|")
    for kind in ("async", "sync"):
        for seconds in (0.05, 0.005):
            started = time.perf_counter()
            outcomes = run_load(kind, requests, seconds)
            wall = time.perf_counter() - started
            sampled = [o for o in outcomes if o.samples]
            below = sum(1 for o in sampled if o.own < 0.95)
            low = min((o.own for o in sampled), default=0.0)
            foreign = sum(o.foreign for o in outcomes)
            print(
                f"| {kind} | {seconds * 1000:.0f} ms | {wall:.1f} s | {below} of {len(sampled)} | {low:.2f} | "
                f"{foreign} | {len(outcomes) - len(sampled)} |"
            )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--batch-seconds", type=float, default=0.3)
    parser.add_argument("--no-exact", action="store_true", help="skip EXACT mode (slow on fib)")
    parser.add_argument(
        "--attribution", type=int, metavar="N", default=0, help="only: N concurrent profiled requests per endpoint kind"
    )
    args = parser.parse_args(argv)
    import os

    print(f"{platform.python_implementation()} {platform.python_version()}, {os.cpu_count()} CPUs, {sys.platform}")
    if args.attribution:
        attribution(args.attribution)
        return 0
    for title, request in (
        (f"fib({FIB_N}) per request (call-heavy)", fib_request),
        ("json + Template", realistic_request),
    ):
        modes: list[Mode] = [
            Mode("baseline"),
            BareSampler(),
            C13("c13 cpu (on demand)", ProfileType.CPU),
            AlwaysOn(),
        ]
        try:
            modes.append(Pyinstrument())
        except ImportError:  # pragma: no cover
            print("pyinstrument not installed: skipped")
        modes.append(C13("c13 memory", ProfileType.MEMORY))
        if not args.no_exact:
            modes.append(C13("c13 exact", ProfileType.EXACT))
        print()
        print(table(title, measure(modes, request, args.rounds, args.batch_seconds)))
    off, armed = decide_cost_us()
    print(f"\nProfilingPolicy.decide per request: {off:.2f} us when off, {armed:.2f} us with a secret and no header")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
