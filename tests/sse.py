"""A small SSE client over a real HTTP stream (httpx), for the real-time tests."""

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx


@dataclass
class Event:
    id: int | None
    event: str
    data: dict[str, Any] = field(default_factory=dict)


@dataclass
class Frame:
    """One SSE block: an event, a comment (heartbeat), or a retry field."""

    event: Event | None = None
    comment: str | None = None
    retry: int | None = None


async def frames(response: httpx.Response) -> AsyncIterator[Frame]:
    fields: dict[str, str] = {}
    comment = None
    async for line in response.aiter_lines():
        if line == "":
            if "event" in fields or "data" in fields:
                data = json.loads(fields["data"]) if "data" in fields else {}
                seq = int(fields["id"]) if "id" in fields else None
                yield Frame(event=Event(seq, fields.get("event", "message"), data))
            elif "retry" in fields:
                yield Frame(retry=int(fields["retry"]))
            elif comment is not None:
                yield Frame(comment=comment)
            fields, comment = {}, None
        elif line.startswith(":"):
            comment = line[1:].strip()
        else:
            name, _, value = line.partition(":")
            fields[name] = value[1:] if value.startswith(" ") else value


async def events(response: httpx.Response) -> AsyncIterator[Event]:
    async for frame in frames(response):
        if frame.event is not None:
            yield frame.event
