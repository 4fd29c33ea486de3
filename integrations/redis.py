"""redis-py: ``instrument(client)`` records one CLIENT span per command and one per pipeline, for ``redis.Redis``
and ``redis.asyncio.Redis``.

The client's ``execute_command`` and ``pipeline`` are wrapped on that instance (redis-py has no event hooks); other
clients are untouched. ``db.query.text`` is the command with every argument replaced by ``?`` (``SET ? ?``): keys
and values are application data. A pipeline's span is ``BATCH <command>`` (or ``BATCH`` when its commands differ)
with ``db.operation.batch.size``.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from c13_middleware.client._db import DbCall, DbOptions, db_target, start_db_call

from ._require import require

require("redis", "redis")

__all__ = ["instrument", "uninstrument"]

_MAX_ARGUMENTS = 16
_MAX_PIPELINE_TEXT = 32
_MARK = "_c13_redis_options"


def instrument(client: Any, options: DbOptions | Mapping[str, Any] | None = None) -> Any:
    """Trace ``client`` (a ``redis.Redis`` or ``redis.asyncio.Redis``); returns it. Again on the same client: the new
    options replace the old ones."""
    settings = DbOptions.from_mapping(options)
    state = getattr(client, _MARK, None)
    if state is not None:
        state[0] = settings
        return client
    state = [settings, _target(client)]
    setattr(client, _MARK, state)
    make_pipeline = client.pipeline
    client.execute_command = _traced(client.execute_command, lambda args: _command_call(state, args))

    @functools.wraps(make_pipeline)
    def pipeline(*args: Any, **kwargs: Any) -> Any:
        pipe = make_pipeline(*args, **kwargs)
        _wrap_pipeline(pipe, state)
        return pipe

    client.pipeline = pipeline
    return client


def uninstrument(client: Any) -> None:
    """Stop tracing ``client`` (pipelines made before keep their spans)."""
    if getattr(client, _MARK, None) is None:
        return
    for name in ("execute_command", "pipeline", _MARK):
        vars(client).pop(name, None)


def _target(client: Any) -> dict[str, Any]:
    kwargs: Mapping[str, Any] = getattr(getattr(client, "connection_pool", None), "connection_kwargs", {}) or {}
    port = kwargs.get("port")
    return db_target(
        "redis",
        str(kwargs.get("db", 0)),
        kwargs.get("host") or kwargs.get("path"),
        port if isinstance(port, int) else None,
    )


def _name(command: object) -> str:
    if isinstance(command, bytes):
        command = command.decode("ascii", "replace")
    return str(command).upper()[:64]


def _text(args: Sequence[object]) -> str:
    """``SET ? ?``: the command name and one ``?`` per argument (at most ``_MAX_ARGUMENTS`` of them)."""
    count = len(args) - 1
    text = _name(args[0]) + " ?" * min(count, _MAX_ARGUMENTS)
    return text + " ..." if count > _MAX_ARGUMENTS else text


def _command_call(state: list[Any], args: tuple[Any, ...]) -> DbCall | None:
    if not args:
        return None
    return start_db_call(state[1], state[0], operation=_name(args[0]), query_text=_text(args), skip=2)


def _pipeline_call(state: list[Any], stack: Sequence[Any]) -> DbCall | None:
    commands = [entry[0] for entry in stack if entry and entry[0]]
    if not commands:
        return None
    names = {_name(args[0]) for args in commands}
    operation = f"BATCH {names.pop()}" if len(names) == 1 else "BATCH"
    text = "; ".join(_text(args) for args in commands[:_MAX_PIPELINE_TEXT])
    extra = {"db.operation.batch.size": len(commands)}
    return start_db_call(state[1], state[0], operation=operation, query_text=text, extra=extra, skip=2)


def _wrap_pipeline(pipe: Any, state: list[Any]) -> None:
    pipe.execute = _traced(pipe.execute, lambda args: _pipeline_call(state, list(pipe.command_stack)))


def _traced(func: Callable[..., Any], start: Callable[[tuple[Any, ...]], DbCall | None]) -> Callable[..., Any]:
    """``func`` (sync or async) inside the span ``start(args)`` opens, if any."""
    if inspect.iscoroutinefunction(func):

        @functools.wraps(func)
        async def traced_async(*args: Any, **kwargs: Any) -> Any:
            call = start(args)
            if call is None:
                return await func(*args, **kwargs)
            try:
                result = await func(*args, **kwargs)
            except BaseException as exc:
                call.finish(exc)
                raise
            call.finish()
            return result

        return traced_async

    @functools.wraps(func)
    def traced(*args: Any, **kwargs: Any) -> Any:
        call = start(args)
        if call is None:
            return func(*args, **kwargs)
        try:
            result = func(*args, **kwargs)
        except BaseException as exc:
            call.finish(exc)
            raise
        call.finish()
        return result

    return traced
