from __future__ import annotations

import time
from typing import Any

from django.apps import AppConfig
from django.db.backends.signals import connection_created


def _add_sleep(connection: Any, **_: Any) -> None:
    # c13_sleep(ms): a lookup as slow as one over a network, so the N+1 loop crosses the 50 ms threshold for real.
    if connection.vendor == "sqlite":
        connection.connection.create_function("c13_sleep", 1, lambda ms: time.sleep(ms / 1000))


class ShopConfig(AppConfig):
    name = "tests.integrations.django_shop"
    label = "django_shop"

    def ready(self) -> None:
        connection_created.connect(_add_sleep, dispatch_uid="c13-tests-sleep")
