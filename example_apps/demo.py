"""``make demo``: start the example services on loopback ports, send them a few requests and print every
finished trace as a tree, across processes.

Each service writes its spans as OTLP JSON to ``demo-output/<service>.otlp.jsonl`` (and, when
``OTEL_EXPORTER_OTLP_ENDPOINT`` is set, also sends them there); this script reads the files back.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections import defaultdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "demo-output"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start(service: str, args: list[str]) -> subprocess.Popen[bytes]:
    env = dict(os.environ, C13_DEMO_SPANS=str(OUT / f"{service}.otlp.jsonl"), PYTHONPATH=str(ROOT))
    log = open(OUT / f"{service}.log", "wb")  # the child process writes it
    return subprocess.Popen([sys.executable, *args], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)


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


def get(url: str) -> str:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            body = response.read()
            return f"{response.status} {len(body)} bytes"
    except urllib.error.HTTPError as exc:
        return f"{exc.code} (error response)"


KINDS = {1: "INTERNAL", 2: "SERVER", 3: "CLIENT", 4: "PRODUCER", 5: "CONSUMER"}
STATUS = {0: "UNSET", 1: "OK", 2: "ERROR"}


def _value(any_value: dict[str, Any]) -> Any:
    for key in ("stringValue", "boolValue", "doubleValue"):
        if key in any_value:
            return any_value[key]
    if "intValue" in any_value:
        return int(any_value["intValue"])  # int64 travels as a string in OTLP JSON
    return None


def load_spans() -> list[dict[str, Any]]:
    """Flatten the OTLP JSON export requests written by the services into one dict per span."""
    spans: list[dict[str, Any]] = []
    for path in sorted(OUT.glob("*.otlp.jsonl")):
        for line in path.read_text().splitlines():
            if not line.strip():
                continue
            for resource_spans in json.loads(line)["resourceSpans"]:
                resource = {a["key"]: _value(a["value"]) for a in resource_spans["resource"]["attributes"]}
                for scope_spans in resource_spans["scopeSpans"]:
                    for span in scope_spans["spans"]:
                        spans.append(
                            {
                                "trace_id": span["traceId"],
                                "span_id": span["spanId"],
                                "parent_span_id": span.get("parentSpanId") or None,
                                "name": span["name"],
                                "kind": KINDS.get(span.get("kind", 0), "UNSPECIFIED"),
                                "start_time": int(span["startTimeUnixNano"]),
                                "end_time": int(span["endTimeUnixNano"]),
                                "status": {"code": STATUS[span.get("status", {}).get("code", 0)]},
                                "attributes": {a["key"]: _value(a["value"]) for a in span.get("attributes", [])},
                                "resource": resource,
                            }
                        )
    return spans


def print_trees(spans: list[dict[str, Any]]) -> None:
    by_trace: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for span in spans:
        by_trace[span["trace_id"]].append(span)
    for trace_id, members in sorted(by_trace.items(), key=lambda item: min(s["start_time"] for s in item[1])):
        ids = {s["span_id"] for s in members}
        children: dict[str | None, list[dict[str, Any]]] = defaultdict(list)
        for span in members:
            parent = span["parent_span_id"] if span["parent_span_id"] in ids else None
            children[parent].append(span)
        print(f"trace {trace_id}")
        _print_children(children, None, 1)
        print()


def _print_children(children: dict[str | None, list[dict[str, Any]]], parent: str | None, depth: int) -> None:
    for span in sorted(children.get(parent, ()), key=lambda s: s["start_time"]):
        millis = (span["end_time"] - span["start_time"]) / 1e6
        status = span["status"]["code"]
        flag = "" if status == "UNSET" else f" [{status}]"
        code = span["attributes"].get("http.response.status_code", "")
        service = span["resource"].get("service.name", "?")
        print(f"{'  ' * depth}└─ {span['name']} ({service}, {span['kind']}, {millis:.1f} ms){flag} {code}".rstrip())
        _print_children(children, span["span_id"], depth + 1)


def profile_one_request() -> None:
    """Profile one gateway request, triggered the way an operator would: a header and a token minted with the
    service's secret. The gateway runs in this process here, so its profile store can be read directly."""
    secret = "demo-profile-secret-not-for-production"
    os.environ["C13_PROFILE_SECRET"] = secret
    os.environ["C13_DEMO_SPANS"] = str(OUT / "gateway-profiled.otlp.jsonl")
    from starlette.testclient import TestClient

    from c13_middleware import get_profile, get_tracer, mint_token, render_speedscope, render_svg, render_text
    from example_apps import gateway

    headers = {"x-c13-profile": "cpu", "x-c13-profile-token": mint_token(secret, "GET", "/catalog", 60)}
    with TestClient(gateway.app) as client:
        client.get("/catalog")  # warm-up: the first call also pays for imports and the TLS context
        response = client.get("/catalog", headers=headers)
    get_tracer().force_flush()
    profile_id = response.headers["x-c13-profile-id"]
    print(f"profiled: GET gateway/catalog -> {response.status_code}")
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


def main() -> None:
    OUT.mkdir(exist_ok=True)
    for old in OUT.glob("*.jsonl"):
        old.unlink()
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
        requests = [
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
        print("requests:")
        for service, path in requests:
            print(f"  GET {service}{path} -> {get(f'http://127.0.0.1:{ports[service]}{path}')}")
        print()
        profile_one_request()
    finally:
        for process in processes.values():
            process.send_signal(signal.SIGINT)  # a clean stop, so each service flushes its spans at exit
        for process in processes.values():
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
    spans = load_spans()
    print(
        f"{len(spans)} spans from {len(processes)} service processes and the in-process profiled gateway,"
        f" as OTLP JSON in {OUT}/*.otlp.jsonl"
    )
    if os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT"):
        print(f"(also sent to {os.environ['OTEL_EXPORTER_OTLP_ENDPOINT']} over OTLP/HTTP)")
    print(f"service logs: {OUT}/*.log\n")
    print_trees(spans)


if __name__ == "__main__":
    main()
