"""Starlette and FastAPI: ``app.add_middleware(C13Middleware, **options)``."""

from __future__ import annotations

from typing import Any

from c13_middleware.server.asgi import ASGIApp, C13ASGIMiddleware, Receive, Scope, Send
from c13_middleware.trace._config import ConfigError

from ._require import require

require("starlette", "starlette")

from starlette.routing import Match, Mount  # noqa: E402

__all__ = ["C13Middleware"]


class C13Middleware(C13ASGIMiddleware):
    """The ASGI middleware, naming spans from the matched route template (``GET /items/{item_id}``)."""

    env_names = ("FASTAPI", "STARLETTE")

    def __init__(self, app: ASGIApp, **options: Any) -> None:
        try:
            super().__init__(app, **options)
        except ConfigError as exc:
            # ``app.add_middleware`` only stores the class and options: Starlette builds the middleware inside the
            # app's first call, which under uvicorn's default ``lifespan="auto"`` is the lifespan call, and uvicorn
            # takes an exception there for "lifespan unsupported", logs it at info level and starts anyway (every
            # request is then a 500). So this middleware refuses the start-up instead, with the error's message. (A
            # class change, not a flag: the request path stays free of a check.)
            self.__class__ = RefusedStartup
            self.app = app
            self.message = str(exc)

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


class RefusedStartup(C13Middleware):
    """What ``C13Middleware`` becomes when its options are wrong: the server's lifespan start-up fails with the
    message (uvicorn and hypercorn then exit), and without a lifespan every request fails with the same error."""

    message: str

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.failed", "message": self.message})
        raise ConfigError(self.message)  # after the failure message, as Starlette's own lifespan does


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
