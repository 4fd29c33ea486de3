from __future__ import annotations

import asyncio

import pytest
import redis
import redis.asyncio

from c13_middleware import InMemoryExporter, SpanKind, StatusCode, Tracer
from c13_middleware.integrations.redis import instrument, uninstrument


def _port(url: str) -> int:
    return int(url.rsplit(":", 1)[1].split("/")[0])


def test_sync_commands_and_pipeline(tracer: Tracer, exporter: InMemoryExporter, redis_url: str) -> None:
    # No code location: the first command also connects, and may be slow enough to be located on a busy machine.
    client = instrument(redis.Redis.from_url(redis_url), {"code_location": "off"})
    try:
        with tracer.start_as_current_span("GET /cart") as request:
            client.set("user:42:email", "alice@example.com")
            assert client.get("user:42:email") == b"alice@example.com"
            with client.pipeline() as pipe:
                pipe.incr("hits").incr("hits").expire("hits", 60)
                assert pipe.execute()[:2] == [1, 2]
            with pytest.raises(redis.ResponseError):
                client.incr("user:42:email")
        set_, get, batch, failed, _ = exporter.get_finished_spans()
    finally:
        client.delete("user:42:email", "hits")
        client.close()
    assert set_.kind is SpanKind.CLIENT and set_.parent is not None
    assert set_.parent.span_id == request.context.span_id
    assert set_.name == "SET" and dict(set_.attributes) == {
        "db.system.name": "redis",
        "db.namespace": "0",
        "server.address": "127.0.0.1",
        "server.port": _port(redis_url),
        "db.operation.name": "SET",
        "db.query.summary": "SET",
        "db.query.text": "SET ? ?",
    }
    assert get.attributes["db.query.text"] == "GET ?"
    assert batch.name == "BATCH" and batch.attributes["db.operation.batch.size"] == 3
    assert batch.attributes["db.query.text"] == "INCRBY ? ?; INCRBY ? ?; EXPIRE ? ?"
    assert (
        failed.status.code is StatusCode.ERROR and failed.attributes["error.type"] == "redis.exceptions.ResponseError"
    )
    assert not any(
        "alice" in str(value) for span in exporter.get_finished_spans() for value in span.attributes.values()
    )


def test_asyncio_client(tracer: Tracer, exporter: InMemoryExporter, redis_url: str) -> None:
    async def main() -> list[object]:
        client = instrument(redis.asyncio.Redis.from_url(redis_url))
        try:
            with tracer.start_as_current_span("GET /async"):
                await client.set("k", "v")
                async with client.pipeline(transaction=True) as pipe:
                    results: list[object] = await pipe.get("k").get("k").execute()
                return results
        finally:
            await client.delete("k")
            await client.aclose()

    assert asyncio.run(main()) == [b"v", b"v"]
    set_, batch, request = exporter.get_finished_spans()
    assert set_.parent is not None and set_.parent.span_id == request.context.span_id
    assert batch.name == "BATCH GET" and batch.attributes["db.operation.batch.size"] == 2


def test_instrument_is_idempotent_and_reversible(tracer: Tracer, exporter: InMemoryExporter, redis_url: str) -> None:
    client = redis.Redis.from_url(redis_url)
    assert instrument(instrument(client), {"query_text": False}) is client
    try:
        with tracer.start_as_current_span("GET /"):
            client.ping()
        uninstrument(client)
        uninstrument(client)
        with tracer.start_as_current_span("GET /"):
            client.ping()
    finally:
        client.close()
    ping, _, _ = exporter.get_finished_spans()
    assert ping.name == "PING" and "db.query.text" not in ping.attributes


def test_raw_commands_empty_pipelines_and_async_errors(
    tracer: Tracer, exporter: InMemoryExporter, redis_url: str
) -> None:
    client = instrument(redis.Redis.from_url(redis_url))
    try:
        with tracer.start_as_current_span("GET /raw"):
            assert client.execute_command(b"PING") in (True, b"PONG")  # a command name given as bytes
            with client.pipeline() as pipe:
                assert pipe.execute() == []  # nothing queued: no round trip, no span
            with pytest.raises(Exception):  # noqa: B017  # the client's own error for no command, unchanged
                client.execute_command()
        ping, _ = exporter.get_finished_spans()
    finally:
        client.close()
    assert ping.name == "PING" and ping.attributes["db.query.text"] == "PING"

    async def main() -> None:
        aclient = instrument(redis.asyncio.Redis.from_url(redis_url))
        try:
            with tracer.start_as_current_span("GET /async-raw"):
                await aclient.set("text", "not a number")
                with pytest.raises(redis.ResponseError):
                    await aclient.incr("text")
        finally:
            await aclient.delete("text")
            await aclient.aclose()

    exporter.clear()
    asyncio.run(main())
    _, failed, _ = exporter.get_finished_spans()
    assert failed.name == "INCRBY" and failed.status.code is StatusCode.ERROR
    assert failed.attributes["error.type"] == "redis.exceptions.ResponseError"
    assert [event.name for event in failed.events] == ["exception"]
