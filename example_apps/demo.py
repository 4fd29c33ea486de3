"""``make demo``: start ``c13 view``, start the example services exporting to it through the environment only
(``OTEL_EXPORTER_OTLP_ENDPOINT``, ``OTEL_SERVICE_NAME``, ``C13_PROFILE_SECRET``: no code change in the services),
send them traffic (profiled and failing requests included), print the traces the viewer received and the UI's URL,
and keep serving until Ctrl-C (``C13_DEMO_SECONDS=N``: stop after N seconds).

Each service also writes its spans as OTLP JSON to ``demo-output/<service>.otlp.jsonl``. With
``OTEL_EXPORTER_OTLP_ENDPOINT`` already set, the services send there instead and no viewer is started.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
OUT = Path(os.environ.get("C13_DEMO_DIR") or ROOT / "demo-output")
SECRET = "demo-profile-secret-not-for-production"
VIEW_PORTS = {"--otlp-http-port": 4318, "--otlp-grpc-port": 4317, "--ui-port": 16686}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def port_or_free(port: int) -> int:
    """The default port when it is free here (and ``C13_DEMO_FREE_PORTS`` is not set), else 0: the system chooses."""
    if os.environ.get("C13_DEMO_FREE_PORTS"):
        return 0
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return 0
    return port


def start_view() -> tuple[subprocess.Popen[str], dict[str, str]]:
    """``c13 view`` on its default ports (free ones for those in use), storing in demo-output/view.sqlite3."""
    db = OUT / "view.sqlite3"
    for old in OUT.glob("view.sqlite3*"):
        old.unlink()
    args = [sys.executable, "-m", "c13_middleware", "view", "--db", str(db)]
    for flag, port in VIEW_PORTS.items():
        args += [flag, str(port_or_free(port))]
    with open(OUT / "view.log", "w") as log:  # the child process writes it
        process = subprocess.Popen(
            args, cwd=ROOT, stdout=subprocess.PIPE, stderr=log, text=True, start_new_session=True
        )
    assert process.stdout is not None
    lines = [process.stdout.readline() for _ in range(5)]
    text = "".join(lines)
    ui = re.search(r"UI and API on (http://\S+:\d+)/", text)
    http = re.search(r"OTLP/HTTP on (http://\S+:\d+)", text)
    if not (ui and http):
        process.kill()
        raise SystemExit(f"c13 view did not start: {text}{(OUT / 'view.log').read_text()}")
    return process, {"ui": ui.group(1), "otlp": http.group(1)}


def start(service: str, args: list[str]) -> subprocess.Popen[bytes]:
    env = dict(os.environ, C13_DEMO_SPANS=str(OUT / f"{service}.otlp.jsonl"), PYTHONPATH=str(ROOT),
               OTEL_SERVICE_NAME=service, C13_PROFILE_SECRET=SECRET)  # fmt: skip
    log = open(OUT / f"{service}.log", "wb")  # the child process writes it
    # Own sessions: Ctrl-C reaches this script only, which stops the services first (they flush their last spans to
    # the viewer, still running) and the viewer last.
    return subprocess.Popen([sys.executable, *args], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)  # fmt: skip


def wait_until_listening(port: int, process: subprocess.Popen[bytes], timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"a demo service exited early with code {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"nothing listened on port {port} within {timeout} s")


def get(url: str, headers: dict[str, str] | None = None) -> str:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers or {}), timeout=10) as response:
            body = response.read()
            return f"{response.status} {len(body)} bytes"
    except urllib.error.HTTPError as exc:
        return f"{exc.code} (error response)"


def api(ui: str, path: str) -> Any:
    with urllib.request.urlopen(ui + path, timeout=10) as response:
        return json.loads(response.read())


def profiled(path: str) -> dict[str, str]:
    """The headers that ask a service to profile one request: what an operator sends, with a token minted from the
    service's secret for this method and path."""
    from c13_middleware import mint_token

    return {"x-c13-profile": "cpu", "x-c13-profile-token": mint_token(SECRET, "GET", path, 60)}


REQUESTS = [
    ("gateway", "/items/1"),  # gateway → inventory (httpx) and → pricing (gRPC): one trace, three processes
    ("gateway", "/items/7"),  # pricing answers NOT_FOUND
    ("gateway", "/stream"),
    ("gateway", "/fail"),
    ("inventory", "/items/1"),
    ("inventory", "/slow"),
    ("inventory", "/fail"),
    ("accounts", "/accounts/1/"),
    ("accounts", "/stream/"),
    ("accounts", "/fail/"),
]
PROFILED = [("gateway", "/catalog"), ("gateway", "/items/1")]  # 4 each: enough for the compare page's test


def drive(ports: dict[str, int]) -> None:
    print("requests:")
    for service, path in REQUESTS:
        print(f"  GET {service}{path} -> {get(f'http://127.0.0.1:{ports[service]}{path}')}")
    for service, path in PROFILED:
        for _ in range(4):
            answer = get(f"http://127.0.0.1:{ports[service]}{path}", profiled(path))
        print(f"  GET {service}{path} x4, profiled -> {answer}")
    print()


def profile_one_request() -> None:
    """Profile one gateway request in this process, to print its report and write its flame graph as SVG (the
    viewer shows the same flame graphs for the requests profiled above)."""
    os.environ["C13_PROFILE_SECRET"] = SECRET
    os.environ["C13_DEMO_SPANS"] = str(OUT / "gateway-profiled.otlp.jsonl")
    from starlette.testclient import TestClient

    from c13_middleware import get_profile, get_tracer, render_speedscope, render_svg, render_text
    from example_apps import gateway

    with TestClient(gateway.app) as client:
        client.get("/catalog")  # warm-up: the first call also pays for imports and the TLS context
        response = client.get("/catalog", headers=profiled("/catalog"))
    get_tracer().force_flush()
    profile_id = response.headers["x-c13-profile-id"]
    print(f"profiled in this process: GET gateway/catalog -> {response.status_code}")
    print(f"  X-C13-Profile-Id: {profile_id}")
    print(f"  Server-Timing: {response.headers['server-timing']}\n")
    report = get_profile(profile_id)
    if report is None:
        print("  (the profile was not kept)")
        return
    print(render_text(report, limit=12))
    (OUT / "profile.svg").write_text(render_svg(report))
    (OUT / "profile.speedscope.json").write_text(render_speedscope(report))
    print(f"\nflame graph: {OUT / 'profile.svg'}; speedscope: {OUT / 'profile.speedscope.json'}\n")


def wait_for_viewer(ui: str, profiles: int, timeout: float = 20.0) -> dict[str, int]:
    """Until the viewer holds ``profiles`` profiles and the span count stops growing (the services export in batches
    every half second, profiles every second)."""
    deadline = time.monotonic() + timeout
    last, counts = -1, {}
    while time.monotonic() < deadline:
        counts = api(ui, "/api/c13/status")["counts"]
        if counts["profiles"] >= profiles and counts["spans"] == last:
            break
        last = counts["spans"]
        time.sleep(1.0)
    return counts


def print_traces(ui: str) -> None:
    """One line per trace the viewer received, with its address."""
    traces = api(ui, "/api/c13/search?limit=100")["traces"]
    for trace in reversed(traces):
        errors = f", {trace['errors']} error{'s' if trace['errors'] > 1 else ''}" if trace["errors"] else ""
        root = f"{trace['rootService']}: {trace['rootName']}"
        print(f"  {root:<40} {trace['spans']:>2} spans {trace['durationNs'] / 1e6:7.1f} ms  "
              f"{ui}/trace/{trace['traceId']}{errors}")  # fmt: skip


def stop(processes: list[subprocess.Popen[Any]]) -> None:
    for process in processes:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)  # a clean stop: each service flushes its spans at exit
    for process in processes:
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main() -> None:
    # Ctrl-C and SIGTERM stop the demo cleanly, even where the shell started it with SIGINT ignored (a background job)
    signal.signal(signal.SIGINT, _interrupt)
    signal.signal(signal.SIGTERM, _interrupt)
    OUT.mkdir(parents=True, exist_ok=True)
    for old in OUT.glob("*.jsonl"):
        old.unlink()
    view: subprocess.Popen[str] | None = None
    urls: dict[str, str] = {}
    if not os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT"):
        view, urls = start_view()
        os.environ["OTEL_EXPORTER_OTLP_ENDPOINT"] = urls["otlp"]
        print(f"c13 view: UI on {urls['ui']}/ (OTLP/HTTP on {urls['otlp']})\n")
    ports = {"gateway": free_port(), "inventory": free_port(), "accounts": free_port(), "pricing": free_port()}
    os.environ["INVENTORY_URL"] = f"http://127.0.0.1:{ports['inventory']}"
    os.environ["PRICING_TARGET"] = f"127.0.0.1:{ports['pricing']}"
    python_server = ["-m", "uvicorn", "--host", "127.0.0.1", "--log-level", "warning", "--port"]
    processes = {
        "gateway": start("gateway", [*python_server, str(ports["gateway"]), "example_apps.gateway:app"]),
        "inventory": start("inventory", ["-m", "example_apps.inventory", "--port", str(ports["inventory"])]),
        "accounts": start("accounts", [*python_server, str(ports["accounts"]), "example_apps.accounts:application"]),
        "pricing": start("pricing", ["-m", "example_apps.pricing", "--port", str(ports["pricing"])]),
    }
    try:
        for name, process in processes.items():
            wait_until_listening(ports[name], process)
        drive(ports)
        profile_one_request()
        if view is None:
            print(f"spans sent to {os.environ['OTEL_EXPORTER_OTLP_ENDPOINT']} and written to {OUT}/*.otlp.jsonl")
            return
        counts = wait_for_viewer(urls["ui"], profiles=len(PROFILED) * 4 + 1)
        print(
            f"c13 view received {counts['traces']} traces ({counts['spans']} spans) and {counts['profiles']} profiles:"
        )
        print_traces(urls["ui"])
        print(f"\nsee them: {urls['ui']}/search   services: {urls['ui']}/services")
        sides = {
            "a.service": "gateway",
            "a.route": "/items/{item_id:int}",
            "b.service": "gateway",
            "b.route": "/catalog",
        }
        print(f"compare two routes: {urls['ui']}/compare?{urllib.parse.urlencode(sides)}")
        seconds = float(os.environ.get("C13_DEMO_SECONDS") or "inf")
        print("serving until Ctrl-C" if seconds == float("inf") else f"serving for {seconds:g} s", flush=True)
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and view.poll() is None:
            time.sleep(min(0.5, max(deadline - time.monotonic(), 0.0)))
    except KeyboardInterrupt:
        print()
    finally:
        stop(list(processes.values()))
        if view is not None:
            stop([view])
            print(f"c13 view stopped; its store is {OUT / 'view.sqlite3'}")


if __name__ == "__main__":
    main()
