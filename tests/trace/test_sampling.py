from __future__ import annotations

import pytest

from c13_middleware import (
    AlwaysOffSampler,
    AlwaysOnSampler,
    ParentBasedSampler,
    RateLimitingSampler,
    Sampler,
    SamplingDecision,
    SpanContext,
    SpanKind,
    TraceIdRatioSampler,
)
from c13_middleware.trace._sampling import sampler_from_env

SAMPLE, DROP = SamplingDecision.RECORD_AND_SAMPLE, SamplingDecision.DROP
K = SpanKind.INTERNAL


def test_always_on_and_off() -> None:
    assert AlwaysOnSampler().should_sample(None, 1, "n", K).decision is SAMPLE
    assert AlwaysOffSampler().should_sample(None, 1, "n", K).decision is DROP


def test_trace_id_ratio_matches_opentelemetry_for_the_same_ids() -> None:
    from opentelemetry.sdk.trace.sampling import Decision, TraceIdRatioBased

    ids = [0, 1, (1 << 63) - 1, 1 << 63, (1 << 64) - 1, 0xFFFF_0000_0000_0000_0000_0000_0000_0001, 12345 << 70]
    ids += [(i * 0x9E3779B97F4A7C15_9E3779B97F4A7C15) % (1 << 128) for i in range(500)]
    for ratio in (0.0, 0.001, 0.25, 0.5, 0.999, 1.0):
        ours = TraceIdRatioSampler(ratio)
        theirs = TraceIdRatioBased(ratio)
        for trace_id in ids:
            expected = theirs.should_sample(None, trace_id, "n").decision is Decision.RECORD_AND_SAMPLE
            assert (ours.should_sample(None, trace_id, "n", K).decision is SAMPLE) == expected, (ratio, trace_id)


def test_trace_id_ratio_rejects_bad_ratios() -> None:
    for bad in (-0.1, 1.5, "0.5", True):
        with pytest.raises(ValueError):
            TraceIdRatioSampler(bad)  # type: ignore[arg-type]


def test_parent_based_follows_parent_flags() -> None:
    sampler = ParentBasedSampler(AlwaysOffSampler())
    assert sampler.should_sample(None, 1, "n", K).decision is DROP  # root → AlwaysOff
    assert sampler.should_sample(SpanContext(1, 2, 1, is_remote=True), 1, "n", K).decision is SAMPLE
    assert sampler.should_sample(SpanContext(1, 2, 0, is_remote=True), 1, "n", K).decision is DROP
    assert sampler.should_sample(SpanContext(1, 2, 1), 1, "n", K).decision is SAMPLE
    assert sampler.should_sample(SpanContext(1, 2, 0), 1, "n", K).decision is DROP
    custom = ParentBasedSampler(AlwaysOnSampler(), remote_parent_not_sampled=AlwaysOnSampler())
    assert custom.should_sample(SpanContext(1, 2, 0, is_remote=True), 1, "n", K).decision is SAMPLE


def test_rate_limiting_sampler_caps_per_second() -> None:
    now = [100.0]
    sampler = RateLimitingSampler(3, clock=lambda: now[0])
    decisions = [sampler.should_sample(None, i, "n", K).decision for i in range(10)]
    assert decisions.count(SAMPLE) == 3
    now[0] += 1.0
    decisions = [sampler.should_sample(None, i, "n", K).decision for i in range(10)]
    assert decisions.count(SAMPLE) == 3
    now[0] += 0.34
    assert sampler.should_sample(None, 1, "n", K).decision is SAMPLE
    assert sampler.should_sample(None, 1, "n", K).decision is DROP
    # a sampled local parent keeps its trace whole even when the budget is spent
    assert sampler.should_sample(SpanContext(1, 2, 1), 1, "n", K).decision is SAMPLE


def test_sampler_from_env_names() -> None:
    assert isinstance(sampler_from_env("always_on", None), AlwaysOnSampler)
    assert isinstance(sampler_from_env("always_off", None), AlwaysOffSampler)
    ratio = sampler_from_env("traceidratio", "0.25")
    assert isinstance(ratio, TraceIdRatioSampler) and ratio.ratio == 0.25
    parent = sampler_from_env("parentbased_traceidratio", "0.5")
    assert isinstance(parent, ParentBasedSampler) and isinstance(parent.root, TraceIdRatioSampler)
    assert isinstance(sampler_from_env("parentbased_always_off", None).root, AlwaysOffSampler)  # type: ignore[attr-defined]
    with pytest.raises(ValueError, match="not one of"):
        sampler_from_env("sometimes", None)
    with pytest.raises(ValueError, match="must be a number"):
        sampler_from_env("traceidratio", "half")


@pytest.mark.parametrize("per_second", [-1, True, "10", None])
def test_a_rate_limit_must_be_a_non_negative_number(per_second: object) -> None:
    with pytest.raises(ValueError, match="per_second must be a non-negative number"):
        RateLimitingSampler(per_second)  # type: ignore[arg-type]


def test_a_custom_sampler_is_shown_by_its_description() -> None:
    class EveryOther(Sampler):
        description = "EveryOther{}"

    assert repr(EveryOther()) == "EveryOther{}"
