"""A TCP proxy on 127.0.0.1 that a test can take down and bring back, to cut a server off
from PostgreSQL or Redis without touching the machine's services.

It runs its own event loop in a thread, so it keeps forwarding while the test blocks.
"""

import asyncio
import contextlib
import threading
from collections.abc import Coroutine
from typing import Any

from tests.services import free_port


class TcpProxy:
    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.port = free_port()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        self._listener: asyncio.Server | None = None
        self._pipes: set[asyncio.Task[None]] = set()

    def up(self) -> None:
        self._run(self._listen())

    def down(self) -> None:
        """Stop listening and cut every proxied connection, as a crashed host would."""
        self._run(self._down())

    def close(self) -> None:
        self.down()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()

    def _run(self, coro: Coroutine[Any, Any, None]) -> None:
        asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout=10)

    async def _listen(self) -> None:
        if self._listener is None:
            self._listener = await asyncio.start_server(self._accept, "127.0.0.1", self.port)

    async def _down(self) -> None:
        if self._listener is not None:
            # Stop accepting first, and let the connections just accepted reach ``_accept``
            # before closing: asyncio (3.11) drops a connection accepted right before
            # ``close()`` without closing its socket, and its client hangs until a timeout.
            loop = asyncio.get_running_loop()
            for sock in self._listener.sockets:
                loop.remove_reader(sock.fileno())
            await asyncio.sleep(0.05)
            self._listener.close()
            self._listener = None
        for task in list(self._pipes):
            task.cancel()
        await asyncio.gather(*self._pipes, return_exceptions=True)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._pipes.add(task)
        upstream_writer = None
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection(*self.target)
            await asyncio.gather(_pipe(reader, upstream_writer), _pipe(upstream_reader, writer))
        except (OSError, asyncio.CancelledError):
            pass
        finally:
            self._pipes.discard(task)
            for w in (writer, upstream_writer):
                if w is not None:
                    w.close()


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(OSError):
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    writer.close()
