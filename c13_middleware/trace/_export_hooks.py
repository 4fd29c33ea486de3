"""Where the export layer plugs exporters into the trace layer, which cannot import it.

The composition root (``c13_middleware/_compose.py``) registers a factory per ``OTEL_TRACES_EXPORTER`` name here
when it is imported; ``_env_export`` calls it when the environment asks for that exporter. This module imports
nothing else of c13, so registering costs ``import c13_middleware`` one small module.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # annotations only: this module must stay import-free
    from ._exporters import SpanExporter

EnvExporterFactory = Callable[[Mapping[str, str]], "SpanExporter"]

_lock = threading.Lock()
_factories: dict[str, EnvExporterFactory] = {}


def register_env_exporter(name: str, factory: EnvExporterFactory | None) -> EnvExporterFactory | None:
    """Register (None: remove) the exporter ``OTEL_TRACES_EXPORTER=name`` builds from the environment; returns the
    factory it replaces."""
    with _lock:
        previous = _factories.pop(name, None)
        if factory is not None:
            _factories[name] = factory
    return previous


def env_exporter_factory(name: str) -> EnvExporterFactory | None:
    with _lock:
        return _factories.get(name)


def env_exporter_names() -> tuple[str, ...]:
    with _lock:
        return tuple(_factories)


__all__ = ["EnvExporterFactory", "env_exporter_factory", "env_exporter_names", "register_env_exporter"]
