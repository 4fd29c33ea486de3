"""The per-frame statistics of the compare page on known inputs: the permutation test, the Benjamini-Hochberg
adjustment, and a regression that must be named (and noise that must not)."""

from __future__ import annotations

import math
import random
from typing import Any

from c13_middleware.view._compare import (
    benjamini_hochberg,
    compare_profiles,
    permutation_p,
    relabellings,
    shares_by_path,
)

FRAMES = [["handler", "app.py", 10], ["render", "app.py", 20], ["query", "db.py", 5], ["cache", "cache.py", 7]]


def _doc(samples: dict[tuple[int, ...], int], pid: str = "p") -> dict[str, Any]:
    """A stored profile document whose stacks get ``ms`` milliseconds of wall time each."""
    rows = [[list(stack), ms * 1_000_000, 0, 0, "", 1] for stack, ms in samples.items()]
    return {"profileId": pid, "frames": FRAMES, "samples": rows}


def test_shares_by_path_are_fractions_of_the_profile() -> None:
    shares = shares_by_path(_doc({(0, 1): 30, (0, 2): 10}))
    handler, render, query = ("handler", "app.py", 10), ("render", "app.py", 20), ("query", "db.py", 5)
    assert shares == {(handler,): 1.0, (handler, render): 0.75, (handler, query): 0.25}
    assert shares_by_path(_doc({})) == {}


def test_exact_permutation_p_values() -> None:
    splits, exact = relabellings(3, 3, random.Random(1))
    assert exact and len(splits) == math.comb(6, 3)
    # completely separated groups: only the observed split and its mirror are as extreme (2 of 20)
    assert permutation_p([0.1, 0.2, 0.3], [0.7, 0.8, 0.9], splits, exact) == 2 / 20
    # identical groups: every split is at least as extreme
    assert permutation_p([0.5, 0.5, 0.5], [0.5, 0.5, 0.5], splits, exact) == 1.0
    assert permutation_p([], [0.5], splits, exact) == 1.0


def test_sampled_permutations_never_give_zero() -> None:
    splits, exact = relabellings(20, 20, random.Random(1))
    assert not exact and len(splits) == 1000
    p = permutation_p([0.1] * 20, [0.9] * 20, splits, exact)
    assert 0 < p <= 1 / 1000


def test_benjamini_hochberg_matches_hand_computed_q_values() -> None:
    # sorted p: 0.01, 0.02, 0.03, 0.5 -> raw p*m/rank 0.04, 0.04, 0.04, 0.5; monotone from the top
    assert benjamini_hochberg([0.5, 0.01, 0.03, 0.02]) == [0.5, 0.04, 0.04, 0.04]
    assert benjamini_hochberg([]) == []


def test_a_grown_query_is_named_and_unchanged_frames_are_not() -> None:
    rng = random.Random(7)
    before = [_doc({(0, 1): 70 + rng.randint(-5, 5), (0, 2): 30 + rng.randint(-5, 5)}, f"a{i}") for i in range(8)]
    after = [_doc({(0, 1): 70 + rng.randint(-5, 5), (0, 2): 90 + rng.randint(-5, 5), (0, 3): 5}, f"b{i}")
             for i in range(8)]  # fmt: skip
    result = compare_profiles(before, after)
    assert result["a"]["profiles"] == 8 and result["b"]["profiles"] == 8
    by_leaf = {change["path"][-1]: change for change in result["changes"]}
    assert by_leaf["query"]["change"] == "grown" and by_leaf["query"]["delta"] > 0.2
    assert by_leaf["render"]["change"] == "shrunk"  # its share fell as the query's grew
    assert by_leaf["cache"]["change"] == "new"
    assert "handler" not in by_leaf  # 100 % on both sides
    assert all(change["q"] < 0.05 for change in result["changes"])
    handler = result["root"]["children"][0]
    assert handler["name"] == "handler" and handler["change"] == "same"
    assert abs(handler["value"] - sum(child["value"] for child in handler["children"])) < 1e-9
    gone = compare_profiles(after, before)
    assert {c["path"][-1]: c["change"] for c in gone["changes"]}["cache"] == "gone"


def test_noise_between_two_samples_of_one_distribution_is_not_significant() -> None:
    rng = random.Random(3)

    def profile(i: int, side: str) -> dict[str, Any]:
        return _doc({(0, 1): 60 + rng.randint(-15, 15), (0, 2): 40 + rng.randint(-15, 15)}, f"{side}{i}")

    result = compare_profiles([profile(i, "a") for i in range(10)], [profile(i, "b") for i in range(10)])
    assert result["changes"] == [] and result["tested"] == 2  # render and query; handler is 100 % everywhere


def test_one_profile_a_side_cannot_be_significant() -> None:
    result = compare_profiles([_doc({(0, 1): 10})], [_doc({(0, 2): 10})])
    assert result["changes"] == []  # 2 splits: p = 1 whatever the difference
    assert {child["name"] for child in result["root"]["children"][0]["children"]} == {"render", "query"}
    assert compare_profiles([], [])["root"]["children"] == []
