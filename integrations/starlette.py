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

    def __new__(cls, app: ASGIApp, **options: Any) -> Any:
        # ``app.add_middleware`` only stores the class and options: Starlette builds the middleware inside the app's
        # first call, which under uvicorn's default ``lifespan="auto"`` is the lifespan call, and uvicorn takes an
        # exception there for "lifespan unsupported", logs it at info level and starts anyway (every request is then
        # a 500). So a wrong option becomes an app that refuses the start-up with the error's message instead.
        self = super().__new__(cls)
        try:
            C13ASGIMiddleware.__init__(self, app, **options)
        except ConfigError as exc:
            return RefusedStartup(exc)
        return self

    def __init__(self, app: ASGIApp, **options: Any) -> None:
        pass  # built in __new__

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


class RefusedStartup:
    """What ``C13Middleware`` is when its options are wrong: the server's lifespan start-up fails with the message
    (uvicorn and hypercorn then exit), and without a lifespan every request fails with the same ``ConfigError``."""

    def __init__(self, error: ConfigError) -> None:
        self.message = str(error)

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
