"""Report contents (function stats, call tree, overhead) and recommendations: evidence or nothing."""

from __future__ import annotations

import sys
import time

import pytest

from c13_middleware.profiling import (
    AllocationSite,
    FunctionStats,
    IOEvent,
    MemoryStats,
    Profiler,
    ProfilingThresholds,
    render_text,
)
from c13_middleware.profiling._advice import advise
from tests.profiling.profiling_helpers import burn_alpha, burn_beta


class Outer:
    def method(self) -> None:
        burn_alpha(0.06)
        burn_beta(0.03)


def slow_child() -> None:
    time.sleep(0.15)


def quick_child() -> None:
    time.sleep(0.03)


def handler() -> None:
    slow_child()
    quick_child()


def test_function_stats_and_call_tree() -> None:
    with Profiler(name="GET /x") as profiler:
        Outer().method()
    report = profiler.generate_report()
    names = [f.name for f in report.top_functions]
    assert names[0] == "burn_alpha" and "burn_beta" in names
    method = next(f for f in report.functions if f.name.endswith("method"))
    if sys.version_info >= (3, 11):
        assert method.name == "Outer.method"  # co_qualname
    assert method.file == __file__ and method.line == Outer.method.__code__.co_firstlineno
    assert method.location == f"{__file__}:{method.line}"
    alpha = report.functions[0]
    assert alpha.self_s == pytest.approx(alpha.total_s) and alpha.self_s > 0.04
    assert method.total_s >= alpha.total_s + 0.02 and method.self_s < 0.01
    assert alpha.samples >= 20 and alpha.cpu_s > 0.03
    assert len(report.top_functions) <= 20
    # The call tree: request -> test -> Outer.method -> {burn_alpha, burn_beta}
    tree = report.call_tree
    assert tree.frame.name == "GET /x" and tree.samples == len(report.samples)
    node = tree.children[0]
    while not node.frame.name.endswith("method"):
        node = node.children[0]
    assert [c.frame.name for c in node.children] == ["burn_alpha", "burn_beta"]
    assert node.children[0].total_s > node.children[1].total_s
    # The profile's own cost.
    overhead = report.overhead
    assert overhead.samples == len(report.samples) and overhead.ticks >= overhead.samples
    assert 0 < overhead.sampling_time_s < report.wall_s * 0.2
    assert 100 < overhead.achieved_rate_hz < 1100  # ~500-800/s on an idle machine; less when it is overloaded


def test_slow_function_fires_on_the_deepest_slow_function_only() -> None:
    with Profiler() as profiler:
        handler()
    report = profiler.generate_report()
    rules = [(r.rule, r.function) for r in report.recommendations]
    assert rules == [("slow_function", "slow_child")]
    [finding] = report.recommendations
    # The hot line (the sleep), not the def line.
    assert finding.location == f"{__file__}:{slow_child.__code__.co_firstlineno + 1}"
    assert finding.value > 0.1 and finding.threshold == 0.1
    assert "sampled" in finding.message and "slow_child" in finding.message
    text = render_text(report)
    assert "[slow_function] slow_child" in text and "Slow IO" in text


def test_no_advice_without_evidence() -> None:
    with Profiler() as profiler:
        time.sleep(0.01)
        burn_alpha(0.005)
    report = profiler.generate_report()
    assert report.wall_s < 0.1  # (a badly overloaded machine could stretch it past the slow-function threshold)
    assert report.recommendations == ()
    assert "none: no figure over a threshold" in render_text(report)


def _stats(name: str, *, avg: float | None = None, calls: int | None = None, exact: bool = False) -> FunctionStats:
    total = (avg or 0.0) * (calls or 1)
    return FunctionStats(name, "app.py", 10, 5, total, total, 0.0, calls, exact, avg, avg, avg)


THRESHOLDS = ProfilingThresholds()


def test_frequent_calls_rule_needs_exact_counts() -> None:
    counted = _stats("tiny", avg=1e-6, calls=20_000, exact=True)
    [finding] = advise([counted], {}, (), None, (), 1.0, THRESHOLDS)
    assert (finding.rule, finding.function, finding.location, finding.value) == (
        "frequent_calls",
        "tiny",
        "app.py:10",
        20_000,
    )
    assert "20,000 times" in finding.message
    assert advise([_stats("tiny", avg=1e-6, calls=20_000, exact=False)], {}, (), None, (), 1.0, THRESHOLDS) == ()
    assert advise([_stats("tiny", avg=1e-6, calls=10_000, exact=True)], {}, (), None, (), 1.0, THRESHOLDS) == ()


def test_slow_function_rule_threshold_and_callee_suppression() -> None:
    parent, child = _stats("parent", avg=0.5, calls=1), _stats("child", avg=0.3, calls=1)
    callees = {"parent\0app.py:10": [child]}
    found = advise([parent, child], callees, (), None, (), 1.0, THRESHOLDS)
    assert [(r.rule, r.function, r.value) for r in found] == [("slow_function", "child", 0.3)]
    assert advise([_stats("fine", avg=0.09, calls=3)], {}, (), None, (), 1.0, THRESHOLDS) == ()
    strict = ProfilingThresholds(slow_function_avg_s=0.05)
    assert [r.function for r in advise([_stats("fine", avg=0.09, calls=3)], {}, (), None, (), 1.0, strict)] == ["fine"]


def test_many_slow_io_rule() -> None:
    events = tuple(IOEvent(f"GET /svc/{i}", 0.06 + i / 100, f"app.py:{i}", "external", "external") for i in range(3))
    [finding] = advise([], {}, events, None, (), 1.0, THRESHOLDS)
    assert finding.rule == "many_slow_io" and finding.value == 3 and finding.threshold == 3
    assert finding.function == "GET /svc/2" and finding.location == "app.py:2"
    assert advise([], {}, events[:2], None, (), 1.0, THRESHOLDS) == ()


def test_high_allocation_rate_rule() -> None:
    site = AllocationSite("app.py", 7, 80_000_000, 1000)
    heavy = MemoryStats(allocated_bytes=80_000_000, freed_bytes=0, peak_bytes=80_000_000)
    [finding] = advise([], {}, (), heavy, (site,), 1.0, THRESHOLDS)
    assert finding.rule == "high_allocation_rate" and finding.location == "app.py:7"
    assert finding.value == 80e6 and "process-wide" in finding.message
    light = MemoryStats(allocated_bytes=1_000_000, freed_bytes=0, peak_bytes=1_000_000)
    assert advise([], {}, (), light, (site,), 1.0, THRESHOLDS) == ()
    assert advise([], {}, (), None, (), 1.0, THRESHOLDS) == ()


def test_thresholds_are_validated_and_cap_the_output() -> None:
    with pytest.raises(ValueError):
        ProfilingThresholds(slow_io_s=0)
    with pytest.raises(ValueError):
        ProfilingThresholds(frequent_calls=0)
    many = [_stats(f"f{i}", avg=0.01, calls=20_000, exact=True) for i in range(5)]
    assert len(advise(many, {}, (), None, (), 1.0, ProfilingThresholds(max_recommendations=2))) == 2


def test_profile_with_no_samples_says_so() -> None:
    with Profiler() as profiler:
        pass
    report = profiler.generate_report()
    assert report.samples == () and report.functions == ()
    assert any("no samples" in note for note in report.notes)
    assert report.cpu_s + report.io_wait_s + report.other_wait_s == pytest.approx(report.wall_s, abs=0.01)


def test_the_sample_cap_drops_but_keeps_counting() -> None:
    from c13_middleware.profiling import ProfileSession

    session = ProfileSession(max_samples=10)
    with session:
        burn_alpha(0.05)
    report = session.report()
    assert len(report.samples) == 10
    assert report.overhead.dropped_samples > 0
    assert report.overhead.samples == 10 + report.overhead.dropped_samples
    assert report.cpu_s > 0.03  # time is still accounted
