from __future__ import annotations

import importlib
from types import ModuleType


def require(module: str, extra: str) -> ModuleType:
    """Import an optional dependency, or fail with the extra that installs it."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise ImportError(
            f"c13_middleware.integrations.{extra} needs {module!r}: pip install 'c13-middleware[{extra}]'"
        ) from exc
