"""Client-side overhead per httpx request against an in-process ``httpx.MockTransport``: bare, with c13's
transport, and with OpenTelemetry's ``SyncOpenTelemetryTransport``, in one run. Both tracers export through a
batch processor into an exporter that drops everything.

python -m benchmarks.bench_httpx
"""

from __future__ import annotations

import gc
import time

import httpx

from benchmarks._timing import NullExporter, machine, otel_provider, table
from c13_middleware import BatchSpanProcessor
from c13_middleware.integrations.httpx import C13Transport

N = 2000
ROUNDS = 9
URL = "http://api.example.com/items/42?page=2"
TARGET = 0.2  # c13 may add at most a fifth of what OpenTelemetry adds


def handler(request: httpx.Request) -> httpx.Response:
    return httpx.Response(200, content=b"ok")


def otel_transport() -> httpx.BaseTransport:
    from opentelemetry.instrumentation.httpx import SyncOpenTelemetryTransport

    provider, _ = otel_provider()
    transport: httpx.BaseTransport = SyncOpenTelemetryTransport(httpx.MockTransport(handler), tracer_provider=provider)
    return transport


def clients() -> dict[str, httpx.Client]:
    c13 = C13Transport(
        httpx.MockTransport(handler),
        service_name="bench",
        processors=[BatchSpanProcessor(NullExporter(), max_queue_size=4096)],
    )
    return {
        "bare httpx": httpx.Client(transport=httpx.MockTransport(handler)),
        "c13 C13Transport": httpx.Client(transport=c13),
        "OpenTelemetry transport": httpx.Client(transport=otel_transport()),
    }


def per_request_us(client: httpx.Client) -> float:
    get = client.get
    gc.collect()
    start = time.perf_counter()
    for _ in range(N):
        get(URL)
    return (time.perf_counter() - start) / N * 1e6


def measure(variants: dict[str, httpx.Client]) -> dict[str, float]:
    """Best of ROUNDS per variant, the variants taking turns so drift and warm-up hit them alike."""
    best = dict.fromkeys(variants, float("inf"))
    for client in variants.values():  # warm-up
        for _ in range(200):
            client.get(URL)
    for _ in range(ROUNDS):
        for name, client in variants.items():
            best[name] = min(best[name], per_request_us(client))
    return best


def main() -> None:
    variants = clients()
    try:
        results = measure(variants)
    finally:
        for client in variants.values():
            client.close()
    bare = results["bare httpx"]
    rows: list[tuple[str, ...]] = []
    for name, value in results.items():
        added = "" if name == "bare httpx" else f"{value - bare:.1f}"
        rows.append((name, f"{value:.1f}", added))
    print(table(f"httpx client, per request, MockTransport ({machine()})", ("variant", "µs/request", "added µs"), rows))
    ours = results["c13 C13Transport"] - bare
    theirs = results["OpenTelemetry transport"] - bare
    ratio = ours / theirs if theirs > 0 else float("inf")
    verdict = "meets" if ratio <= TARGET else "MISSES"
    print(
        f"\nc13 adds {ours:.1f} µs, OpenTelemetry {theirs:.1f} µs: ratio {ratio:.3f} ({verdict} the ≤ {TARGET} target)"
    )


if __name__ == "__main__":
    main()
