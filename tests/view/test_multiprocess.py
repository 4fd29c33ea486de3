"""A service run by ``uvicorn --workers 2`` and configured only through the environment exports its spans and
profiles to ``c13 view``: every profile id a response names is retrievable from the viewer."""

from __future__ import annotations

import gzip
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from c13_middleware import mint_token
from tests.servers import free_port
from tests.view.conftest import View

SECRET = "a-profile-secret-for-the-view-tests"
ROOT = Path(__file__).resolve().parents[2]


def _wait_for_service(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert process.poll() is None, "uvicorn exited"
        try:
            urllib.request.urlopen(url + "/missing", timeout=1)
        except urllib.error.HTTPError:
            return
        except OSError:
            time.sleep(0.1)
    raise AssertionError("uvicorn did not start")


def _profiled_request(url: str) -> tuple[str, str]:
    headers = {"x-c13-profile": "cpu", "x-c13-profile-token": mint_token(SECRET, "GET", "/work", 60)}
    with urllib.request.urlopen(urllib.request.Request(url + "/work", headers=headers), timeout=10) as response:
        return response.read().decode(), response.headers["X-C13-Profile-Id"]


def test_every_profile_id_of_a_two_worker_service_is_viewable(view: View) -> None:
    port = free_port()
    env = {
        **os.environ,
        "OTEL_EXPORTER_OTLP_ENDPOINT": view.otlp_http,
        "OTEL_SERVICE_NAME": "workers",
        "C13_PROFILE_SECRET": SECRET,
        "PYTHONPATH": str(ROOT),
    }
    env.pop("OTEL_TRACES_EXPORTER", None)
    service = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "tests.view.profiled_app:app", "--workers", "2", "--host", "127.0.0.1",
         "--port", str(port), "--log-level", "warning"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_for_service(url, service)
        by_worker: dict[str, list[str]] = {}
        for _ in range(40):
            pid, profile_id = _profiled_request(url)
            by_worker.setdefault(pid, []).append(profile_id)
            if len(by_worker) == 2 and sum(map(len, by_worker.values())) >= 6:
                break
        assert len(by_worker) == 2, "the requests never reached the second worker"
        ids = [profile_id for ids in by_worker.values() for profile_id in ids]
        assert all(ids)
        deadline = time.monotonic() + 30
        missing = set(ids)
        while missing and time.monotonic() < deadline:
            missing = {pid for pid in missing if view.get(f"/api/profiles/{pid}")[0] != 200}
            time.sleep(0.2)
        assert not missing, f"{len(missing)} of {len(ids)} profiles never reached the viewer"
        # Before stopping the workers: uvicorn's worker processes end without running atexit, so spans still
        # queued then are lost; the batches leave every 5 s.
        assert view.wait_for_spans(len(ids), timeout=20)["spans"] >= len(ids)
    finally:
        service.terminate()
        service.wait(20)
        if service.stderr is not None:
            service.stderr.close()
    speedscope = view.json(f"/api/profiles/{ids[0]}")
    assert speedscope["$schema"] == "https://www.speedscope.app/file-format-schema.json"
    assert any(frame["name"].partition(":")[0] == "_burn" for frame in speedscope["shared"]["frames"])  # "name:line"
    status, headers, body = view.get(f"/api/profiles/{ids[0]}?format=pprof")
    assert status == 200 and headers["Content-Type"] == "application/octet-stream"
    assert gzip.decompress(body)  # a gzip-compressed pprof Profile
    document = view.json(f"/api/c13/profiles/{ids[0]}")
    assert document["service"] == "workers"
    trace = view.json(f"/api/c13/traces/{document['traceId']}")
    assert [profile["profileId"] for profile in trace["profiles"]] == [ids[0]]
    root = trace["spans"][0]
    flame = view.json(f"/api/c13/profiles/{ids[0]}/flame?spanId={root['spanId']}")["root"]
    assert flame["value"] > 0 and flame["cpu"] + flame["io"] + flame["wait"] == flame["value"]
    names: set[str] = set()
    todo = [flame]
    while todo:
        node = todo.pop()
        names.add(node["name"])
        todo.extend(node["children"])
    assert "_burn" in names
