"""c13's pprof output read by the real ``go tool pprof`` (Debian's golang-go, from scripts/ensure-test-tools).

A known workload (``serialize``, whose time is on its ``json.dumps`` line) is profiled and written as pprof; the
tool's ``-list``, ``-top``, ``-traces`` and ``-raw`` views must show the time on that line, the three sample types
with ``wall`` the default, a mapping named after the service, thread labels, Python's own names (``<lambda>``,
``<locals>``) as written, and print nothing on stderr (no "Main binary filename not available", no warning).
"""

from __future__ import annotations

import inspect
import os
import re
import shutil
import subprocess
import threading
from pathlib import Path

import pytest

from c13_middleware.profiling import ProfileReport, ProfileSession, ProfileType, render_pprof
from tests.profiling import pprof_workload

ROOT = Path(__file__).resolve().parents[2]
SERVICE = "orders-api"
HOT_LINE = next(
    number
    for number, text in enumerate(inspect.getsource(pprof_workload).splitlines(), start=1)
    if "json.dumps(document)" in text
)


def go_binary() -> str:
    found = shutil.which("go") or ("/usr/bin/go" if Path("/usr/bin/go").exists() else None)
    if found is None:
        pytest.fail(
            "go is not installed: run `bash scripts/ensure-test-tools` (Debian/Ubuntu package 'golang-go'); "
            "`make test` does this before pytest",
            pytrace=False,
        )
    return found


@pytest.fixture(scope="module")
def report() -> ProfileReport:
    session = ProfileSession(ProfileType.CPU, name="GET /orders", service=SERVICE)
    session.run_sync(pprof_workload.run_for, 0.3)
    return session.report()


@pytest.fixture(scope="module")
def pprof(report: ProfileReport, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The four views of the tool, run once: {flag: stdout}; each run's stderr must be empty."""
    go = go_binary()
    temp = tmp_path_factory.mktemp("pprof")
    path = temp / "profile.pb.gz"
    path.write_bytes(render_pprof(report))
    env = {**os.environ, "HOME": str(temp / "home"), "GOCACHE": str(temp / "gocache"), "PPROF_TMPDIR": str(temp)}
    views: dict[str, str] = {}
    for flag in ("-list=serialize", "-top", "-traces", "-raw"):
        done = subprocess.run(
            [go, "tool", "pprof", flag, f"-source_path={ROOT}", str(path)],
            capture_output=True,
            text=True,
            env=env,
            cwd=temp,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, (flag, done.stderr)
        assert done.stderr == "", (flag, done.stderr)  # no "Main binary filename not available", no warning
        views[flag] = done.stdout
    return views


def _duration_ms(text: str) -> float:
    value, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", text).groups()  # type: ignore[union-attr]
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def test_list_puts_the_time_on_the_hot_line(pprof: dict[str, str]) -> None:
    listing = pprof["-list=serialize"]
    assert "ROUTINE ======================== serialize in tests/profiling/pprof_workload.py" in listing
    total = _duration_ms(re.search(r"^Total: (\S+)", listing, re.M).group(1))  # type: ignore[union-attr]
    per_line: dict[int, float] = {}
    for match in re.finditer(r"^\s+(\S+)\s+(\S+)\s+(\d+):", listing, re.M):
        flat, cumulative, number = match.groups()
        per_line[int(number)] = 0.0 if cumulative == "." else _duration_ms(cumulative)
    assert per_line[HOT_LINE] >= 0.8 * total, (HOT_LINE, per_line, total)
    assert sum(v for n, v in per_line.items() if n != HOT_LINE) <= 0.2 * total


def test_top_names_python_functions_as_written(pprof: dict[str, str]) -> None:
    top = pprof["-top"]
    assert "Type: wall" in top
    assert f"File: {SERVICE}" in top
    names = {line.split()[-1] for line in top.splitlines() if re.match(r"^\s+[\d.]+\S*\s+[\d.]+%", line)}
    assert {"serialize", "<lambda>", "run_for.<locals>.outer.<locals>.inner", "run_for"} <= names, names
    assert not any(name.startswith("[") and SERVICE in name for name in names), names  # no nameless function


def test_traces_carry_thread_labels(pprof: dict[str, str]) -> None:
    traces = pprof["-traces"]
    assert f"thread_name:  {threading.current_thread().name}" in traces
    assert re.search(r"thread_id:\s+\d+", traces)
    assert "serialize" in traces and "state:  cpu" in traces


def test_raw_sample_types_mapping_and_labels(pprof: dict[str, str]) -> None:
    raw = pprof["-raw"]
    assert "samples/count wall/nanoseconds[dflt] cpu/nanoseconds" in raw
    mappings = raw.split("Mappings\n", 1)[1]
    assert re.search(rf"^1: 0x0/0x0/0x0 {SERVICE}\s+\[FN\]\[FL\]\[LN\]", mappings, re.M), mappings
    assert f"thread_name:[{threading.current_thread().name}]" in raw
    assert f"thread_id:[{threading.get_ident()}]" in raw
    assert re.search(rf" serialize tests/profiling/pprof_workload.py:{HOT_LINE} s=\d+", raw, re.M)
