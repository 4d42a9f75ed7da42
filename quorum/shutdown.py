"""Graceful shutdown of open streams.

On SIGTERM the server stops accepting, asks idle connections to close and waits for
in-flight responses to finish. A stream never finishes by itself: the server would wait
forever, or cut it mid-frame once its graceful timeout runs out. So when the signal
arrives we also end every stream cleanly, after the frame being written: the client
reconnects (through the load balancer, to another instance) with its Last-Event-ID and
loses nothing.

The server's own handler stays in place and runs first; ours is chained after it, for
as long as the application is up.
"""

import asyncio
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType

SIGNALS = (signal.SIGINT, signal.SIGTERM)


@contextmanager
def end_streams_on_signal(end_streams: Callable[[], None]) -> Iterator[None]:
    if threading.current_thread() is not threading.main_thread():
        yield  # signals reach the main thread only (an embedded test server, say)
        return
    loop = asyncio.get_running_loop()
    previous = {sig: signal.getsignal(sig) for sig in SIGNALS}

    def handler(sig: int, frame: FrameType | None) -> None:
        chained = previous[signal.Signals(sig)]
        if callable(chained):
            chained(sig, frame)
        loop.call_soon_threadsafe(end_streams)

    for sig in SIGNALS:
        signal.signal(sig, handler)
    try:
        yield
    finally:
        for sig, original in previous.items():
            signal.signal(sig, original)
