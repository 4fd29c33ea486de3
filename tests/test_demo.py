"""``make demo`` end to end, stopped by ``C13_DEMO_SECONDS``: ``c13 view`` receives every example trace, from the
services configured through the environment only, and the profiles of the profiled requests."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

from example_apps.demo import PROFILED, REQUESTS

ROOT = Path(__file__).resolve().parent.parent


def test_demo_sends_every_example_trace_and_profiles_to_the_viewer(tmp_path: Path) -> None:
    env = {**os.environ, "C13_DEMO_DIR": str(tmp_path), "C13_DEMO_FREE_PORTS": "1", "C13_DEMO_SECONDS": "0.5"}
    for name in ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_TRACES_EXPORTER", "C13_PROFILE_SECRET"):
        env.pop(name, None)
    result = subprocess.run([sys.executable, "-m", "example_apps.demo"], cwd=ROOT, env=env, capture_output=True,
                            text=True, timeout=240)  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    assert "c13 view: UI on http://127.0.0.1:" in result.stdout
    assert "see them: http://127.0.0.1:" in result.stdout and "c13 view stopped" in result.stdout
    assert (tmp_path / "profile.svg").read_text().startswith("<svg")
    db = sqlite3.connect(tmp_path / "view.sqlite3")
    try:
        rows = db.execute("SELECT service, attributes FROM spans WHERE entry = 1")
        received = {(service, json.loads(attributes).get("url.path")) for service, attributes in rows}
        assert set(REQUESTS) | set(PROFILED) <= received
        # the gateway → inventory → pricing request is one trace across three processes
        services_per_trace = [
            row[0] for row in db.execute("SELECT count(DISTINCT service) FROM spans GROUP BY trace_id")
        ]
        assert max(services_per_trace) == 3
        assert db.execute("SELECT count(*) FROM spans WHERE status = 2").fetchone()[0] >= 4
        profiles = db.execute("SELECT name, trace_id FROM profiles WHERE service = 'gateway'").fetchall()
        assert len(profiles) >= len(PROFILED) * 4
        # /catalog is CPU work: its profiles have samples, which link them to their traces
        assert sum(1 for name, trace_id in profiles if name == "GET /catalog" and trace_id) >= 4
    finally:
        db.close()
