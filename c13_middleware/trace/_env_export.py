"""Where spans go when no code says: the OpenTelemetry SDK's ``OTEL_TRACES_EXPORTER`` rules, and the hook through
which the export layer supplies the exporters this layer cannot import.

``OTEL_TRACES_EXPORTER`` is a comma list of ``otlp``, ``console`` and ``none``. Unset, an OTLP exporter is on when
``OTEL_EXPORTER_OTLP_ENDPOINT`` or ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`` is set, and nothing is exported otherwise.
``console`` lives here; ``otlp`` is registered in ``_export_hooks`` by the composition root, which imports the OTLP
exporter only when the environment asks for it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from ._env import ignore_variable
from ._export_hooks import env_exporter_factory, env_exporter_names
from ._exporters import ConsoleExporter, ExportResult, SpanExporter
from ._safety import log_once

if TYPE_CHECKING:
    from ._span import Span

ENDPOINT_VARIABLES = ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT")
VIEW_HINT = "run `c13 view` and set OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:4318 to see them"


def exporter_names(env: Mapping[str, str]) -> tuple[str, ...]:
    """The exporters the environment asks for, in order, each once, ``none`` left out."""
    raw = env.get("OTEL_TRACES_EXPORTER", "").strip().lower()
    if not raw:
        return ("otlp",) if any(env.get(name, "").strip() for name in ENDPOINT_VARIABLES) else ()
    names = tuple(dict.fromkeys(part.strip() for part in raw.split(",") if part.strip()))
    if "none" in names:
        if len(names) > 1:
            ignore_variable("OTEL_TRACES_EXPORTER", raw, "'none' cannot be combined with exporters", "none")
        return ()
    return names


def exporter_from_env(env: Mapping[str, str]) -> SpanExporter | None:
    """The exporter ``env`` configures (one, or a fan-out over several), or None. Never raises: an unknown name or
    an exporter that cannot be built is logged once and left out."""
    exporters: list[SpanExporter] = []
    for name in exporter_names(env):
        factory = _console if name == "console" else env_exporter_factory(name)
        if factory is None:
            known = ", ".join(sorted({*env_exporter_names(), "console", "none"}))
            ignore_variable("OTEL_TRACES_EXPORTER", name, f"unknown exporter (known: {known})", "no such exporter")
            continue
        try:
            exporters.append(factory(env))
        except Exception as exc:
            log_once(f"env-exporter:{name}", "c13_middleware: cannot build the %r span exporter that the environment "
                     "asks for (%s); its spans are not exported", name, exc)  # fmt: skip
    if not exporters:
        return None
    return exporters[0] if len(exporters) == 1 else FanOutExporter(exporters)


def _console(env: Mapping[str, str]) -> SpanExporter:
    return ConsoleExporter()


def explain_unexported() -> None:
    """Say once per process that the default pipeline exports nothing, and how to see spans."""
    log_once("spans-go-nowhere", "c13_middleware: spans are not exported (no exporter given, OTEL_TRACES_EXPORTER and "
             "OTEL_EXPORTER_OTLP_ENDPOINT unset); %s", VIEW_HINT)  # fmt: skip


class FanOutExporter(SpanExporter):
    """Several exporters behind one batch processor (``OTEL_TRACES_EXPORTER=otlp,console``); one failing does not
    stop the others."""

    def __init__(self, exporters: Sequence[SpanExporter]) -> None:
        self.exporters = tuple(exporters)

    def __repr__(self) -> str:
        return f"FanOutExporter({list(self.exporters)!r})"

    def export(self, spans: Sequence[Span]) -> ExportResult:
        ok = True
        for exporter in self.exporters:
            try:
                ok = exporter.export(spans) is ExportResult.SUCCESS and ok
            except Exception:
                log_once(f"fanout:{type(exporter).__name__}", "c13_middleware: %s.export raised",
                         type(exporter).__name__, exc_info=True)  # fmt: skip
                ok = False
        return ExportResult.SUCCESS if ok else ExportResult.FAILURE

    def shutdown(self) -> None:
        for exporter in self.exporters:
            try:
                exporter.shutdown()
            except Exception:
                log_once("fanout-shutdown", "c13_middleware: exporter shutdown raised", exc_info=True)

    def force_flush(self, timeout_millis: float = 30_000) -> bool:
        return all([exporter.force_flush(timeout_millis) for exporter in self.exporters])


__all__ = [
    "ENDPOINT_VARIABLES",
    "FanOutExporter",
    "exporter_from_env",
    "exporter_names",
    "explain_unexported",
]
