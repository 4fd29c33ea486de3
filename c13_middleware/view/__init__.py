"""``c13 view``: an OTLP receiver, a SQLite store and a Jaeger-compatible query API in one process.

The top layer, beside ``integrations``: it may use every layer below (the profiler's renderers write its speedscope
and pprof answers) and nothing imports it. Run it with ``c13 view`` or ``python -m c13_middleware view``; embed it
with ``ViewApp(ViewOptions(db=...))``. docs/viewer.md describes the command, the endpoints and the store.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._lazy import lazy_exports

if TYPE_CHECKING:
    from ._app import PortInUse, ViewApp, ViewOptions
    from ._cli import main
    from ._queries import Queries, TraceQuery
    from ._store import Store, default_db_path

__all__ = ["PortInUse", "Queries", "Store", "TraceQuery", "ViewApp", "ViewOptions", "default_db_path", "main"]

_EXPORTS = {
    "._app": ("PortInUse", "ViewApp", "ViewOptions"),
    "._cli": ("main",),
    "._queries": ("Queries", "TraceQuery"),
    "._store": ("Store", "default_db_path"),
}
__getattr__, __dir__ = lazy_exports(globals(), _EXPORTS)
