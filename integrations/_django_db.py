"""Django ORM: one CLIENT span per query, through ``connection.execute_wrappers`` on every database connection.

Installed by the Django middleware (``C13Middleware``) when Django builds it: the connections that exist then get
the wrapper, and every connection opened later gets it from the ``connection_created`` signal (Django keeps one
connection per thread and alias, so async views' queries, run in ``sync_to_async`` threads, are covered too).
Options come from ``settings.C13_DATABASES`` (a mapping of ``DbOptions`` fields, docs/databases.md).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from c13_middleware.client._db import DbOptions, db_target, start_sql_call

from ._require import require

require("django", "django")

from django.db import connections  # noqa: E402
from django.db.backends.signals import connection_created  # noqa: E402

__all__ = ["QueryWrapper", "install_database_spans"]

# Django's ``connection.vendor`` → OpenTelemetry's db.system.name values.
_SYSTEMS = {"oracle": "oracle.db", "microsoft": "microsoft.sql_server"}


class QueryWrapper:
    """The execute wrapper: ``wrapper(execute, sql, params, many, context)`` (Django's signature)."""

    def __init__(self, options: DbOptions) -> None:
        self.options = options
        self.enabled = True
        self._targets: dict[str, dict[str, Any]] = {}

    def __call__(
        self, execute: Callable[..., Any], sql: Any, params: Any, many: bool, context: Mapping[str, Any]
    ) -> Any:
        if not self.enabled:
            return execute(sql, params, many, context)
        connection = context.get("connection")
        call = start_sql_call(
            self._target(connection),
            self.options,
            sql,
            params,
            batch_size=_batch_size(params) if many else None,
        )
        if call is None:
            return execute(sql, params, many, context)
        try:
            result = execute(sql, params, many, context)
        except BaseException as exc:
            call.finish(exc)
            raise
        call.finish()
        return result

    def _target(self, connection: Any) -> dict[str, Any]:
        alias = str(getattr(connection, "alias", ""))
        target = self._targets.get(alias)
        if target is None:
            settings: Mapping[str, Any] = getattr(connection, "settings_dict", {}) or {}
            vendor = str(getattr(connection, "vendor", "") or "other_sql")
            port = settings.get("PORT")
            target = db_target(
                _SYSTEMS.get(vendor, vendor),
                str(settings.get("NAME") or "") or None,
                str(settings.get("HOST") or "") or None,
                int(port) if isinstance(port, (int, str)) and str(port).isdigit() else None,
            )
            self._targets[alias] = target
        return target


def _batch_size(params: Any) -> int | None:
    try:
        return len(params)
    except TypeError:  # an iterator: its length is unknown without consuming it
        return None


_wrapper: QueryWrapper | None = None


def _add(connection: Any, **_: Any) -> None:
    wrappers = getattr(connection, "execute_wrappers", None)
    if _wrapper is not None and wrappers is not None and _wrapper not in wrappers:
        wrappers.append(_wrapper)


def install_database_spans(options: DbOptions | Mapping[str, Any] | bool | None = None) -> QueryWrapper | None:
    """Trace every Django database connection, now and later (idempotent; new options replace the old ones).
    ``False`` turns database spans off (the wrapper stays installed, recording nothing)."""
    global _wrapper
    if options is False:
        if _wrapper is not None:
            _wrapper.enabled = False
        return None
    settings = DbOptions.from_mapping(None if options is True else options)
    if _wrapper is None:
        _wrapper = QueryWrapper(settings)
        connection_created.connect(_add, dispatch_uid="c13_middleware.database_spans", weak=False)
    else:
        _wrapper.options = settings
        _wrapper.enabled = True
    for connection in connections.all(initialized_only=True):
        _add(connection)
    return _wrapper
