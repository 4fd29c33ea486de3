"""Two sets of profiles (two routes, two time windows, two deploys) compared frame by frame, with a significance
test per frame, so that a regression is named, not guessed (docs/viewer.md, "Compare").

The unit of evidence is the **profile**, not the sample: samples of one request are strongly correlated (one slow
call fills many consecutive samples), so testing sample counts would call almost anything significant. For every
frame (a call path from the root, so the same function under two callers is two frames) each profile gives one
number, the frame's **share** of that profile's wall time. The two sides' mean shares are compared with a
two-sided **permutation test** (exact over every split of the profiles when there are at most ``EXACT_SPLITS`` of
them, else ``PERMUTATIONS`` random splits from a fixed seed, with the (b+1)/(m+1) estimate so p is never 0), and
the p-values of the tested frames (those over ``MIN_SHARE`` of the pooled profiles' time whose share varies at
all: a filter blind to the labels) are adjusted with **Benjamini–Hochberg** (false discovery rate). A frame is
``grown`` or ``shrunk`` when its q-value is below ``ALPHA``, ``new``/``gone`` when it has samples on one side only
(and is significant), else ``same``.
"""

from __future__ import annotations

import itertools
import math
import random
from typing import Any

from ._profiles import flame_tree

ALPHA = 0.05
EXACT_SPLITS = 1000
PERMUTATIONS = 1000
MAX_TESTED = 100  # frames tested, by largest change in mean share; the rest are reported untested (p = 1)
MIN_SHARE = 0.01  # frames under 1 % of wall time over both sides' profiles together are not tested

Path = tuple[tuple[str, str, int], ...]


def shares_by_path(doc: dict[str, Any]) -> dict[Path, float]:
    """Each call path's share (0..1) of one profile's wall time."""
    root = flame_tree(doc)
    total = root["value"]
    out: dict[Path, float] = {}
    if total <= 0:
        return out
    stack: list[tuple[Path, dict[str, Any]]] = [((), child) for child in root["children"]]
    while stack:
        prefix, node = stack.pop()
        path = (*prefix, (node["name"], node["file"], node["line"]))
        out[path] = node["value"] / total
        stack.extend((path, child) for child in node["children"])
    return out


def relabellings(n_a: int, n_b: int, rng: random.Random) -> tuple[list[tuple[int, ...]], bool]:
    """The index sets side A may take under relabelling: every one (exact) when there are few, else a random
    sample. Drawn once and shared by every frame's test."""
    n = n_a + n_b
    if math.comb(n, n_a) <= EXACT_SPLITS:
        return list(itertools.combinations(range(n), n_a)), True
    return [tuple(rng.sample(range(n), n_a)) for _ in range(PERMUTATIONS)], False


def permutation_p(a: list[float], b: list[float], splits: list[tuple[int, ...]], exact: bool) -> float:
    """Two-sided p-value of the difference of the means of ``a`` and ``b`` over the relabellings ``splits``."""
    if not a or not b:
        return 1.0
    pooled, n_a, n_b = a + b, len(a), len(b)
    total = sum(pooled)
    observed = abs(sum(b) / n_b - sum(a) / n_a)
    threshold = observed - 1e-12 * max(1.0, observed)  # the observed split itself always counts
    hits = 0
    for group in splits:
        sum_a = sum(pooled[i] for i in group)
        if abs((total - sum_a) / n_b - sum_a / n_a) >= threshold:
            hits += 1
    return hits / len(splits) if exact else (hits + 1) / (len(splits) + 1)


def benjamini_hochberg(p_values: list[float]) -> list[float]:
    """q-values (adjusted p-values) controlling the false discovery rate, in the order given."""
    m = len(p_values)
    order = sorted(range(m), key=lambda i: p_values[i])
    q = [1.0] * m
    running = 1.0
    for rank in range(m, 0, -1):
        index = order[rank - 1]
        running = min(running, p_values[index] * m / rank)
        q[index] = running
    return q


def compare_profiles(docs_a: list[dict[str, Any]], docs_b: list[dict[str, Any]], seed: int = 13) -> dict[str, Any]:
    """The differential flame graph of side A (before) against side B (after), with per-frame statistics.

    Every node: ``{"name", "file", "line", "a", "b", "delta", "p", "q", "change", "children"}`` where ``a``/``b``
    are the mean shares on each side, ``delta = b - a`` and ``value`` (their mean, for widths) adds up from
    children to parents. ``changes`` lists the significant frames, largest change first."""
    shares_a = [shares_by_path(doc) for doc in docs_a]
    shares_b = [shares_by_path(doc) for doc in docs_b]
    paths = set().union(*shares_a, *shares_b) if shares_a or shares_b else set()
    stats: dict[Path, dict[str, Any]] = {}
    for path in paths:
        a = [s.get(path, 0.0) for s in shares_a]
        b = [s.get(path, 0.0) for s in shares_b]
        mean_a, mean_b = (sum(a) / len(a) if a else 0.0), (sum(b) / len(b) if b else 0.0)
        stats[path] = {"a": mean_a, "b": mean_b, "delta": mean_b - mean_a, "p": 1.0, "q": 1.0, "_a": a, "_b": b}
    candidates = [p for p, s in stats.items() if _worth_testing(s["_a"] + s["_b"])]
    candidates.sort(key=lambda p: -abs(stats[p]["delta"]))
    tested = candidates[:MAX_TESTED]
    splits, exact = relabellings(len(docs_a), len(docs_b), random.Random(seed))
    for path in tested:
        stats[path]["p"] = permutation_p(stats[path]["_a"], stats[path]["_b"], splits, exact)
    for path, q in zip(tested, benjamini_hochberg([stats[p]["p"] for p in tested]), strict=True):
        stats[path]["q"] = q
    root = {"name": "all", "file": "", "line": 0, "a": 1.0 if docs_a else 0.0, "b": 1.0 if docs_b else 0.0,
            "delta": 0.0, "p": 1.0, "q": 1.0, "change": "same", "children": []}  # fmt: skip
    nodes: dict[Path, dict[str, Any]] = {(): root}
    for path in sorted(paths, key=len):
        s = stats[path]
        node = {"name": path[-1][0], "file": path[-1][1], "line": path[-1][2], "a": s["a"], "b": s["b"],
                "delta": s["delta"], "p": s["p"], "q": s["q"], "change": _change(s), "children": []}  # fmt: skip
        nodes[path] = node
        nodes[path[:-1]]["children"].append(node)
    for node in nodes.values():
        node["value"] = (node["a"] + node["b"]) / 2
        node["children"].sort(key=lambda child: -(child["a"] + child["b"]))
    changes = [
        {"path": [frame[0] for frame in path], "file": path[-1][1], "line": path[-1][2],
         "change": nodes[path]["change"], "a": stats[path]["a"], "b": stats[path]["b"], "delta": stats[path]["delta"],
         "p": stats[path]["p"], "q": stats[path]["q"]}
        for path in tested if nodes[path]["change"] != "same"
    ]  # fmt: skip
    changes.sort(key=lambda c: -abs(c["delta"]))
    method = (f"per-frame share of each profile's wall time; two-sided permutation test of the mean share "
              f"(exact up to {EXACT_SPLITS} splits, else {PERMUTATIONS} random ones); Benjamini-Hochberg q < {ALPHA}"
              )  # fmt: skip
    return {"a": {"profiles": len(docs_a)}, "b": {"profiles": len(docs_b)}, "tested": len(tested), "alpha": ALPHA,
            "method": method, "root": root, "changes": changes}  # fmt: skip


def _worth_testing(pooled: list[float]) -> bool:
    """Frames are filtered on figures that ignore the A/B labels (their pooled mean share, and whether their share
    varies at all), so the filter does not bias the tests it spares: fewer hopeless tests, more power after the
    false-discovery-rate adjustment."""
    return bool(pooled) and sum(pooled) / len(pooled) >= MIN_SHARE and max(pooled) - min(pooled) > 1e-12


def _change(s: dict[str, Any]) -> str:
    if s["q"] >= ALPHA:
        return "same"
    if s["a"] == 0.0:
        return "new"
    if s["b"] == 0.0:
        return "gone"
    return "grown" if s["delta"] > 0 else "shrunk"


__all__ = ["benjamini_hochberg", "compare_profiles", "permutation_p", "relabellings", "shares_by_path"]
