"""The seeds' other SSE design, as a reference peer: every connection polls the database
once a second for new rows of its event's log.

Run against Quorum's own database (the votes are cast through Quorum, this server only
reads ``event_log``), with an asyncpg pool of 20 and no reset query on release, so
that one poll is exactly one statement:

    QUORUM_FANOUT_PG=postgresql://postgres@127.0.0.1:5432/quorum_fanout \\
        uv run --group bench uvicorn --app-dir bench/fanout peer_polling:app --port 18031

GET /api/v1/events/{id}/stream reads the event's newest ``seq``, sends it as an
``event: snapshot`` (so a client knows it is subscribed), then every second sends the
rows after the last one it sent, as Quorum's envelope ``{"seq", "type", "t", "data"}``
with ``t`` the row's ``created_at`` (written in the committing transaction, a
millisecond or so before its commit). GET /stats counts the queries run so far.
"""

import asyncio
import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
import orjson
from fastapi import FastAPI
from fastapi.responses import StreamingResponse

DSN = os.environ.get("QUORUM_FANOUT_PG", "postgresql://postgres@127.0.0.1:5432/quorum_fanout")
POLL_SECONDS = 1.0
stats = {"queries": 0, "connections": 0}
pool: asyncpg.Pool | None = None


async def _noop_reset(_conn: asyncpg.Connection) -> None:
    return None


@asynccontextmanager
async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
    global pool
    pool = await asyncpg.create_pool(DSN, min_size=20, max_size=20, reset=_noop_reset)
    try:
        yield
    finally:
        await pool.close()


app = FastAPI(lifespan=lifespan)


async def _fetch(query: str, *params: object) -> list[asyncpg.Record]:
    assert pool is not None
    stats["queries"] += 1
    return await pool.fetch(query, *params)


async def _events(event_id: uuid.UUID) -> AsyncIterator[bytes]:
    stats["connections"] += 1
    try:
        rows = await _fetch(
            "SELECT coalesce(max(seq), 0) AS seq FROM event_log WHERE topic_id = $1", event_id
        )
        last = int(rows[0]["seq"])
        yield b'id: %d\nevent: snapshot\ndata: {"seq": %d}\n\n' % (last, last)
        while True:
            await asyncio.sleep(POLL_SECONDS)
            rows = await _fetch(
                "SELECT seq, type, data::text AS data, created_at FROM event_log"
                " WHERE topic_id = $1 AND seq > $2 ORDER BY seq",
                event_id,
                last,
            )
            for row in rows:
                head = orjson.dumps(
                    {"seq": row["seq"], "type": row["type"], "t": row["created_at"].timestamp()}
                )
                body = head[:-1] + b',"data":' + row["data"].encode() + b"}"
                yield b"id: %d\nevent: %s\ndata: %s\n\n" % (row["seq"], row["type"].encode(), body)
                last = row["seq"]
    finally:
        stats["connections"] -= 1


@app.get("/api/v1/events/{event_id}/stream")  # the same path as Quorum's
async def stream(event_id: uuid.UUID) -> StreamingResponse:
    return StreamingResponse(
        _events(event_id),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


@app.get("/stats")
async def get_stats() -> dict[str, int]:
    return stats
