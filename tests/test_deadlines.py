"""A decision has an end: an event closes by itself when its ``closes_at`` comes (logged
as an ordinary ``event.updated`` with ``closed_by: {"kind": "deadline"}``), or by hand,
and either way records ``closed_at``; its outcome may be written after the close.

The server sweeps for due events every second (the default); each test waits for the
close on the event's own stream, never for a fixed time."""

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.api import Api, User, problem
from tests.services import Backend, Server, create_backend, drop_backend, start_server
from tests.sse import events

TIMEOUT = 20


def _in(seconds: float) -> str:
    return (datetime.now(UTC) + timedelta(seconds=seconds)).isoformat()


async def _log(client: httpx.AsyncClient, user: User, event: str) -> list[dict[str, Any]]:
    r = await client.get(f"/api/v1/events/{event}/log?after=0", headers=user.auth)
    assert r.status_code == 200, r.text
    items: list[dict[str, Any]] = r.json()["items"]
    return items


async def _create(client: httpx.AsyncClient, owner: User, **fields: Any) -> httpx.Response:
    return await client.post(
        "/api/v1/events", json={"title": "Deadline", **fields}, headers=owner.auth
    )


async def _wait_for_close(client: httpx.AsyncClient, user: User, event: str) -> dict[str, Any]:
    """The ``event.updated`` that closes the event, read off a real SSE stream."""
    async with client.stream("GET", f"/api/v1/events/{event}/stream", headers=user.auth) as r:
        async for message in events(r):
            data: dict[str, Any] = message.data["data"]
            if message.event == "snapshot" and data["event"]["status"] == "CLOSED":
                return {}  # closed before the stream started: the log has the entry
            if message.event == "event.updated" and data["status"] == "CLOSED":
                return data
    raise AssertionError("the stream ended before the event closed")


async def test_an_event_closes_at_its_deadline_once_and_pending_proposals_stay_pending(
    api: Api,
) -> None:
    owner = await api.user("owner")
    created = await _create(api.client, owner, closes_at=_in(2))
    assert created.status_code == 201, created.text
    event = created.json()["id"]
    assert created.json()["closes_at"] is not None and created.json()["closed_at"] is None
    proposal = await api.proposal(owner, event)

    closing = await asyncio.wait_for(_wait_for_close(api.client, owner, event), TIMEOUT)

    log = await _log(api.client, owner, event)
    closes = [e for e in log if e["type"] == "event.updated"]
    assert len(closes) == 1, closes
    assert closes[0]["data"]["closed_by"] == {"kind": "deadline"}
    if closing:
        assert closing == closes[0]["data"]
    got = (await api.client.get(f"/api/v1/events/{event}", headers=owner.auth)).json()
    assert got["status"] == "CLOSED" and got["closed_at"] is not None
    assert got["closed_at"] >= got["closes_at"]
    assert (await api.get_proposal(owner, event, proposal))["status"] == "PENDING"
    vote = await api.client.post(api.vote_url(event, proposal), headers=owner.auth)
    problem(vote, 409, "event_closed")


async def test_a_deadline_must_be_in_the_future_and_name_its_time_zone(api: Api) -> None:
    owner = await api.user("owner")
    problem(await _create(api.client, owner, closes_at=_in(-60)), 422, "closes_at_not_future")
    naive = (datetime.now(UTC) + timedelta(hours=1)).replace(tzinfo=None).isoformat()
    problem(await _create(api.client, owner, closes_at=naive), 422, "validation_error")
    event = await api.event(owner)
    url = f"/api/v1/events/{event}"
    past = await api.client.patch(url, json={"closes_at": _in(-1)}, headers=owner.auth)
    problem(past, 422, "closes_at_not_future")

    later = _in(3600)
    set_ = await api.client.patch(url, json={"closes_at": later}, headers=owner.auth)
    assert set_.status_code == 200, set_.text
    assert datetime.fromisoformat(set_.json()["closes_at"]) == datetime.fromisoformat(later)
    cleared = await api.client.patch(url, json={"closes_at": None}, headers=owner.auth)
    assert cleared.status_code == 200 and cleared.json()["closes_at"] is None


async def test_closing_by_hand_records_when_and_who_and_the_outcome_comes_after(
    api: Api,
) -> None:
    owner, member = await api.user("owner"), await api.user("member")
    event = await api.event(owner, members=[member])
    url = f"/api/v1/events/{event}"

    closed = await api.client.patch(url, json={"status": "CLOSED"}, headers=owner.auth)
    assert closed.status_code == 200, closed.text
    assert closed.json()["closed_at"] is not None
    outcome = await api.client.patch(url, json={"outcome": "Lisbon."}, headers=owner.auth)
    assert outcome.status_code == 200, outcome.text
    assert (outcome.json()["outcome"], outcome.json()["status"]) == ("Lisbon.", "CLOSED")
    assert outcome.json()["closed_at"] == closed.json()["closed_at"]
    for change in ({"title": "Other"}, {"outcome": "x", "description": "y"}):
        problem(await api.client.patch(url, json=change, headers=owner.auth), 409, "event_closed")
    by_member = await api.client.patch(url, json={"outcome": "Mine"}, headers=member.auth)
    problem(by_member, 403, "admin_required")
    too_long = await api.client.patch(url, json={"outcome": "x" * 5001}, headers=owner.auth)
    problem(too_long, 422, "validation_error")

    log = await _log(api.client, owner, event)
    updates = [e["data"] for e in log if e["type"] == "event.updated"]
    assert updates[-2]["closed_by"] == {"kind": "user", **owner.person}
    assert updates[-1]["closed_by"] is None and updates[-1]["outcome"] == "Lisbon."
    reopened = await api.client.patch(url, json={"status": "OPEN"}, headers=owner.auth)
    assert reopened.status_code == 200 and reopened.json()["closed_at"] is None
    cleared = await api.client.patch(url, json={"outcome": None}, headers=owner.auth)
    assert cleared.status_code == 200 and cleared.json()["outcome"] is None


# -- two instances ----------------------------------------------------------------------

EVENTS = 5


@pytest.fixture(scope="module")
def two_servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, Server]]:
    """Two servers on one fresh PostgreSQL database, both sweeping five times a second."""
    backend: Backend = create_backend("postgresql", tmp_path_factory.mktemp("pg"))
    logs: Path = tmp_path_factory.mktemp("logs")
    env = {"QUORUM_DEADLINE_SWEEP_SECONDS": "0.2"}
    a = start_server(backend, logs, **env)
    try:
        b = start_server(backend, logs, **env)
    except BaseException:
        a.stop()
        raise
    yield a, b
    a.stop()
    b.stop()
    drop_backend(backend)


@pytest.mark.slow
async def test_two_instances_close_each_due_event_exactly_once(
    two_servers: tuple[Server, Server],
) -> None:
    async with (
        httpx.AsyncClient(base_url=two_servers[0].url, timeout=30) as a,
        httpx.AsyncClient(base_url=two_servers[1].url, timeout=30) as b,
    ):
        owner = await Api(a).user("owner")
        deadline = _in(2)  # the same moment for all: both sweepers find them due together
        ids = []
        for _ in range(EVENTS):
            created = await _create(a, owner, closes_at=deadline)
            assert created.status_code == 201, created.text
            ids.append(created.json()["id"])

        await asyncio.wait_for(
            asyncio.gather(*(_wait_for_close(client, owner, e) for e in ids for client in (a, b))),
            TIMEOUT,
        )

        for event in ids:
            log = await _log(b, owner, event)
            closes = [e for e in log if e["type"] == "event.updated"]
            assert [c["data"]["closed_by"] for c in closes] == [{"kind": "deadline"}], log
