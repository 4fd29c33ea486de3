"""``make bench``: every benchmark, one after the other (never side by side: they share two cores)."""

from __future__ import annotations

import importlib

MODULES = (
    "bench_import",
    "bench_core",
    "bench_server",
    "bench_httpx",
    "bench_otlp",
    "bench_profiler",
    "bench_view",
    "bench_otel_bridge",  # last: it installs c13 as OpenTelemetry's provider for the rest of the process
)


def main() -> None:
    for name in MODULES:
        module = importlib.import_module(f"benchmarks.{name}")
        module.main([]) if name == "bench_profiler" else module.main()
        print()


if __name__ == "__main__":
    main()
