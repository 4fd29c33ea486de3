"""The hook through which request-level consumers (metrics) see every traced server request.

Observers run on the request path: they must be cheap. An observer that raises is logged once and skipped.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from ._safety import log_once

if TYPE_CHECKING:
    from ..server._request import ServerRequest


@runtime_checkable
class RequestObserver(Protocol):
    def request_started(self, request: ServerRequest) -> None:
        """The request's span was opened (``request.method``, ``request.scheme`` are known)."""

    def request_finished(self, request: ServerRequest, duration_s: float) -> None:
        """The span ended: ``request.route``, ``request.status`` and ``request.error_type`` are final."""


def notify(observers: Iterable[object], method_name: str, *args: object, **kwargs: object) -> None:
    """Call ``method_name`` on each observer that has it; one that raises is logged once and skipped."""
    for observer in observers:
        method = getattr(observer, method_name, None)
        if method is None:
            continue
        try:
            method(*args, **kwargs)
        except Exception:
            log_once(f"observer:{type(observer).__name__}", "c13_middleware: observer failed", exc_info=True)
