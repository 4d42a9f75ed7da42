"""The store-orders application: a FastAPI app whose admin stream is the core's.

Every change writes its row and its log entry in one transaction (``append`` with the
store's ``Counter``); the unit of work publishes the entry after the commit; the admin
stream (``EventStreamResponse``) starts with ``initial`` or resumes after Last-Event-ID,
from any instance. Auth is the example's own: a store's admin token (Bearer, or
``?token=`` for EventSource, which cannot send headers).
"""

import asyncio
import contextlib
import hashlib
import secrets
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import Depends, FastAPI, Header, HTTPException, Query, Request
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, Field
from sqlalchemy import func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from examples.store_orders.models import COUNTER, dining_tables, orders, stores, table_sessions
from examples.store_orders.settings import load_settings
from quorum.db.engine import create_engine, create_sessionmaker
from quorum.db.uow import UnitOfWork, read_only
from quorum.realtime import (
    ConnectionAbort,
    EventStreamResponse,
    Message,
    Snapshot,
    append,
    create_realtime,
    end_streams_on_signal,
)

CHANNEL = "store_orders:realtime"  # not Quorum's: the two may share a Redis
PAGE = Path(__file__).with_name("admin.html")
Status = Literal["pending", "preparing", "served"]


class Item(BaseModel):
    name: str = Field(min_length=1, max_length=100)
    quantity: int = Field(ge=1, le=99)


class OrderIn(BaseModel):
    items: list[Item] = Field(min_length=1, max_length=50)


class StatusIn(BaseModel):
    status: Status


class NameIn(BaseModel):
    name: str = Field(min_length=1, max_length=100)


class TableIn(BaseModel):
    number: int = Field(ge=1)


def order_view(row: Any) -> dict[str, Any]:
    """An order as ``initial`` and ``order_created`` carry it."""
    keys = ("id", "table_id", "session_id", "items", "status")
    return {key: row[key] for key in keys}


def snapshot_reader(sessionmaker: async_sessionmaker[AsyncSession]) -> Snapshot:
    """``initial``: the store's open orders (of sessions not ended), read in one
    consistent transaction with the ``last_seq`` they reflect, which is its SSE id."""

    async def snapshot(store_id: int) -> Message:
        async with read_only(sessionmaker, consistent=True) as session:
            seq = await session.scalar(select(stores.c.last_seq).where(stores.c.id == store_id))
            query = (
                select(orders)
                .join(table_sessions, table_sessions.c.id == orders.c.session_id)
                .where(orders.c.store_id == store_id, table_sessions.c.ended_at.is_(None))
                .order_by(orders.c.id)
            )
            rows = (await session.execute(query)).mappings().all()
        data = {"orders": [order_view(row) for row in rows]}
        return Message.build(store_id, seq or 0, "initial", data, time.time())

    return snapshot


async def log(session: AsyncSession, store_id: int, type_: str, data: dict[str, Any]) -> None:
    """The change's entry on the store's log; the store's row is its counter (locked)."""
    if await append(session, store_id, [(type_, data)], COUNTER) is None:
        raise HTTPException(404, "no such store")


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def admin_store(
    request: Request,
    token: Annotated[str | None, Query(max_length=100)] = None,
    authorization: Annotated[str | None, Header(max_length=200)] = None,
) -> int:
    """The store whose admin token the caller holds (Bearer header, or ``?token=``)."""
    if authorization and authorization.lower().startswith("bearer "):
        token = authorization[7:]
    if not token:
        raise HTTPException(401, "send the store's admin token", {"WWW-Authenticate": "Bearer"})
    async with read_only(request.app.state.uow.sessionmaker) as session:
        found = await session.scalar(
            select(stores.c.id).where(stores.c.admin_token_sha256 == digest(token))
        )
    if found is None:
        raise HTTPException(401, "unknown admin token", {"WWW-Authenticate": "Bearer"})
    return int(found)


AdminStore = Annotated[int, Depends(admin_store)]


def create_app() -> ConnectionAbort:
    settings = load_settings()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = create_engine(settings)
        sessionmaker = create_sessionmaker(engine)
        snapshot = snapshot_reader(sessionmaker)
        realtime = create_realtime(
            settings, sessionmaker, snapshot, log=COUNTER.log, channel=CHANNEL
        )
        # Publishes what each transaction appended to the log, after its commit.
        uow = UnitOfWork(sessionmaker, publisher=realtime.publish)
        app.state.uow, app.state.streams = uow, realtime.streams
        try:
            async with asyncio.TaskGroup() as tasks:
                running = tasks.create_task(realtime.run())  # the hub and the broker
                try:
                    with end_streams_on_signal(realtime.hub.end_streams):
                        yield
                finally:
                    running.cancel()
        finally:
            await engine.dispose()

    app = FastAPI(title="Store orders (an example on quorum.realtime)", lifespan=lifespan)

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/admin", response_class=HTMLResponse)
    async def admin_page() -> str:
        return PAGE.read_text()

    @app.post("/stores", status_code=201)
    async def create_store(body: NameIn, request: Request) -> dict[str, Any]:
        token = secrets.token_urlsafe(24)
        async with request.app.state.uow.transaction() as session:
            values = {"name": body.name, "admin_token_sha256": digest(token), "last_seq": 0}
            store_id = await session.scalar(insert(stores).values(values).returning(stores.c.id))
        return {"id": store_id, "admin_token": token}

    @app.post("/admin/tables", status_code=201)
    async def create_table(store_id: AdminStore, body: TableIn, request: Request) -> dict[str, Any]:
        async with request.app.state.uow.transaction() as session:
            values = {"store_id": store_id, "number": body.number}
            table_id = await session.scalar(
                insert(dining_tables).values(values).returning(dining_tables.c.id)
            )
        return {"id": table_id}

    @app.post("/tables/{table_id}/sessions", status_code=201)
    async def start_session(table_id: int, request: Request) -> dict[str, Any]:
        async with request.app.state.uow.transaction() as session:
            table = select(dining_tables.c.id).where(dining_tables.c.id == table_id)
            if await session.scalar(table) is None:
                raise HTTPException(404, "no such table")
            statement = (
                insert(table_sessions).values(table_id=table_id).returning(table_sessions.c.id)
            )
            return {"id": await session.scalar(statement)}

    @app.post("/sessions/{session_id}/orders", status_code=201)
    async def create_order(session_id: int, body: OrderIn, request: Request) -> dict[str, Any]:
        """A customer's order at a table whose session is open."""
        async with request.app.state.uow.transaction() as session:
            open_session = (
                select(table_sessions.c.table_id, dining_tables.c.store_id)
                .join(dining_tables)
                .where(table_sessions.c.id == session_id, table_sessions.c.ended_at.is_(None))
            )
            found = (await session.execute(open_session)).one_or_none()
            if found is None:
                raise HTTPException(404, "no open session")
            items = [item.model_dump() for item in body.items]
            values = {
                **found._asdict(),
                "session_id": session_id,
                "items": items,
                "status": "pending",
            }
            row = (
                (await session.execute(insert(orders).values(values).returning(orders)))
                .mappings()
                .one()
            )
            order = order_view(row)
            await log(session, found.store_id, "order_created", order)
        return order

    @app.patch("/admin/orders/{order_id}")
    async def update_order(
        order_id: int, body: StatusIn, store_id: AdminStore, request: Request
    ) -> dict[str, Any]:
        async with request.app.state.uow.transaction() as session:
            statement = update(orders).where(orders.c.id == order_id, orders.c.store_id == store_id)
            if (await session.execute(statement.values(status=body.status))).rowcount == 0:
                raise HTTPException(404, "no such order in this store")
            data = {"order_id": order_id, "status": body.status}
            await log(session, store_id, "order_updated", data)
        return data

    @app.delete("/admin/orders/{order_id}")
    async def delete_order(order_id: int, store_id: AdminStore, request: Request) -> dict[str, Any]:
        async with request.app.state.uow.transaction() as session:
            statement = orders.delete().where(
                orders.c.id == order_id, orders.c.store_id == store_id
            )
            table_id = await session.scalar(statement.returning(orders.c.table_id))
            if table_id is None:
                raise HTTPException(404, "no such order in this store")
            data = {"order_id": order_id, "table_id": table_id}
            await log(session, store_id, "order_deleted", data)
        return data

    @app.post("/admin/sessions/{session_id}/end")
    async def end_session(
        session_id: int, store_id: AdminStore, request: Request
    ) -> dict[str, Any]:
        async with request.app.state.uow.transaction() as session:
            mine = (
                select(dining_tables.c.id)
                .where(dining_tables.c.store_id == store_id)
                .scalar_subquery()
            )
            statement = (
                update(table_sessions)
                .where(
                    table_sessions.c.id == session_id,
                    table_sessions.c.ended_at.is_(None),
                    table_sessions.c.table_id.in_(mine),
                )
                .values(ended_at=func.now())
                .returning(table_sessions.c.table_id)
            )
            table_id = await session.scalar(statement)
            if table_id is None:
                raise HTTPException(404, "no open session in this store")
            data = {"table_id": table_id, "session_id": session_id}
            await log(session, store_id, "session_ended", data)
        return data

    @app.get("/admin/orders/stream", response_class=EventStreamResponse)
    async def stream(
        store_id: AdminStore,
        request: Request,
        last_event_id: Annotated[int | None, Query(ge=0)] = None,
        last_event_id_header: Annotated[int | None, Header(alias="Last-Event-ID", ge=0)] = None,
    ) -> EventStreamResponse:
        """``initial``, or what followed Last-Event-ID (header, or ``?last_event_id=``),
        then live: ``order_created``, ``order_updated``, ``order_deleted``,
        ``session_ended``; ``: heartbeat`` comments in between."""
        resume = last_event_id if last_event_id_header is None else last_event_id_header
        return EventStreamResponse(request.app.state.streams, store_id, resume)

    return ConnectionAbort(app)
