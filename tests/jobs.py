"""Helpers of the job tests: an event with something to report, and waiting on jobs."""

import asyncio
import time
from dataclasses import dataclass
from typing import Any

import httpx

from tests.api import Api, User

JOB_TIMEOUT = 60


@dataclass
class Decided:
    """An event with proposals of two kinds: one accepted by the owner, one by the
    threshold, one pending; votes and comments on them."""

    event: str
    owner: User
    member: User
    voter: User
    accepted: str  # by the owner
    auto: str  # by the threshold
    pending: str


async def decided_event(api: Api, **options: bool) -> Decided:
    owner, member, voter = (
        await api.user("owner"),
        await api.user("member"),
        await api.user("voter-vera"),
    )
    event = await api.event(owner, threshold=2, members=[member, voter], **options)
    accepted = await api.proposal(member, event, "ASSUMPTION", "Budget is fixed")
    auto = await api.proposal(member, event, "CONCLUSION", "Ship in May")
    pending = await api.proposal(member, event, "CONCLUSION", "Hire two people")
    for user in (voter, member):
        r = await api.client.post(api.vote_url(event, auto), headers=user.auth)
        assert r.status_code == 201, r.text
    r = await api.client.post(api.vote_url(event, pending), headers=voter.auth)
    assert r.status_code == 201, r.text
    r = await api.client.post(api.vote_url(event, accepted), headers=voter.auth)
    assert r.status_code == 201, r.text
    r = await api.client.patch(
        f"/api/v1/events/{event}/proposals/{accepted}",
        json={"status": "ACCEPTED"},
        headers=owner.auth,
    )
    assert r.status_code == 200, r.text
    await api.comment(voter, event, pending, "Why two?")
    await api.comment(member, event, pending, "Workload")
    return Decided(event, owner, member, voter, accepted, auto, pending)


async def request_report(
    client: httpx.AsyncClient, user: User, event: str, fmt: str = "markdown"
) -> dict[str, Any]:
    r = await client.post(
        f"/api/v1/events/{event}/reports", json={"format": fmt}, headers=user.auth
    )
    assert r.status_code == 202, r.text
    job: dict[str, Any] = r.json()
    return job


async def wait_job(
    client: httpx.AsyncClient, user: User, job_id: str, within: float = JOB_TIMEOUT
) -> dict[str, Any]:
    """The job once it is done or failed."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        r = await client.get(f"/api/v1/jobs/{job_id}", headers=user.auth)
        assert r.status_code == 200, r.text
        job: dict[str, Any] = r.json()
        if job["state"] in ("done", "failed"):
            return job
        await asyncio.sleep(0.1)
    raise AssertionError(f"job {job_id} not finished in {within} s: {job}")


async def result(client: httpx.AsyncClient, user: User, job_id: str) -> httpx.Response:
    r = await client.get(f"/api/v1/jobs/{job_id}/result", headers=user.auth)
    assert r.status_code == 200, r.text
    return r
