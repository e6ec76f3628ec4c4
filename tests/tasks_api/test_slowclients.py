"""The HTTP protocol's slow-client work, on a real uvicorn server and raw sockets: a body that came with its
head is marked as received (the body limit then arms no deadline); a body still on its way is not."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import uvicorn
from tasks_api.slowclients import BODY_RECEIVED, protocol_with_header_timeout

from devstack.net import free_port


@asynccontextmanager
async def serving() -> AsyncIterator[tuple[int, list[Any]]]:
    seen: list[Any] = []

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        seen.append(scope.get(BODY_RECEIVED, False))  # as the app finds it when it starts
        message = await receive()
        body = message.get("body", b"")
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-length", b"%d" % len(body))],
            }
        )
        await send({"type": "http.response.body", "body": body})

    port = free_port()
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        http=protocol_with_header_timeout(5),
        lifespan="off",
        log_level="warning",
    )
    served = uvicorn.Server(config)
    task = asyncio.create_task(served.serve())
    async with asyncio.timeout(10):
        while not served.started:  # noqa: ASYNC110 (uvicorn offers no event to wait on)
            await asyncio.sleep(0.01)
    try:
        yield port, seen
    finally:
        served.should_exit = True
        await task


HEAD = b"POST / HTTP/1.1\r\nhost: x\r\ncontent-length: 5\r\n\r\n"


async def _exchange(port: int, *parts: bytes, pause: float = 0) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    for part in parts:
        writer.write(part)
        await writer.drain()
        await asyncio.sleep(pause)
    answer = await asyncio.wait_for(reader.readuntil(b"hello"), 5)
    writer.close()
    return answer


async def test_a_body_that_came_with_its_head_is_marked_received() -> None:
    async with serving() as (port, seen):
        assert (await _exchange(port, HEAD + b"hello")).startswith(b"HTTP/1.1 200")
    assert seen == [True]


async def test_a_body_still_on_its_way_is_not() -> None:
    async with serving() as (port, seen):
        assert (await _exchange(port, HEAD, b"hello", pause=0.3)).startswith(b"HTTP/1.1 200")
    assert seen == [False]
