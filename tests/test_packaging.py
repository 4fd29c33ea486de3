"""The adapters live in ``integrations/`` but install as ``c13_middleware.integrations``: in the editable install the
tests run against, and in a built wheel."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import c13_middleware
import c13_middleware.integrations

ROOT = Path(__file__).resolve().parent.parent


def test_editable_install_maps_the_integrations_folder() -> None:
    assert Path(c13_middleware.__file__).parent == ROOT / "c13_middleware"
    assert Path(c13_middleware.integrations.__file__).parent == ROOT / "integrations"
    from c13_middleware.integrations.starlette import C13Middleware

    assert C13Middleware.__module__ == "c13_middleware.integrations.starlette"


def test_built_wheel_contains_and_imports_the_integrations(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(tmp_path), str(ROOT)],
        check=True,
        capture_output=True,
        timeout=600,
    )
    (wheel,) = tmp_path.glob("c13_middleware-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    expected = {
        f"c13_middleware/{path.relative_to(ROOT / 'c13_middleware')}"
        for path in (ROOT / "c13_middleware").rglob("*.py")
    }
    expected |= {
        f"c13_middleware/integrations/{path.relative_to(ROOT / 'integrations')}"
        for path in (ROOT / "integrations").rglob("*.py")
    }
    expected.add("c13_middleware/py.typed")
    expected |= {  # c13 view's pages: served from the package, offline
        f"c13_middleware/view/static/{path.name}" for path in (ROOT / "c13_middleware/view/static").iterdir()
    }
    assert expected - names == set()
    assert not any(name.startswith(("tests/", "integrations/", "benchmarks/")) for name in names)
    # A pure-Python wheel is importable as a zip: import from it in an isolated interpreter (no site-packages, so
    # not this checkout's editable install) — the core and an adapter module, whose framework import is stubbed.
    code = (
        "import sys, types; sys.path.insert(0, sys.argv[1]); "
        "import c13_middleware as c, c13_middleware.integrations._require as r; "
        "print(c.__file__); print(r.__file__)"
    )
    result = subprocess.run(
        [sys.executable, "-I", "-S", "-c", code, str(wheel)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 2 and all(line.startswith(str(wheel)) for line in lines), result.stdout
