"""Brokers carry committed messages to every process's hub.

Both deliver to the local hub first, at the event loop's next turn (``deliver_soon``): a
process's own subscribers never wait for a network hop, and never miss a change because
Redis is away; the publishing request, for its part, does not wait for the fan-out, which
writes to every idle SSE subscriber's socket (quorum/realtime/sse.py). The Redis broker
then publishes for the other processes. It is only a fast path: a lost message shows up
as a gap (or is found by the hub's periodic catch-up) and is read from the log, and after
a reconnect every active topic is caught up from the log.

Brokers also carry the end of sessions (``end_sessions``: the streams opened under a
credential that has ended), to the local hub at once and, through Redis, on a channel
of its own, to every other process's. That notice has no log behind it: one lost while
Redis is away leaves the streams of that session open on the other instances until
they end otherwise (docs/realtime.md).
"""

import asyncio
import uuid
from collections.abc import Sequence
from typing import Protocol

import orjson
import structlog
from redis.asyncio import Redis
from redis.exceptions import RedisError

from quorum.realtime import metrics
from quorum.realtime.hub import Hub
from quorum.realtime.message import Message, Topic

log = structlog.get_logger(__name__)
CHANNEL = "quorum:realtime"


class Broker(Protocol):
    async def run(self) -> None:
        """Whatever the broker needs to run, until cancelled."""

    async def publish(self, messages: Sequence[Message]) -> None: ...
    async def end_sessions(self, sessions: Sequence[str]) -> None:
        """End the streams opened under ``sessions``, on every process."""

    def status(self) -> str: ...


class MemoryBroker:
    """One process: the hub is the whole audience."""

    def __init__(self, hub: Hub) -> None:
        self.hub = hub

    async def run(self) -> None:
        return None  # nothing to listen to

    async def publish(self, messages: Sequence[Message]) -> None:
        metrics.PUBLISHED.inc(len(messages))
        deliver_soon(self.hub, messages)

    async def end_sessions(self, sessions: Sequence[str]) -> None:
        self.hub.end_sessions(frozenset(sessions))

    def status(self) -> str:
        return "in-process"


def deliver_soon(hub: Hub, messages: Sequence[Message]) -> None:
    """Hand ``messages`` to ``hub`` at the event loop's next turn, in order (the loop
    runs its callbacks first in, first out): the publisher's own response goes first."""
    asyncio.get_running_loop().call_soon(_deliver, hub, messages)


def _deliver(hub: Hub, messages: Sequence[Message]) -> None:
    for message in messages:
        hub.deliver(message)


def encode_topic(topic: Topic) -> bytes:
    """The topic on the wire, tagged by kind: ``u`` and a UUID's 16 bytes, or ``i`` and
    a signed 64-bit integer, big-endian."""
    if isinstance(topic, uuid.UUID):
        return b"u" + topic.bytes
    return b"i" + topic.to_bytes(8, "big", signed=True)


def decode(data: bytes) -> Message:
    """A message from the wire; ValueError (or KeyError) if it is not one."""
    tag = data[:1]
    if tag == b"u" and len(data) > 17:
        return Message.parse(uuid.UUID(bytes=data[1:17]), data[17:])
    if tag == b"i" and len(data) > 9:
        return Message.parse(int.from_bytes(data[1:9], "big", signed=True), data[9:])
    raise ValueError(f"not a message: {data[:20]!r}")


class RedisBroker:
    """Redis pub/sub on one channel (``channel``: one per application sharing a Redis);
    the wire format is the tagged topic (``encode_topic``), then the message's JSON
    envelope."""

    def __init__(
        self, hub: Hub, url: str, max_backoff: float = 10.0, *, channel: str = CHANNEL
    ) -> None:
        self.hub = hub
        self.channel = channel
        self.sessions_channel = f"{channel}:sessions-ended"  # a JSON list of session keys
        self._redis = Redis.from_url(url, socket_connect_timeout=2, health_check_interval=5)
        self._publisher = Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2)
        self._max_backoff = max_backoff
        self._connected = False

    async def run(self) -> None:
        """Listen until cancelled; then close the connections."""
        try:
            await self._listen_forever()
        finally:
            await self._redis.aclose()
            await self._publisher.aclose()

    async def publish(self, messages: Sequence[Message]) -> None:
        metrics.PUBLISHED.inc(len(messages))
        deliver_soon(self.hub, messages)
        try:
            async with self._publisher.pipeline(transaction=False) as pipe:
                for message in messages:
                    pipe.publish(self.channel, encode_topic(message.topic) + message.body)
                await pipe.execute()
        except (RedisError, OSError) as exc:
            # Committed and in the log: the other processes catch up on reconnect or poll.
            log.warning("redis_publish_failed", error=repr(exc)[:200])

    async def end_sessions(self, sessions: Sequence[str]) -> None:
        self.hub.end_sessions(frozenset(sessions))
        try:
            await self._publisher.publish(self.sessions_channel, orjson.dumps(list(sessions)))
        except (RedisError, OSError) as exc:
            log.warning("redis_publish_failed", error=repr(exc)[:200])

    async def _listen_forever(self) -> None:
        delay = 0.1
        while True:
            try:
                async with self._redis.pubsub(ignore_subscribe_messages=True) as pubsub:
                    await pubsub.subscribe(self.channel, self.sessions_channel)
                    if not self._connected:
                        self._connected = True
                        log.info("redis_subscribed")
                        self.hub.resync_all()  # whatever was published while we were away
                    delay = 0.1
                    async for raw in pubsub.listen():
                        self._on_raw(raw)
            except (RedisError, OSError) as exc:
                if self._connected:
                    log.warning("redis_connection_lost", error=repr(exc)[:200])
                self._connected = False
            await asyncio.sleep(delay)
            delay = min(delay * 2, self._max_backoff)

    def _on_raw(self, raw: dict[str, object]) -> None:
        data = raw.get("data")
        if raw.get("type") != "message" or not isinstance(data, bytes):
            return
        if raw.get("channel") == self.sessions_channel.encode():
            self._on_sessions_ended(data)
            return
        try:
            message = decode(data)
        except (ValueError, KeyError) as exc:
            log.warning("redis_bad_message", error=repr(exc)[:200])
            return
        self.hub.deliver(message)

    def _on_sessions_ended(self, data: bytes) -> None:
        try:
            sessions = orjson.loads(data)
        except orjson.JSONDecodeError:
            sessions = None
        if not isinstance(sessions, list):
            log.warning("redis_bad_message", channel=self.sessions_channel)
            return
        self.hub.end_sessions(frozenset(s for s in sessions if isinstance(s, str)))

    def status(self) -> str:
        return "ok" if self._connected else "reconnecting"
