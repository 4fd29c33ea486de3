"""The detectors: pure functions over finished spans, run off the request path (``_processor``) or by whoever reads a
trace (``detect_findings``).

* ``n_plus_one_db``: at least ``n_plus_one_min_queries`` database spans with the same ``db.query.text`` (sanitized;
  the summary when query text is off) under one parent, each starting after the previous one ended, together
  ``n_plus_one_min_total_s`` or more. A query overlapping the previous one starts a new run.
* ``slow_db_query``: a database span of ``slow_query_s`` or more, reported the first time it happens (one finding
  per query text and trace).
* ``sequential_http``: at least ``sequential_http_min_calls`` outgoing HTTP calls under one parent, one after the
  other, each ``sequential_http_min_call_s`` or more, that do not depend on each other. Spans cannot show data flow,
  so "independent" is read conservatively: safe methods only (GET, HEAD, OPTIONS: reordering them changes nothing),
  none a retry of the call before it (same URL after an error), and at most ``sequential_http_max_gap_s`` between
  one's end and the next's start (a longer pause is work on the previous response).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence

from ..trace._span import SpanKind
from ._types import CodeSite, Finding, FindingThresholds, SpanLike

__all__ = ["DEFAULT_THRESHOLDS", "detect_findings"]

DEFAULT_THRESHOLDS = FindingThresholds()
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_MAX_TEXT = 120


def detect_findings(spans: Iterable[SpanLike], thresholds: FindingThresholds = DEFAULT_THRESHOLDS) -> list[Finding]:
    """Findings in ``spans`` (finished spans of one or more traces; unfinished ones are ignored), at most
    ``thresholds.max_findings`` per trace: slow queries first, then N+1 queries, then sequential calls."""
    by_trace: dict[int, list[SpanLike]] = defaultdict(list)
    for span in spans:
        if span.end_time is not None:
            by_trace[span.context.trace_id].append(span)
    found: list[Finding] = []
    for trace_spans in by_trace.values():
        per_trace = [
            *_slow_queries(trace_spans, thresholds),
            *_n_plus_one(trace_spans, thresholds),
            *_sequential_http(trace_spans, thresholds),
        ]
        found.extend(per_trace[: thresholds.max_findings])
    return found


def _is_db(span: SpanLike) -> bool:
    return span.kind is SpanKind.CLIENT and "db.system.name" in span.attributes


def _is_http(span: SpanLike) -> bool:
    return span.kind is SpanKind.CLIENT and "http.request.method" in span.attributes


def _duration_ns(span: SpanLike) -> int:
    return (span.end_time or span.start_time) - span.start_time


def _duration_s(span: SpanLike) -> float:
    return _duration_ns(span) / 1e9


def _ns(seconds: float) -> int:
    """Thresholds are compared in integer nanoseconds: 5 × 10 ms is 50 ms exactly, as it is in floats it is not."""
    return round(seconds * 1e9)


def _query_key(span: SpanLike) -> str:
    attributes = span.attributes
    return str(attributes.get("db.query.text") or attributes.get("db.query.summary") or span.name)


def _parent_id(span: SpanLike) -> int:
    return span.parent.span_id if span.parent is not None else 0


def _short(text: str) -> str:
    return text if len(text) <= _MAX_TEXT else text[: _MAX_TEXT - 3] + "..."


def _site(spans: Sequence[SpanLike]) -> CodeSite | None:
    for span in spans:
        attributes = span.attributes
        file = attributes.get("code.file.path")
        line = attributes.get("code.line.number")
        if isinstance(file, str) and isinstance(line, int):
            return CodeSite(str(attributes.get("code.function.name", "")), file, line)
    return None


def _at(site: CodeSite | None) -> str:
    return f" at {site}" if site is not None else ""


def _slow_queries(spans: Sequence[SpanLike], thresholds: FindingThresholds) -> list[Finding]:
    slow: dict[str, list[SpanLike]] = defaultdict(list)
    for span in spans:
        if _is_db(span) and _duration_ns(span) >= _ns(thresholds.slow_query_s):
            slow[_query_key(span)].append(span)
    out: list[Finding] = []
    for text, group in slow.items():
        group.sort(key=lambda s: s.start_time)
        worst = max(_duration_s(s) for s in group)
        site = _site(group)
        times = f", {len(group)} times in this request" if len(group) > 1 else ""
        summary = (
            f"slow query: `{_short(text)}` took {worst * 1000:.0f} ms (threshold {thresholds.slow_query_s * 1000:.0f}"
            f" ms){times}{_at(site)}: check its plan (EXPLAIN), its indexes and how many rows it reads."
        )
        out.append(
            Finding(
                "slow_db_query",
                summary,
                tuple(s.context.span_id for s in group),
                group[0].context.trace_id,
                site,
                worst,
                thresholds.slow_query_s,
            )
        )
    return out


def _runs(spans: list[SpanLike]) -> Iterable[list[SpanLike]]:
    """Maximal runs of spans, each starting after the previous one ended (``spans`` sorted by start)."""
    run: list[SpanLike] = []
    for span in spans:
        if run and span.start_time < (run[-1].end_time or 0):
            yield run
            run = []
        run.append(span)
    if run:
        yield run


def _n_plus_one(spans: Sequence[SpanLike], thresholds: FindingThresholds) -> list[Finding]:
    groups: dict[tuple[int, str], list[SpanLike]] = defaultdict(list)
    for span in spans:
        if _is_db(span):
            groups[(_parent_id(span), _query_key(span))].append(span)
    out: list[Finding] = []
    for (_, text), group in groups.items():
        if len(group) < thresholds.n_plus_one_min_queries:
            continue
        group.sort(key=lambda s: (s.start_time, s.end_time or 0))
        for run in _runs(group):
            total_ns = sum(_duration_ns(s) for s in run)
            if len(run) < thresholds.n_plus_one_min_queries or total_ns < _ns(thresholds.n_plus_one_min_total_s):
                continue
            total = total_ns / 1e9
            site = _site(run)
            summary = (
                f"N+1 queries: {len(run)} sequential `{_short(text)}` under one parent span, {total * 1000:.0f} ms "
                f"in total ({total / len(run) * 1000:.1f} ms each){_at(site)}: load the rows in one query (a JOIN or "
                "an IN list; select_related/prefetch_related in Django, selectinload/joinedload in SQLAlchemy)."
            )
            out.append(
                Finding(
                    "n_plus_one_db",
                    summary,
                    tuple(s.context.span_id for s in run),
                    run[0].context.trace_id,
                    site,
                    float(len(run)),
                    float(thresholds.n_plus_one_min_queries),
                )
            )
    return out


def _failed(span: SpanLike) -> bool:
    status = span.attributes.get("http.response.status_code")
    return span.status.is_error or (isinstance(status, int) and status >= 400)


def _depends_on(previous: SpanLike, span: SpanLike, thresholds: FindingThresholds) -> bool:
    gap_ns = span.start_time - (previous.end_time or 0)
    if gap_ns < 0 or gap_ns > _ns(thresholds.sequential_http_max_gap_s):
        return True  # overlapping (already concurrent), or work done on the previous response in between
    url = span.attributes.get("url.full")
    return url is not None and url == previous.attributes.get("url.full") and _failed(previous)  # a retry


def _sequential_http(spans: Sequence[SpanLike], thresholds: FindingThresholds) -> list[Finding]:
    by_parent: dict[int, list[SpanLike]] = defaultdict(list)
    for span in spans:
        if _is_http(span):
            by_parent[_parent_id(span)].append(span)
    out: list[Finding] = []
    for calls in by_parent.values():
        if len(calls) < thresholds.sequential_http_min_calls:
            continue
        calls.sort(key=lambda s: s.start_time)
        run: list[SpanLike] = []
        candidates: list[SpanLike | None] = [*calls, None]  # None: the end, flushes the last run
        for call in candidates:
            eligible = (
                call is not None
                and call.attributes.get("http.request.method") in _SAFE_METHODS
                and _duration_ns(call) >= _ns(thresholds.sequential_http_min_call_s)
            )
            if call is not None and eligible and (not run or not _depends_on(run[-1], call, thresholds)):
                run.append(call)
                continue
            if len(run) >= thresholds.sequential_http_min_calls:
                out.append(_sequential_finding(run, thresholds))
            run = [call] if call is not None and eligible else []
    return out


def _sequential_finding(run: list[SpanLike], thresholds: FindingThresholds) -> Finding:
    durations = [_duration_s(s) for s in run]
    total = sum(durations)
    saved = total - max(durations)
    names = ", ".join(
        f"{s.attributes.get('http.request.method')} {s.attributes.get('server.address', '')}".strip() for s in run[:3]
    )
    more = f" and {len(run) - 3} more" if len(run) > 3 else ""
    summary = (
        f"sequential calls: {len(run)} independent outgoing calls ({names}{more}) ran one after another, "
        f"{total * 1000:.0f} ms in total; run concurrently they would take about {max(durations) * 1000:.0f} ms, "
        f"saving {saved * 1000:.0f} ms (asyncio.gather, or a thread pool for sync clients)."
    )
    return Finding(
        "sequential_http",
        summary,
        tuple(s.context.span_id for s in run),
        run[0].context.trace_id,
        None,
        saved,
        thresholds.sequential_http_min_call_s,
    )
