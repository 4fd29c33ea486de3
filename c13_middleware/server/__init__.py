"""The server request lifecycle shared by the ASGI and WSGI middleware and the framework adapters."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._lazy import lazy_exports

if TYPE_CHECKING:
    from .asgi import C13ASGIMiddleware
    from .wsgi import C13WSGIMiddleware

__all__ = [
    "C13ASGIMiddleware",
    "C13WSGIMiddleware",
]

_EXPORTS = {
    ".asgi": ("C13ASGIMiddleware",),
    ".wsgi": ("C13WSGIMiddleware",),
}
__getattr__, __dir__ = lazy_exports(globals(), _EXPORTS)
