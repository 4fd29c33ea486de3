"""Import cost: ``import c13_middleware`` and the middleware alone, next to ``import opentelemetry.sdk.trace``.

Each import runs in a fresh interpreter (nothing in ``sys.modules`` yet), several times, interleaved so that
background load spreads over all of them; the table gives medians. Bytecode caches are warm, as in a deployed
service: the interpreters share a temporary ``PYTHONPYCACHEPREFIX`` filled by one unmeasured run of each import
(so a ``PYTHONDONTWRITEBYTECODE`` environment, where the editable source tree would be recompiled on every run,
does not penalise c13 against pip-installed, precompiled packages).

python -m benchmarks.bench_import
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
from typing import NamedTuple

from benchmarks._timing import machine, table


class Case(NamedTuple):
    label: str
    statement: str
    prefix: str  # the package whose loaded modules are counted
    setup: str = ""  # run before the clock starts


CASES = {
    "c13": Case("import c13_middleware", "import c13_middleware", "c13_middleware"),
    "middleware": Case(
        "from c13_middleware import C13ASGIMiddleware", "from c13_middleware import C13ASGIMiddleware", "c13_middleware"
    ),
    "middleware_asyncio": Case(
        "the same, asyncio already loaded (as under any ASGI server)",
        "from c13_middleware import C13ASGIMiddleware",
        "c13_middleware",
        "import asyncio",
    ),
    "otel": Case("import opentelemetry.sdk.trace", "import opentelemetry.sdk.trace", "opentelemetry"),
}
RUNS = 15

_PROBE = """\
import sys, time
{setup}
start = time.perf_counter()
{statement}
elapsed = time.perf_counter() - start
print(elapsed, sum(1 for name in sys.modules if name == {prefix!r} or name.startswith({prefix!r} + ".")))
"""


def measure(case: Case, env: dict[str, str]) -> tuple[float, int] | None:
    """(seconds, modules of the case's package loaded) for one import in a new interpreter; None if it fails."""
    code = _PROBE.format(setup=case.setup, statement=case.statement, prefix=case.prefix)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    if result.returncode != 0:
        return None
    seconds, count = result.stdout.split()
    return float(seconds), int(count)


def figures(runs: int = RUNS) -> dict[str, tuple[float, int] | None]:
    """Per case: median milliseconds and modules loaded (None: the import failed, e.g. OTel not installed)."""
    times: dict[str, list[float]] = {key: [] for key in CASES}
    counts: dict[str, int] = {}
    with tempfile.TemporaryDirectory(prefix="bench-import-pycache-") as pycache:
        env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        env["PYTHONPYCACHEPREFIX"] = pycache
        for case in CASES.values():
            measure(case, env)  # writes the bytecode caches
        for _ in range(runs):
            for key, case in CASES.items():
                measured = measure(case, env)
                if measured is not None:
                    times[key].append(measured[0] * 1e3)
                    counts[key] = measured[1]
    return {key: (statistics.median(values), counts[key]) if values else None for key, values in times.items()}


def main() -> None:
    results = figures()
    otel = results["otel"]
    rows = []
    for key, case in CASES.items():
        result = results[key]
        if result is None:
            rows.append((case.label, "n/a", "n/a", "n/a"))
            continue
        median_ms, modules = result
        rows.append((case.label, f"{median_ms:.2f}", str(modules), f"{median_ms / otel[0]:.2f}" if otel else "n/a"))
    header = (f"statement (fresh interpreter, median of {RUNS})", "ms", "own modules loaded", "ms / OTel SDK ms")
    print(table(f"Import cost ({machine()})", header, rows))


if __name__ == "__main__":
    main()
