"""The query API on the UI port: Jaeger's endpoints in Jaeger's JSON model, profiles in speedscope and pprof, and
the JSON the viewer's pages read (``/api/c13/...``). Every endpoint is listed in docs/viewer.md.

Every answer is JSON (``application/json``, ``nosniff``, ``<``/``>``/``&`` escaped) or a pprof file: span values
from senders are data, never markup. A GET outside ``/api/`` goes to the page handler the UI registers
(``ViewApp.pages``), or is answered 404.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from ._compare import compare_profiles
from ._findings import trace_findings
from ._http import Handler
from ._jaeger import BadQuery, envelope, jaeger_trace, parse_trace_query
from ._profiles import flame_tree, merged_flame_tree, pprof, speedscope, subtree_span_ids
from ._queries import Queries

_PROFILE_ID = re.compile(r"[0-9A-Za-z_.-]{1,64}")
_HEX = re.compile(r"[0-9a-fA-F]{1,32}")


def trace_id_of(text: str) -> str | None:
    """A trace id as stored (32 lower-case hex digits), accepting Jaeger's short forms; None if not hex."""
    return text.lower().rjust(32, "0") if _HEX.fullmatch(text) else None


def _first(params: dict[str, list[str]], name: str) -> str | None:
    values = params.get(name)
    return values[0] if values and values[0] else None


def _micros(params: dict[str, list[str]], name: str) -> int | None:
    value = _first(params, name)
    if value is None:
        return None
    if not value.isdigit():
        raise BadQuery(f"{name} must be Unix microseconds")
    return int(value) * 1000


Route = Callable[["ApiHandler", list[str], dict[str, list[str]]], None]


class ApiHandler(Handler):
    allow_cookie = True

    def do_HEAD(self) -> None:
        self.do_GET()

    def do_GET(self) -> None:
        if not self.authorized():
            return
        url = urlsplit(self.path)
        parts = [unquote(part) for part in url.path.split("/")[1:]]
        params = parse_qs(url.query)
        if parts[:1] != ["api"]:
            pages = self.server.app.pages
            try:
                if pages is not None:
                    pages(self, url.path, params)
                else:
                    self.send_json(404, {"error": "not found"})
            finally:
                self.queries.release()
            return
        try:
            self._route(parts[1:], params)
        except BadQuery as exc:
            self.send_json(400, envelope(None, [{"code": 400, "msg": str(exc)}]))
        finally:
            self.queries.release()

    @property
    def queries(self) -> Queries:
        queries: Queries = self.server.app.queries
        return queries

    def _route(self, parts: list[str], params: dict[str, list[str]]) -> None:
        q = self.queries
        match parts:
            case ["services"]:
                self.send_json(200, envelope(q.services()))
            case ["services", service, "operations"]:
                self.send_json(200, envelope(sorted({op["name"] for op in q.operations(service)})))
            case ["operations"]:
                service = _first(params, "service") or ""
                kind = _first(params, "spanKind")
                names = {"1": "internal", "2": "server", "3": "client", "4": "producer", "5": "consumer"}
                ops = [{"name": op["name"], "spanKind": names.get(str(op["kind"]), "unspecified")}
                       for op in q.operations(service)]  # fmt: skip
                self.send_json(200, envelope([op for op in ops if kind is None or op["spanKind"] == kind]))
            case ["traces"]:
                query = parse_trace_query(params)
                traces = [jaeger_trace(q, trace_id) for trace_id in q.find_trace_ids(query)]
                self.send_json(200, envelope([trace for trace in traces if trace is not None]))
            case ["traces", raw_id]:
                trace_id = trace_id_of(raw_id)
                trace = jaeger_trace(q, trace_id) if trace_id else None
                if trace is None:
                    self.send_json(404, envelope(None, [{"code": 404, "msg": "trace not found"}]))
                else:
                    self.send_json(200, envelope([trace]))
            case ["dependencies"]:  # Jaeger: endTs and lookback in milliseconds
                end_ms = _first(params, "endTs")
                lookback_ms = _first(params, "lookback") or str(24 * 3600 * 1000)
                if (end_ms is not None and not end_ms.isdigit()) or not lookback_ms.isdigit():
                    raise BadQuery("endTs and lookback must be milliseconds")
                end_ns = int(end_ms) * 1_000_000 if end_ms else time.time_ns()
                links = q.dependencies(end_ns - int(lookback_ms) * 1_000_000, end_ns)
                self.send_json(200, envelope(links))
            case ["profiles", profile_id]:
                self._profile(profile_id, _first(params, "format") or "speedscope")
            case ["c13", *rest]:
                self._c13(rest, params)
            case _:
                self.send_json(404, envelope(None, [{"code": 404, "msg": "no such endpoint"}]))

    def _profile(self, profile_id: str, fmt: str) -> None:
        doc = self.queries.profile(profile_id) if _PROFILE_ID.fullmatch(profile_id) else None
        if doc is None:
            self.send_json(404, {"error": "unknown profile"})
        elif fmt == "pprof":
            disposition = f'attachment; filename="profile-{profile_id}.pb.gz"'
            self.send_bytes(200, pprof(doc), "application/octet-stream", {"Content-Disposition": disposition})
        elif fmt == "speedscope":
            self.send_json(200, speedscope(doc))
        else:
            self.send_json(400, {"error": "format must be speedscope or pprof"})

    def _profile_list(self, params: dict[str, list[str]]) -> list[dict[str, Any]]:
        limit = _first(params, "limit") or "100"
        if not limit.isdigit():
            raise BadQuery("limit must be an integer")
        return self.queries.profile_ids(_first(params, "service"), _first(params, "route"),
                                        _micros(params, "start"), _micros(params, "end"), int(limit))  # fmt: skip

    def _side_docs(self, params: dict[str, list[str]]) -> list[dict[str, Any]]:
        """One side of a comparison: the stored documents of its profiles (50 newest unless ``limit`` says)."""
        listed = self._profile_list({"limit": ["50"], **params})
        return [doc for item in listed if (doc := self.queries.profile(item["profileId"])) is not None]

    def _c13(self, parts: list[str], params: dict[str, list[str]]) -> None:
        q = self.queries
        match parts:
            case ["search"]:
                self.send_json(200, {"traces": q.trace_summaries(q.find_trace_ids(parse_trace_query(params)))})
            case ["traces", raw_id]:
                trace_id = trace_id_of(raw_id)
                spans = q.trace_spans(trace_id) if trace_id else []
                if not spans:
                    self.send_json(404, {"error": "trace not found"})
                    return
                self.send_json(200, {
                    "traceId": trace_id, "spans": spans, "resources": q.resources({s["resource"] for s in spans}),
                    "profiles": q.profiles_of_trace(trace_id or ""), "findings": trace_findings(spans),
                })  # fmt: skip
            case ["profiles", profile_id] | ["profiles", profile_id, "flame"]:
                doc = q.profile(profile_id) if _PROFILE_ID.fullmatch(profile_id) else None
                if doc is None:
                    self.send_json(404, {"error": "unknown profile"})
                elif parts[-1] != "flame":
                    self.send_json(200, doc)
                else:
                    span_id = _first(params, "spanId")
                    subtree = subtree_span_ids(q.trace_spans(doc["traceId"]), span_id) if span_id else None
                    self.send_json(200, {"profileId": profile_id, "spanId": span_id, "root": flame_tree(doc, subtree)})
            case ["profiles"]:
                self.send_json(200, {"profiles": self._profile_list(params)})
            case ["flame"]:
                docs = self._side_docs({"limit": ["100"], **params})
                self.send_json(200, {"profiles": len(docs), "root": merged_flame_tree(docs)})
            case ["compare"]:
                side_a, side_b = (self._side_docs({k[2:]: v for k, v in params.items() if k.startswith(f"{side}.")})
                                  for side in ("a", "b"))  # fmt: skip
                self.send_json(200, compare_profiles(side_a, side_b))
            case ["red"]:
                rows = q.red(_first(params, "service"), _micros(params, "start"), _micros(params, "end"))
                self.send_json(200, {"rows": rows})
            case ["slowest"]:
                limit = int(_first(params, "limit") or "20") if (_first(params, "limit") or "20").isdigit() else 20
                spans = q.slowest(_first(params, "service"), limit, _micros(params, "start"))
                self.send_json(200, {"spans": spans})
            case ["status"]:
                app = self.server.app
                self.send_json(200, {"counts": q.counts(), "store": vars(app.store.stats), **app.status()})
            case _:
                self.send_json(404, {"error": "no such endpoint"})


__all__ = ["ApiHandler", "trace_id_of"]
