"""One log entry on its way to clients, serialised once.

An ``Entry`` is what a transaction wrote to the log (topic, seq, type, data); once the
transaction has committed, each becomes a ``Message`` stamped with the commit time.

The JSON envelope ``{"seq", "type", "t", "data"}`` (``t``: commit time, epoch seconds) is
built once per message per process; the SSE frame around it is built once too, and the
same bytes object is written to every subscriber; so is the WebSocket text frame whose
payload is the envelope.
"""

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson

Topic = uuid.UUID | int
"""What a stream follows: a UUID (a Quorum event) or an integer (another application's
row, such as a store). The log's ``topic_id`` column has the application's type; the
Redis broker tags the key on the wire so both kinds travel the same way."""


@dataclass(frozen=True, slots=True)
class Entry:
    topic: Topic
    seq: int
    type: str
    data: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Message:
    topic: Topic
    seq: int
    type: str
    body: bytes  # the JSON envelope
    text: str  # the same envelope, for WebSocket text frames
    sse: bytes  # the complete SSE frame
    ws: bytes  # the complete WebSocket text frame (server to client: unmasked)
    committed_at: float  # epoch seconds; 0.0 for a message read back from the log
    # Not in the log (``transient``): no ``seq`` of its own, no SSE ``id:`` line, so it
    # never moves a client's Last-Event-ID and is never replayed. Progress, presence.
    transient: bool = False

    @classmethod
    def from_body(
        cls, topic: Topic, seq: int, type_: str, body: bytes, committed_at: float = 0.0
    ) -> "Message":
        frame = b"id: %d\nevent: %s\ndata: %s\n\n" % (seq, type_.encode(), body)
        return cls(topic, seq, type_, body, body.decode(), frame, ws_text_frame(body), committed_at)

    @classmethod
    def build(
        cls, topic: Topic, seq: int, type_: str, data: Any, t: float, *, live: bool = False
    ) -> "Message":
        """``t``: when the change committed. ``live``: just committed, so its delivery
        latency is worth measuring (not a replay from the log, not a snapshot)."""
        body = orjson.dumps({"seq": seq, "type": type_, "t": t, "data": data})
        return cls.from_body(topic, seq, type_, body, t if live else 0.0)

    @classmethod
    def build_transient(cls, topic: Topic, type_: str, data: Any, t: float) -> "Message":
        """A message that is not logged: the envelope has no ``seq``, the SSE frame no
        ``id:`` line. Delivered live to whoever is subscribed, and then forgotten."""
        body = orjson.dumps({"type": type_, "t": t, "data": data})
        frame = b"event: %s\ndata: %s\n\n" % (type_.encode(), body)
        return cls(
            topic,
            TRANSIENT_SEQ,
            type_,
            body,
            body.decode(),
            frame,
            ws_text_frame(body),
            0.0,
            transient=True,
        )

    @classmethod
    def parse(cls, topic: Topic, body: bytes) -> "Message":
        head = orjson.loads(body)
        if "seq" not in head:
            return cls.build_transient(topic, str(head["type"]), head["data"], float(head["t"]))
        return cls.from_body(topic, int(head["seq"]), str(head["type"]), body, float(head["t"]))


def ws_text_frame(payload: bytes) -> bytes:
    """An unfragmented, unmasked WebSocket text frame (RFC 6455 5.2) of UTF-8 ``payload``,
    as a server sends it without extensions."""
    n = len(payload)
    if n < 126:
        return b"\x81%c%b" % (n, payload)
    if n < 1 << 16:
        return b"\x81\x7e%b%b" % (n.to_bytes(2, "big"), payload)
    return b"\x81\x7f%b%b" % (n.to_bytes(8, "big"), payload)


TRANSIENT_SEQ = -1  # a transient message's ``seq``: below every logged one
HEARTBEAT = b": heartbeat\n\n"

Project = Callable[[Message, str], Message | None]
"""What one *audience* of subscribers receives of a message: the message itself, another
message with the same ``seq`` and ``type`` (say, with a field left out), or None (the
audience is not sent it). The application gives the hub its ``project`` function; the
hub calls it once per message per audience present on the topic, so the projected
message is still serialised once for all the subscribers of an audience."""


def as_is(message: Message, audience: str) -> Message | None:
    """The projection of an application that shows every audience the same messages."""
    return message
