"""Helpers for the store-orders example's tests (examples/store_orders): its database
(Quorum's, with the example's own migrations beside it), its server processes, a client
of its HTTP API, and an admin screen reading its stream."""

import asyncio
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from tests.services import ROOT, Backend, Server, start_server
from tests.sse import Event, events

APP = "examples.store_orders.app:create_app"


def migrate(backend: Backend) -> None:
    """The example's migrations, on a database Quorum's migrations created: each keeps
    its own version table."""
    env = {
        **os.environ,
        "QUORUM_DATABASE_URL": backend.url,
        "QUORUM_DATA_DIR": str(backend.data_dir),
    }
    subprocess.run(
        [sys.executable, "-m", "examples.store_orders", "migrate"],
        cwd=ROOT, env=env, check=True, capture_output=True,
    )  # fmt: skip


def serve(backend: Backend, logs: Path, **env: str) -> Server:
    return start_server(backend, logs, app=APP, **env)


@dataclass
class Store:
    """One store and its admin, through the example's HTTP API."""

    http: httpx.AsyncClient
    id: int = 0
    token: str = ""
    tables: list[int] = field(default_factory=list)

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    async def open(self, name: str = "store") -> "Store":
        body = await self.ok(self.http.post("/stores", json={"name": name}))
        self.id, self.token = body["id"], body["admin_token"]
        return self

    async def ok(self, request: Any) -> dict[str, Any]:
        response = await request
        assert response.status_code in (200, 201), response.text
        result: dict[str, Any] = response.json()
        return result

    async def table_session(self, number: int = 1) -> tuple[int, int]:
        table = await self.ok(
            self.http.post("/admin/tables", json={"number": number}, headers=self.auth)
        )
        session = await self.ok(self.http.post(f"/tables/{table['id']}/sessions"))
        return table["id"], session["id"]

    async def order(self, session_id: int, name: str = "bibimbap") -> dict[str, Any]:
        items = [{"name": name, "quantity": 2}]
        return await self.ok(
            self.http.post(f"/sessions/{session_id}/orders", json={"items": items})
        )

    async def update(self, order_id: int, status: str) -> dict[str, Any]:
        url = f"/admin/orders/{order_id}"
        return await self.ok(self.http.patch(url, json={"status": status}, headers=self.auth))

    async def delete(self, order_id: int) -> dict[str, Any]:
        return await self.ok(self.http.delete(f"/admin/orders/{order_id}", headers=self.auth))

    async def end(self, session_id: int) -> dict[str, Any]:
        url = f"/admin/sessions/{session_id}/end"
        return await self.ok(self.http.post(url, headers=self.auth))

    @asynccontextmanager
    async def screen(
        self, last_event_id: int | None = None, http: httpx.AsyncClient | None = None
    ) -> AsyncIterator[AsyncIterator[Event]]:
        """The admin stream (of this store, on ``http``'s server), as its events."""
        headers = {} if last_event_id is None else {"Last-Event-ID": str(last_event_id)}
        url = f"/admin/orders/stream?token={self.token}"
        async with (http or self.http).stream("GET", url, headers=headers) as response:
            assert response.status_code == 200, await response.aread()
            yield events(response)


async def collect(stream: AsyncIterator[Event], until_seq: int, seconds: float = 30) -> list[Event]:
    """Events up to and including ``until_seq`` (the first, ``initial``, included)."""
    got: list[Event] = []
    async with asyncio.timeout(seconds):
        async for event in stream:
            got.append(event)
            if event.id is not None and event.id >= until_seq and event.event != "initial":
                return got
    raise AssertionError(f"the stream ended at {got[-1:]}")
