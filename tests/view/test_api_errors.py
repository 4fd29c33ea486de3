"""The query API's refusals, in-process: bad parameters are a 400 naming the parameter, unknown things a 404, and
the command line's argument checks and its refusal to listen beyond loopback without a token."""

from __future__ import annotations

import argparse
import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from c13_middleware.view import ViewApp, ViewOptions, main
from c13_middleware.view._cli import _port, _positive, parse_retention
from c13_middleware.view._jaeger import BadQuery, parse_trace_query


@pytest.fixture
def api(tmp_path: Path) -> Iterator[str]:
    app = ViewApp(ViewOptions(db=tmp_path / "v.sqlite3", otlp_http_port=0, otlp_grpc_port=None, ui_port=0))
    app.start()  # no page handler: the API alone
    try:
        yield f"http://127.0.0.1:{app.ports['ui']}"
    finally:
        app.stop()


def _get(url: str) -> tuple[int, object]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


@pytest.mark.parametrize(
    ("path", "status", "says"),
    [
        ("/api/c13/red?start=yesterday", 400, "start must be Unix microseconds"),
        ("/api/dependencies?lookback=1h", 400, "lookback must be milliseconds"),
        ("/api/nothing", 404, "no such endpoint"),
        ("/api/c13/nothing", 404, "no such endpoint"),
        ("/api/profiles/abc?format=svg", 404, "unknown profile"),
        ("/api/c13/traces/zz", 404, "trace not found"),
        ("/api/c13/profiles/abc/flame", 404, "unknown profile"),
        ("/search", 404, "not found"),
        ("/api/traces?tags=[1]", 400, "tags must be a JSON object"),
        ("/api/traces?tag=nocolon", 400, "tag must be key:value"),
    ],
)
def test_refusals_name_the_problem(api: str, path: str, status: int, says: str) -> None:
    code, body = _get(api + path)
    assert code == status and says in json.dumps(body)


def test_tags_accept_booleans_and_numbers_as_text() -> None:
    query = parse_trace_query({"tags": ['{"ok": true, "n": 3, "x": 1.5}'], "tag": ["a:b"]})
    assert query.tags == {"ok": "true", "n": "3", "x": "1.5", "a": "b"}
    with pytest.raises(BadQuery):
        parse_trace_query({"tags": ["{not json"]})


def test_command_line_argument_checks(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("C13_VIEW_TOKEN", raising=False)
    assert parse_retention("30m") == 1800 and parse_retention("2") == 2
    for bad, check in (("0d", parse_retention), ("soon", parse_retention), ("70000", _port), ("x", _port),
                       ("0", _positive)):  # fmt: skip
        with pytest.raises(argparse.ArgumentTypeError):
            check(bad)
    assert _port("0") == 0 and _positive("3") == 3
    assert main(["view", "--host", "0.0.0.0"]) == 2
    assert "give a --token" in capsys.readouterr().err
