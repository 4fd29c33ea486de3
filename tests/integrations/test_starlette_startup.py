"""A misspelled option on the Starlette/FastAPI adapter: Starlette builds its middleware lazily, inside the first
call (uvicorn's lifespan call by default), so the error must fail the start-up loudly, never hide behind 500s."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient

from c13_middleware import ConfigError
from c13_middleware.integrations.starlette import C13Middleware, RefusedStartup
from tests.servers import free_port

APP_MODULE = """
from {framework} import {cls}
from c13_middleware.integrations.starlette import C13Middleware, RefusedStartup

app = {cls}()
app.add_middleware(C13Middleware, servce_name="checkout")
"""


@pytest.mark.parametrize(("framework", "cls"), [("fastapi", "FastAPI"), ("starlette.applications", "Starlette")])
def test_uvicorn_refuses_to_start_and_names_the_option(tmp_path: Path, framework: str, cls: str) -> None:
    (tmp_path / "misconfigured.py").write_text(APP_MODULE.format(framework=framework, cls=cls))
    command = [sys.executable, "-m", "uvicorn", "misconfigured:app", "--host", "127.0.0.1", "--port", str(free_port())]
    try:
        done = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=30)
    except subprocess.TimeoutExpired as exc:  # still serving: the start-up was not refused
        raise AssertionError(f"uvicorn started with a misspelled option: {exc.stderr!r}") from None
    assert done.returncode != 0
    assert "unknown option 'servce_name'; did you mean 'service_name'?" in done.stderr


def test_test_client_lifespan_fails_with_the_message() -> None:
    app = Starlette()
    app.add_middleware(C13Middleware, servce_name="checkout")
    with pytest.raises(ConfigError, match="did you mean 'service_name'"), TestClient(app):
        pass


def test_without_a_lifespan_every_request_fails_with_the_error() -> None:
    app = Starlette()
    app.add_middleware(C13Middleware, exclude_pathz=["/healthz"])
    with pytest.raises(ConfigError, match="did you mean 'exclude_paths'"):
        TestClient(app).get("/")


def test_direct_construction_still_refuses_the_options() -> None:
    async def app(scope: object, receive: object, send: object) -> None:
        raise AssertionError("never called")

    refused = C13Middleware(app, servce_name="x")  # type: ignore[arg-type]
    assert isinstance(refused, RefusedStartup) and "servce_name" in refused.message


def test_a_subclass_passing_its_own_options_is_refused_too() -> None:
    class Gateway(C13Middleware):
        def __init__(self, app: Any, **options: Any) -> None:
            super().__init__(app, servce_name="gateway", **options)

    app = Starlette()
    app.add_middleware(Gateway)
    with pytest.raises(ConfigError, match="did you mean 'service_name'"), TestClient(app):
        pass
