"""Real database servers for the integration tests, started once per session on free loopback ports.

PostgreSQL: a throwaway cluster (``initdb`` into a temporary directory, ``pg_ctl start``; as root, run as the
``postgres`` user, since PostgreSQL refuses to run as root). redis: ``redis-server`` without persistence. Both come
from Debian packages that ``scripts/ensure-test-tools`` installs; a missing binary fails the test that needs it.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import pytest

from tests.integrations.otel_bridge import bridge, otel_globals  # noqa: F401  (fixtures for the OpenTelemetry API tests)
from tests.servers import free_port


def _binary(name: str) -> str:
    found = shutil.which(name) or next(iter(sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), reverse=True)), None)
    if found is None:
        pytest.fail(f"{name} not found: run scripts/ensure-test-tools (Debian packages postgresql and redis-server)")
    return found


def _wait_for_port(port: int, process: subprocess.Popen[bytes] | None = None, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            pytest.fail(f"server on port {port} exited with {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    pytest.fail(f"no server listening on 127.0.0.1:{port} after {timeout} s")


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """``postgresql://postgres@127.0.0.1:<port>/postgres`` of a cluster that lives for the session."""
    initdb, pg_ctl = _binary("initdb"), _binary("pg_ctl")
    as_user: list[str] = []
    root = tempfile.mkdtemp(prefix="c13-pg-")
    if os.geteuid() == 0:
        runuser = shutil.which("runuser")
        if runuser is None:
            pytest.fail("PostgreSQL refuses to run as root and runuser is missing to run it as 'postgres'")
        as_user = [runuser, "-u", "postgres", "--"]
        shutil.chown(root, "postgres")
    data = os.path.join(root, "data")
    port = free_port()
    try:
        subprocess.run(
            [*as_user, initdb, "-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync"],
            check=True,
            capture_output=True,
            timeout=120,
        )
        options = f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -F"
        subprocess.run(
            [*as_user, pg_ctl, "-D", data, "-o", options, "-l", os.path.join(root, "log"), "-w", "start"],
            check=True,
            capture_output=True,
            timeout=120,
        )
        _wait_for_port(port)
        yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
    finally:
        if os.path.exists(os.path.join(data, "postmaster.pid")):
            subprocess.run([*as_user, pg_ctl, "-D", data, "-m", "fast", "-w", "stop"], capture_output=True, timeout=60)
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """``redis://127.0.0.1:<port>/0`` of a redis-server without persistence that lives for the session."""
    server = _binary("redis-server")
    port = free_port()
    workdir = tempfile.mkdtemp(prefix="c13-redis-")
    args = [server, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", workdir]
    process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_for_port(port, process)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)
        shutil.rmtree(workdir, ignore_errors=True)


@contextmanager
def grpc_serving(interceptor: Any, service: str, handlers: Mapping[str, Any]) -> Iterator[str]:
    """A real gRPC server on 127.0.0.1 behind ``interceptor`` serving ``service``'s ``handlers``; yields its target."""
    from concurrent import futures

    import grpc

    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4), interceptors=[interceptor])
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(service, dict(handlers)),))
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        yield f"127.0.0.1:{port}"
    finally:
        server.stop(None)
