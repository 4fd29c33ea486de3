"""Flask: ``C13(app, **options)`` or ``ext = C13(**options); ext.init_app(app)``.

Options given to ``C13`` are defaults; ``C13_*`` keys in ``app.config`` (``C13_SERVICE_NAME`` → ``service_name``)
override them, so a deployment can change them without code.
"""

from __future__ import annotations

from typing import Any

from c13_middleware.server._core import active_server_request
from c13_middleware.server.wsgi import C13WSGIMiddleware

from ._require import require

require("flask", "flask")

from flask import Flask, Response, got_request_exception, request  # noqa: E402

__all__ = ["C13"]

EXTENSION_KEY = "c13"


class _FlaskMiddleware(C13WSGIMiddleware):
    env_names = ("FLASK",)


class C13:
    def __init__(self, app: Flask | None = None, **options: Any) -> None:
        self._options = options
        if app is not None:
            self.init_app(app)

    def init_app(self, app: Flask) -> None:
        if EXTENSION_KEY in app.extensions:
            raise RuntimeError("C13 is already registered on this Flask app; register it once")
        from_config = {key[4:].lower(): value for key, value in app.config.items() if key.startswith("C13_")}
        middleware = _FlaskMiddleware(app.wsgi_app, **{**self._options, **from_config})
        app.wsgi_app = middleware  # type: ignore[method-assign]
        app.extensions[EXTENSION_KEY] = middleware
        app.before_request(_name_route)
        if middleware.core.profiler is not None:  # only a profiled response needs to know (see _note_streaming)
            app.after_request(_note_streaming)
        got_request_exception.connect(_unhandled, app, weak=False)
        original = app.handle_user_exception

        def handle_user_exception(exc: Exception) -> Any:
            traced = active_server_request()
            if traced is not None:
                # The response an error handler (or Flask, for abort(404)) builds decides whether it is recorded.
                traced.record_exception(exc, escaped=False)
            return original(exc)

        app.handle_user_exception = handle_user_exception  # type: ignore[method-assign,assignment]


def _name_route() -> None:
    traced = active_server_request()
    rule = request.url_rule
    if traced is not None and rule is not None:
        traced.set_route(rule.rule)


def _note_streaming(response: Response) -> Response:
    # Flask wraps every body in a ClosingIterator; only the response knows whether it is generated while sent.
    traced = active_server_request()
    if traced is not None:
        traced.streamed = response.is_streamed
    return response


def _unhandled(sender: Flask, exception: BaseException, **extra: Any) -> None:
    traced = active_server_request()
    if traced is not None:
        traced.record_exception(exception, escaped=False)
