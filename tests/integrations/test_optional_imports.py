from __future__ import annotations

import importlib
import subprocess
import sys

import pytest

from c13_middleware.integrations._require import require


def test_missing_dependency_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    real = importlib.import_module

    def fake(name: str, package: str | None = None) -> object:
        if name == "flask":
            raise ImportError("No module named 'flask'")
        return real(name, package)

    monkeypatch.setattr(importlib, "import_module", fake)
    with pytest.raises(ImportError, match=r"pip install 'c13-middleware\[flask\]'"):
        require("flask", "flask")
    assert require("json", "core").__name__ == "json"


@pytest.mark.parametrize(("module", "extra"), [("flask", "flask"), ("starlette", "starlette"), ("django", "django")])
def test_adapter_import_without_its_framework(module: str, extra: str) -> None:
    code = (
        f"import sys; sys.modules[{module!r}] = None\n"  # makes `import <framework>` fail as if it were not installed
        "try:\n"
        f"    import c13_middleware.integrations.{extra}\n"
        "except ImportError as exc:\n"
        "    print(exc)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert f"pip install 'c13-middleware[{extra}]'" in result.stdout, result.stdout + result.stderr
