"""Arbitrary requests through the ASGI and WSGI middleware (not only the parsers): the app is called once, its
response passes through unchanged, nothing escapes, and each request is done within a time bound that linear work
meets on a loaded machine and quadratic work does not. Plus hostile sizes on every header c13 reads."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from c13_middleware import InMemoryExporter
from c13_middleware.server.asgi import C13ASGIMiddleware, Message, Receive, Scope, Send
from c13_middleware.server.wsgi import C13WSGIMiddleware

PER_REQUEST_S = 0.05
READ_BY_C13 = ["traceparent", "tracestate", "baggage", "host", "user-agent", "x-c13-profile", "x-c13-profile-token"]
RESPONSE_HEADERS = [(b"content-type", b"text/plain"), (b"x-out", b"v" * 5000)]
BODY = b"unchanged"
FUZZ = settings(
    max_examples=100,
    derandomize=True,
    deadline=None,  # the bound is measured around the middleware call alone, below
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

# Drawn as small descriptors and built in the test, so a failing example's report stays short: a value is a piece of
# text repeated (up to about 1 MB), a path and a query likewise.
Piece = tuple[str, int]
pieces = st.tuples(
    st.one_of(
        st.text(max_size=20),
        st.sampled_from(["00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", "a=b,", "k=v;p", "x:²", "[::1]:9"]),
    ),
    st.one_of(st.just(1), st.integers(1, 50_000)),
)
names = st.one_of(st.sampled_from(READ_BY_C13), st.text(min_size=1, max_size=30))
# (name, value, repeats): many fields of one name are how repeated traceparent / tracestate / baggage arrive.
Field = tuple[str, Piece, int]
fields = st.lists(st.tuples(names, pieces, st.one_of(st.just(1), st.integers(1, 2000))), max_size=6)


def build(piece: Piece) -> str:
    text, times = piece
    return text * times


OPTIONS: dict[str, Any] = {
    "capture_request_headers": [".*"],
    "capture_response_headers": [".*"],
    "sanitize_fields": ["x-secret.*"],
    "exclude_urls": ["/never-excluded$"],
    "profile_secret": "fuzz-secret-0123456789",
    "server_timing_trace": True,
}


def latin1(text: str) -> bytes:
    return text.encode("utf-8", "surrogatepass").decode("latin-1").encode("latin-1")


# Servers refuse request heads far smaller (h11: 64 KiB in all; gunicorn: 100 fields of 8 KiB): 2 MB is beyond any.
MAX_HEAD = 2 * 1024 * 1024


def asgi_headers(drawn: list[Field]) -> list[tuple[bytes, bytes]]:
    headers: list[tuple[bytes, bytes]] = []
    size = 0
    for name, piece, repeats in drawn:
        field = (latin1(name.lower()), latin1(build(piece)))
        for _ in range(repeats):
            size += len(field[0]) + len(field[1])
            if size > MAX_HEAD:
                return headers
            headers.append(field)
    return headers


class AsgiHarness:
    def __init__(self, options: dict[str, Any]) -> None:
        self.calls = 0

        async def app(scope: Scope, receive: Receive, send: Send) -> None:
            self.calls += 1
            await send({"type": "http.response.start", "status": 200, "headers": RESPONSE_HEADERS})
            await send({"type": "http.response.body", "body": BODY})

        self.middleware = C13ASGIMiddleware(app, **OPTIONS, **options)

    async def request(self, path: str, query: str, headers: list[tuple[bytes, bytes]]) -> tuple[list[Message], float]:
        scope: Scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "GET",
            "scheme": "http",
            "path": path,
            "raw_path": latin1(path),
            "query_string": latin1(query),
            "root_path": "",
            "headers": headers,
            "client": ("10.0.0.9", 5555),
            "server": ("127.0.0.1", 8000),
        }
        sent: list[Message] = []

        async def receive() -> Message:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: Message) -> None:
            sent.append(message)

        before = self.calls
        started = time.perf_counter()
        await self.middleware(scope, receive, send)
        elapsed = time.perf_counter() - started
        assert self.calls == before + 1
        return sent, elapsed


def assert_passed_through(sent: list[Message]) -> None:
    start, body = sent
    assert start["status"] == 200
    added = [(name, value) for name, value in start["headers"] if name == b"server-timing"]
    assert [h for h in start["headers"] if h[0] != b"server-timing"] == RESPONSE_HEADERS and len(added) == 1
    assert body == {"type": "http.response.body", "body": BODY}


@pytest.fixture(scope="module")
def loop() -> Iterable[asyncio.AbstractEventLoop]:
    loop = asyncio.new_event_loop()
    yield loop
    loop.close()


def assert_fast(measure: Callable[[], float], bound: float = PER_REQUEST_S) -> None:
    """``measure()`` (one request, its duration) is under ``bound`` in at least one of three tries: a shared machine's
    pauses (another process, a garbage collection) come and go, work that grows faster than the input does not."""
    durations = []
    for _ in range(3):
        durations.append(measure())
        if durations[-1] < bound:
            return
    raise AssertionError(f"each of three tries took longer than {bound * 1000:.0f} ms: {durations}")


def test_asgi_fuzz(loop: asyncio.AbstractEventLoop) -> None:
    exporter = InMemoryExporter()
    harness = AsgiHarness({"exporter": exporter, "export_mode": "simple"})
    loop.run_until_complete(harness.request("/warm-up", "", []))

    @FUZZ
    @given(path=pieces, query=pieces, drawn=fields)
    def check(path: Piece, query: Piece, drawn: list[Field]) -> None:
        def measure() -> float:
            sent, elapsed = loop.run_until_complete(harness.request(build(path), build(query), asgi_headers(drawn)))
            assert_passed_through(sent)
            exporter.clear()
            return elapsed

        assert_fast(measure)

    check()


class WsgiHarness:
    def __init__(self, options: dict[str, Any]) -> None:
        self.calls = 0
        response_headers = [(n.decode(), v.decode()) for n, v in RESPONSE_HEADERS]

        def app(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
            self.calls += 1
            start_response("200 OK", response_headers)
            return [BODY]

        self.response_headers = response_headers
        self.middleware = C13WSGIMiddleware(app, **OPTIONS, **options)

    def request(self, path: str, query: str, drawn: list[Field], port: str = "8000") -> float:
        environ: dict[str, Any] = {
            "REQUEST_METHOD": "GET",
            "PATH_INFO": latin1(path).decode("latin-1"),
            "QUERY_STRING": latin1(query).decode("latin-1"),
            "SERVER_NAME": "srv",
            "SERVER_PORT": port,
            "SERVER_PROTOCOL": "HTTP/1.1",
            "wsgi.url_scheme": "http",
        }
        for name, value, repeats in drawn:
            # WSGI folds repeated fields into one comma-joined value (as servers do).
            key = "HTTP_" + latin1(name).decode("latin-1").upper().replace("-", "_")
            environ[key] = ",".join([latin1(build(value)).decode("latin-1")] * repeats)
        started_with: list[tuple[str, list[tuple[str, str]]]] = []
        before = self.calls
        started = time.perf_counter()
        body = self.middleware(environ, lambda status, headers, exc_info=None: started_with.append((status, headers)))
        chunks = list(body)
        body.close()  # type: ignore[attr-defined]
        elapsed = time.perf_counter() - started
        assert self.calls == before + 1 and chunks == [BODY]
        ((status, headers),) = started_with
        assert status == "200 OK" and headers[: len(self.response_headers)] == self.response_headers
        assert [name for name, _ in headers[len(self.response_headers) :]] == ["server-timing"]
        return elapsed


def test_wsgi_fuzz() -> None:
    exporter = InMemoryExporter()
    harness = WsgiHarness({"exporter": exporter, "export_mode": "simple"})
    harness.request("/warm-up", "", [])

    @FUZZ
    @given(
        path=pieces,
        query=pieces,
        drawn=st.lists(st.tuples(names, pieces, st.integers(1, 20)), max_size=6),
        port=st.one_of(st.sampled_from(["8000", "²", "٣", "", "99999999"]), st.text(max_size=6)),
    )
    def check(path: Piece, query: Piece, drawn: list[Field], port: str) -> None:
        def measure() -> float:
            elapsed = harness.request(build(path), build(query), drawn, port)
            exporter.clear()
            return elapsed

        assert_fast(measure)

    check()


# Hostile sizes on every header c13 reads -------------------------------------------------------------------------

MEGABYTE = 1_000_000


@pytest.mark.parametrize("name", READ_BY_C13)
@pytest.mark.parametrize("shape", ["one 1 MB value", "10,000 fields"])
def test_asgi_hostile_sizes(loop: asyncio.AbstractEventLoop, name: str, shape: str) -> None:
    exporter = InMemoryExporter()
    harness = AsgiHarness({"exporter": exporter, "export_mode": "simple"})
    loop.run_until_complete(harness.request("/warm-up", "", []))
    if shape == "one 1 MB value":
        headers = [(name.encode(), b"a," * (MEGABYTE // 2))]
    else:
        headers = [(name.encode(), b"k=v,00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")] * 10_000

    def measure() -> float:
        sent, elapsed = loop.run_until_complete(harness.request("/", "", headers))
        assert_passed_through(sent)
        return elapsed

    assert_fast(measure, PER_REQUEST_S * 4)  # the server already holds 1 MB of head: a wider bound
    span = exporter.get_finished_spans()[-1]
    assert sum(len(str(value)) for value in span.attributes.values()) < 64 * 1024


@pytest.mark.parametrize("name", READ_BY_C13)
def test_wsgi_hostile_sizes(name: str) -> None:
    exporter = InMemoryExporter()
    harness = WsgiHarness({"exporter": exporter, "export_mode": "simple"})
    harness.request("/warm-up", "", [])
    # One 1 MB value (WSGI servers fold 10,000 fields into one).
    assert_fast(lambda: harness.request("/", "", [(name, ("a,", MEGABYTE // 2), 1)]), PER_REQUEST_S * 4)
    span = exporter.get_finished_spans()[-1]
    assert sum(len(str(value)) for value in span.attributes.values()) < 64 * 1024
