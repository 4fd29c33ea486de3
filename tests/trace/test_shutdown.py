"""Process exit and SIGTERM: one shutdown budget shared by every pipeline, and queued spans exported before the
process ends. Each test runs a real Python process."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from c13_middleware import BatchSpanProcessor, ExportResult, InMemoryExporter, Span, SpanExporter, Tracer
from c13_middleware.trace import _shutdown
from c13_middleware.trace._shutdown import (
    DEFAULT_SHUTDOWN_TIMEOUT,
    flush_and_shutdown,
    install_sigterm_handler,
    set_shutdown_timeout,
    shutdown_timeout,
)
from tests.export.otlp.otlp_receiver import Receiver, Reply
from tests.servers import free_port

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    yield server
    server.close()


@pytest.fixture
def silent_endpoint() -> Iterator[str]:
    """A loopback port whose connections are accepted (by the kernel's backlog) and never answered."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        yield f"http://127.0.0.1:{listener.getsockname()[1]}/v1/traces"


def _start(code: str, tmp_path: Path, *args: str, **env: str) -> subprocess.Popen[str]:
    script = tmp_path / "app.py"
    script.write_text(textwrap.dedent(code))
    environ = {**os.environ, "PYTHONPATH": str(ROOT), **env}
    return subprocess.Popen(
        [sys.executable, str(script), *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=environ
    )


def _wait_ready(process: subprocess.Popen[str]) -> None:
    assert process.stdout is not None
    line = process.stdout.readline()
    assert line.strip() == "ready", process.stderr.read() if process.stderr else line


def _names(receiver: Receiver) -> list[str]:
    return [s.name for r in receiver.received for rs in r.proto().resource_spans for ss in rs.scope_spans
            for s in ss.spans]  # fmt: skip


PIPELINES = """
    import sys, time
    from c13_middleware import configure
    from c13_middleware.export.otlp import OTLPExporter

    tracers = []
    for endpoint in {endpoints!r}:
        tracer = configure(exporter=OTLPExporter(endpoint))
        tracer.start_span("queued").end()
        tracers.append(tracer)  # all three stay live until exit
    print("ready", flush=True)
"""


def test_exit_with_three_stuck_pipelines_takes_one_budget(tmp_path: Path, silent_endpoint: str) -> None:
    endpoints = [f"http://127.0.0.1:{free_port()}/v1/traces", silent_endpoint, silent_endpoint]  # refused; hanging
    process = _start(PIPELINES.format(endpoints=endpoints), tmp_path, C13_SHUTDOWN_TIMEOUT="1")
    _wait_ready(process)
    started = time.monotonic()
    _, err = process.communicate(timeout=30)
    elapsed = time.monotonic() - started
    assert process.returncode == 0, err
    assert elapsed < 1 + 1.5, f"exit took {elapsed:.1f} s for a 1 s budget"  # it was 5 s per pipeline


def test_exit_does_not_retry_an_unreachable_collector(tmp_path: Path) -> None:
    endpoints = [f"http://127.0.0.1:{free_port()}/v1/traces"] * 3  # refused: retrying would use the whole budget
    process = _start(PIPELINES.format(endpoints=endpoints), tmp_path, C13_SHUTDOWN_TIMEOUT="10")
    _wait_ready(process)
    started = time.monotonic()
    _, err = process.communicate(timeout=30)
    assert process.returncode == 0, err
    assert time.monotonic() - started < 2


def test_exit_with_a_throttling_collector_takes_one_budget(tmp_path: Path) -> None:
    throttling = Receiver()
    throttling.default = Reply(429, {"Retry-After": "30"})  # "come back in 30 s", every time
    try:
        process = _start(PIPELINES.format(endpoints=[throttling.url] * 3), tmp_path, C13_SHUTDOWN_TIMEOUT="1")
        _wait_ready(process)
        started = time.monotonic()
        _, err = process.communicate(timeout=30)
        elapsed = time.monotonic() - started
        assert process.returncode == 0, err
        assert elapsed < 1 + 1.5, f"exit took {elapsed:.1f} s for a 1 s budget"
        assert 1 <= len(throttling.received) <= 6  # each pipeline tried, none kept retrying
    finally:
        throttling.close()


def test_exit_exports_what_is_queued(tmp_path: Path, receiver: Receiver) -> None:
    process = _start(PIPELINES.format(endpoints=[receiver.url]), tmp_path)
    _wait_ready(process)
    _, err = process.communicate(timeout=30)
    assert process.returncode == 0, err
    assert _names(receiver) == ["queued"]


SIGTERM_SCRIPT = """
    import signal, sys, time
    from c13_middleware import configure
    from c13_middleware.export.otlp import OTLPExporter

    mode = sys.argv[1]
    if mode == "app-first":  # the application's own handler, set before c13's: chained to, after the flush
        def app_handler(signum, frame):
            print("app handler", flush=True)
            sys.exit(3)
        signal.signal(signal.SIGTERM, app_handler)
    tracer = configure(exporter=OTLPExporter({endpoint!r}))
    if mode == "app-later":  # set after c13's: c13 never takes it back, even when configured again
        signal.signal(signal.SIGTERM, lambda signum, frame: (print("app handler", flush=True), sys.exit(4)))
        tracer = configure(exporter=OTLPExporter({endpoint!r}))
    tracer.start_span("before sigterm").end()  # queued: the batch delay is 5 s
    print("ready", flush=True)
    time.sleep(60)
"""


@pytest.mark.skipif(not hasattr(signal, "SIGTERM") or sys.platform == "win32", reason="POSIX signals")
@pytest.mark.parametrize(
    ("mode", "returncode", "exported_by"),
    [("default", -signal.SIGTERM, "sigterm"), ("app-first", 3, "sigterm"), ("app-later", 4, "exit")],
)
def test_sigterm_exports_the_queued_spans_and_keeps_the_default_action_or_the_apps(
    tmp_path: Path, receiver: Receiver, mode: str, returncode: int, exported_by: str
) -> None:
    process = _start(SIGTERM_SCRIPT.format(endpoint=receiver.url), tmp_path, mode)
    _wait_ready(process)
    started = time.monotonic()
    process.send_signal(signal.SIGTERM)
    out, err = process.communicate(timeout=30)
    assert time.monotonic() - started < 5
    assert process.returncode == returncode, err
    assert ("app handler" in out) is (mode != "default")
    assert _names(receiver) == ["before sigterm"]


UVICORN_APP = """
    from c13_middleware import configure, get_tracer
    from c13_middleware.export.otlp import OTLPExporter

    configure(service_name="uv", exporter=OTLPExporter({endpoint!r}))

    async def app(scope, receive, send):
        assert scope["type"] == "http"
        with get_tracer().start_as_current_span("handled"):
            await send({{"type": "http.response.start", "status": 200, "headers": []}})
            await send({{"type": "http.response.body", "body": b"ok"}})
"""


LIFESPAN_APP = """
    from c13_middleware import C13ASGIMiddleware, configure, get_tracer
    from c13_middleware.export.otlp import OTLPExporter

    configure(service_name="uv", exporter=OTLPExporter({endpoint!r}))

    async def inner(scope, receive, send):
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                kind = message["type"].rsplit(".", 1)[-1]
                if kind == "shutdown":
                    get_tracer().start_span("shutdown handler").end()
                await send({{"type": f"lifespan.{{kind}}.complete"}})
                if kind == "shutdown":
                    return
        with get_tracer().start_as_current_span("handled"):
            await send({{"type": "http.response.start", "status": 200, "headers": []}})
            await send({{"type": "http.response.body", "body": b"ok"}})

    app = C13ASGIMiddleware(inner)
"""

GUNICORN_APP = """
    from c13_middleware import configure, get_tracer
    from c13_middleware.export.otlp import OTLPExporter

    configure(service_name="gu", exporter=OTLPExporter({endpoint!r}))

    def app(environ, start_response):
        with get_tracer().start_as_current_span("handled"):
            start_response("200 OK", [("content-type", "text/plain")])
            return [b"ok"]
"""


def _serve_once_then_sigterm(command: list[str], port: int, env: dict[str, str]) -> None:
    import urllib.request

    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2) as response:
                    assert response.read() == b"ok"
                break
            except OSError:
                assert time.monotonic() < deadline and process.poll() is None, "the server did not start"
                time.sleep(0.1)
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
@pytest.mark.parametrize(
    ("server", "source", "c13_sigterm", "expected"),
    [
        # c13's SIGTERM handler, chained after uvicorn's graceful shutdown re-raises the signal
        ("uvicorn", UVICORN_APP, "true", ["handled"]),
        # without that handler: the middleware's flush when the app reports its lifespan shutdown
        ("uvicorn-lifespan", LIFESPAN_APP, "false", ["GET", "handled", "shutdown handler"]),
        # gunicorn's worker exits normally after its SIGTERM: the exit handler's one budget
        ("gunicorn", GUNICORN_APP, "true", ["handled"]),
    ],
)
def test_a_server_stopped_by_sigterm_exports_the_queued_spans(
    tmp_path: Path, receiver: Receiver, server: str, source: str, c13_sigterm: str, expected: list[str]
) -> None:
    (tmp_path / "served.py").write_text(textwrap.dedent(source.format(endpoint=receiver.url)))
    port = free_port()
    if server == "gunicorn":
        pytest.importorskip("gunicorn")
        command = [sys.executable, "-m", "gunicorn", "served:app", "--chdir", str(tmp_path), "--bind",
                   f"127.0.0.1:{port}", "--workers", "1", "--log-level", "warning"]  # fmt: skip
    else:
        pytest.importorskip("uvicorn")
        lifespan = "on" if server == "uvicorn-lifespan" else "off"
        command = [sys.executable, "-m", "uvicorn", "served:app", "--app-dir", str(tmp_path), "--host", "127.0.0.1",
                   "--port", str(port), "--lifespan", lifespan, "--log-level", "warning"]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(ROOT), "C13_HANDLE_SIGTERM": c13_sigterm}
    _serve_once_then_sigterm(command, port, env)
    assert sorted(_names(receiver)) == sorted(expected)


class Stuck(SpanExporter):
    """Hangs in export until shut down: a collector that never answers, behind an exporter that can be cut short."""

    def __init__(self) -> None:
        self.closed = threading.Event()
        self.exported: list[Span] = []

    def export(self, spans: Sequence[Span]) -> ExportResult:
        if self.closed.wait(30):
            return ExportResult.FAILURE
        self.exported.extend(spans)
        return ExportResult.SUCCESS

    def shutdown(self) -> None:
        self.closed.set()


def test_flush_and_shutdown_shares_one_budget_and_cuts_stuck_exports_short() -> None:
    stuck = [Stuck() for _ in range(3)]
    healthy = InMemoryExporter()
    processors = [BatchSpanProcessor(e, schedule_delay_millis=60_000) for e in (*stuck, healthy)]
    for processor in processors:
        Tracer(processors=[processor]).start_span("s").end()
    started = time.monotonic()
    assert flush_and_shutdown(0.5) is False  # the stuck ones could not drain
    assert time.monotonic() - started < 0.5 + 0.5  # one budget for all, not one per pipeline
    assert all(e.closed.is_set() for e in stuck)
    assert [s.name for s in healthy.get_finished_spans()] == ["s"]
    assert [p.spans_failed for p in processors] == [1, 1, 1, 0]
    assert not any(p.is_running for p in processors)


def test_shutdown_timeout_option_and_environment(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.delenv("C13_SHUTDOWN_TIMEOUT", raising=False)
    assert shutdown_timeout() == DEFAULT_SHUTDOWN_TIMEOUT <= 2
    monkeypatch.setenv("C13_SHUTDOWN_TIMEOUT", "0.25")
    assert shutdown_timeout() == 0.25
    monkeypatch.setenv("C13_SHUTDOWN_TIMEOUT", "soon")
    assert shutdown_timeout() == DEFAULT_SHUTDOWN_TIMEOUT
    assert "C13_SHUTDOWN_TIMEOUT='soon'" in caplog.text
    try:
        set_shutdown_timeout(7)
        assert shutdown_timeout() == 7
    finally:
        set_shutdown_timeout(None)
    with pytest.raises(ValueError):
        set_shutdown_timeout(-1)


def test_a_negative_shutdown_timeout_in_the_environment_is_ignored(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("C13_SHUTDOWN_TIMEOUT", "-3")
    assert shutdown_timeout() == DEFAULT_SHUTDOWN_TIMEOUT
    assert "C13_SHUTDOWN_TIMEOUT='-3' is not a number of seconds >= 0" in caplog.text


def test_a_failing_shutdown_reports_false_and_logs(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(processors: object, deadline: float) -> bool:
        raise RuntimeError("pipelines in a bad state")

    monkeypatch.setattr(_shutdown, "stop_processors", broken)
    assert flush_and_shutdown(0.1) is False
    assert "shutting the span pipelines down failed" in caplog.text


@pytest.fixture
def sigterm_untouched(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The SIGTERM handler as this process had it, restored afterwards; c13's own handler not yet installed."""
    original = signal.getsignal(signal.SIGTERM)
    monkeypatch.setattr(_shutdown, "_installed", False)
    monkeypatch.setattr(_shutdown, "_previous", None)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, original)


@pytest.mark.skipif(not hasattr(signal, "SIGTERM") or sys.platform == "win32", reason="POSIX signals")
@pytest.mark.usefixtures("sigterm_untouched")
def test_sigterm_is_left_alone_when_told_so_or_when_ignored(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("C13_HANDLE_SIGTERM", "False")
    before = signal.getsignal(signal.SIGTERM)
    assert install_sigterm_handler() is False
    assert signal.getsignal(signal.SIGTERM) is before
    monkeypatch.delenv("C13_HANDLE_SIGTERM")
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    assert install_sigterm_handler() is False
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_IGN  # an ignored signal stays ignored


@pytest.mark.skipif(not hasattr(signal, "SIGTERM") or sys.platform == "win32", reason="POSIX signals")
@pytest.mark.usefixtures("sigterm_untouched")
def test_sigterm_flushes_then_hands_over_to_the_apps_handler_in_process() -> None:
    received: list[int] = []
    signal.signal(signal.SIGTERM, lambda signum, frame: received.append(signum))
    exporter = InMemoryExporter()
    processor = BatchSpanProcessor(exporter, schedule_delay_millis=60_000)
    Tracer(processors=[processor]).start_span("queued").end()  # a tracer that queues spans installs it
    assert signal.getsignal(signal.SIGTERM) is _shutdown._on_sigterm
    assert install_sigterm_handler() is False  # once per process
    signal.raise_signal(signal.SIGTERM)
    assert received == [signal.SIGTERM]  # the application's handler still ran
    assert [span.name for span in exporter.get_finished_spans()] == ["queued"]  # flushed before it
    assert processor.is_running  # flushed, not shut down: the application decides when the process ends
    processor.shutdown()
