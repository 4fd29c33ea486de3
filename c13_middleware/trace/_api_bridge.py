"""Where ``configure`` finds the OpenTelemetry API bridge.

The bridge lives in ``c13_middleware.integrations``, above this layer: the composition root
(``c13_middleware/_compose.py``) registers an installer that imports it only when called, so ``import
c13_middleware`` never imports ``opentelemetry`` and a process without ``opentelemetry-api`` pays nothing.
"""

from __future__ import annotations

from collections.abc import Callable

OpenTelemetryInstaller = Callable[[bool], None]
"""Called with ``explicit``: True for ``configure(opentelemetry=True)`` (a missing API raises ImportError), False
for the default (a missing API or a provider set by someone else is not an error)."""

_installer: OpenTelemetryInstaller | None = None


def set_opentelemetry_installer(installer: OpenTelemetryInstaller | None) -> OpenTelemetryInstaller | None:
    """Register the installer ``configure`` calls; returns the one it replaces."""
    global _installer
    previous, _installer = _installer, installer
    return previous


def install_opentelemetry(option: bool | None) -> None:
    """``configure``'s ``opentelemetry`` option: False does nothing, True installs the bridge, None (the default)
    installs it when the API is importable and no other tracer provider is set."""
    if option is False:
        return
    from ._safety import log_once  # here, not at the top: importing the package must stay cheap (no logging)

    installer = _installer
    if installer is None:
        if option:
            log_once(
                "otel-no-installer",
                "c13_middleware: opentelemetry=True, but no bridge is registered (import c13_middleware, or call "
                "c13_middleware.integrations.opentelemetry.install())",
            )
        return
    try:
        installer(bool(option))
    except ImportError:
        if option:
            raise
    except Exception:
        log_once("otel-install", "c13_middleware: installing the OpenTelemetry API bridge failed", exc_info=True)
