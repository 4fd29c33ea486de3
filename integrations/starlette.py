"""Starlette and FastAPI: ``app.add_middleware(C13Middleware, **options)``."""

from __future__ import annotations

from typing import Any

from c13_middleware.server.asgi import C13ASGIMiddleware, Scope

from ._require import require

require("starlette", "starlette")

from starlette.routing import Match, Mount  # noqa: E402

__all__ = ["C13Middleware"]


class C13Middleware(C13ASGIMiddleware):
    """The ASGI middleware, naming spans from the matched route template (``GET /items/{item_id}``)."""

    env_names = ("FASTAPI", "STARLETTE")

    def route_for(self, scope: Scope) -> str | None:
        route = scope.get("route")
        path = getattr(route, "path", None)
        if not isinstance(path, str):
            return None
        if scope.get("root_path", "") == scope.get("app_root_path", scope.get("root_path", "")):
            return path or "/"
        # Mounted: the scope only keeps the innermost route, so walk the app's routes for the full template.
        app = scope.get("app")
        routes = getattr(app, "routes", None)
        return _template(routes, _root_scope(scope)) if routes is not None else path


def _root_scope(scope: Scope) -> dict[str, Any]:
    root = scope.get("app_root_path", "")
    return {"type": scope["type"], "path": scope["path"], "root_path": root, "method": scope.get("method", "GET")}


def _template(routes: Any, scope: dict[str, Any]) -> str | None:
    for route in routes:
        match, child = route.matches(scope)
        if match is not Match.FULL:
            continue
        if isinstance(route, Mount):
            inner = _template(route.routes, {**scope, **child})
            return route.path + inner if inner is not None else route.path
        return str(route.path)
    return None
