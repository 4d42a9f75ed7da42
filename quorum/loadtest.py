"""``quorum loadtest``: replay decision traffic against a running server and check that
nothing was lost.

N voters vote, withdraw and comment on one event's proposals for a while, as fast as the
server lets them, while M listeners hold SSE streams of that event. At the end: requests
per second and latency; messages delivered, lost and duplicated per listener (both must
be 0); and the domain invariants re-read through the API — every proposal's vote_count
equals the votes the voters hold, and the event log is gap-free up to the event's
last_seq. The server must have ``QUORUM_AUTH_RATE_LIMIT=off`` (it registers N users).
"""

import asyncio
import json
import random
import statistics
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import httpx
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

PASSWORD = "loadtest-password"  # noqa: S105 - throwaway accounts on a test server


@dataclass
class Stats:
    latencies: list[float] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)

    def record(self, started: float, status: int) -> None:
        self.latencies.append(time.perf_counter() - started)
        self.statuses[status] += 1


@dataclass
class Listener:
    seqs: list[int] = field(default_factory=list)
    start: int = 0
    error: str = ""
    target: int | None = None  # the event's last_seq once the traffic has stopped
    caught_up: asyncio.Event = field(default_factory=asyncio.Event)

    def check(self) -> None:
        if self.target is not None and (self.seqs[-1] if self.seqs else self.start) >= self.target:
            self.caught_up.set()


@dataclass
class Report:
    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    statuses: dict[int, int]
    expected_per_listener: int
    delivered: int
    lost: int
    duplicated: int
    invariant_errors: list[str]

    @property
    def ok(self) -> bool:
        server_errors = sum(n for s, n in self.statuses.items() if s >= 500)
        return not (self.lost or self.duplicated or self.invariant_errors or server_errors)


class LoadTest:
    def __init__(
        self, client: httpx.AsyncClient, voters: int, listeners: int, proposals: int
    ) -> None:
        self.client = client
        self.n_voters = voters
        self.n_listeners = listeners
        self.n_proposals = proposals
        self.stats = Stats()
        self.held: set[tuple[int, str]] = set()  # (voter index, proposal id) votes in place

    async def _user(self, name: str) -> dict[str, str]:
        email = f"{name}-{uuid.uuid4().hex[:10]}@loadtest.example"
        body = {"email": email, "password": PASSWORD, "display_name": name}
        (await self.client.post("/api/v1/auth/register", json=body)).raise_for_status()
        form = {"username": email, "password": PASSWORD}
        token = (await self.client.post("/api/v1/auth/token", data=form)).raise_for_status().json()
        return {"Authorization": f"Bearer {token['access_token']}"}

    async def setup(self) -> None:
        self.owner = await self._user("owner")
        self.voters = list(
            await asyncio.gather(*(self._user(f"voter{i}") for i in range(self.n_voters)))
        )
        event = await self.client.post(
            "/api/v1/events", json={"title": "Load test"}, headers=self.owner
        )
        self.event = event.raise_for_status().json()["id"]
        for voter in self.voters:
            request = await self.client.post(
                f"/api/v1/events/{self.event}/memberships", headers=voter
            )
            url = (
                f"/api/v1/events/{self.event}/memberships/{request.raise_for_status().json()['id']}"
            )
            (
                await self.client.patch(url, json={"status": "APPROVED"}, headers=self.owner)
            ).raise_for_status()
        self.proposals = []
        for i in range(self.n_proposals):
            body = {"kind": "CONCLUSION", "title": f"Option {i}"}
            r = await self.client.post(
                f"/api/v1/events/{self.event}/proposals", json=body, headers=self.owner
            )
            self.proposals.append(r.raise_for_status().json()["id"])

    async def listen(self, listener: Listener, ready: asyncio.Event) -> None:
        url = f"/api/v1/events/{self.event}/stream"
        try:
            async with self.client.stream("GET", url, headers=self.owner, timeout=None) as r:
                async for line in r.aiter_lines():
                    if not line.startswith("data:"):
                        continue
                    envelope = json.loads(line[5:])
                    if envelope["type"] == "snapshot":
                        listener.start = envelope["seq"]
                        ready.set()
                    else:
                        listener.seqs.append(envelope["seq"])
                    listener.check()
        except httpx.HTTPError as exc:
            listener.error = repr(exc)
            listener.caught_up.set()

    async def act(self, i: int, deadline: float) -> None:
        voter = self.voters[i]
        while time.monotonic() < deadline:
            proposal = random.choice(self.proposals)  # noqa: S311 - traffic, not secrets
            base = f"/api/v1/events/{self.event}/proposals/{proposal}"
            started = time.perf_counter()
            if random.random() < 0.2:  # noqa: S311
                r = await self.client.post(f"{base}/comments", json={"body": "load"}, headers=voter)
            elif (i, proposal) in self.held:
                r = await self.client.delete(f"{base}/votes/me", headers=voter)
                if r.status_code == 204:
                    self.held.discard((i, proposal))
            else:
                r = await self.client.post(f"{base}/votes", headers=voter)
                if r.status_code == 201:
                    self.held.add((i, proposal))
            self.stats.record(started, r.status_code)

    async def run(self, duration: float, console: Console) -> Report:
        await self.setup()
        listeners = [Listener() for _ in range(self.n_listeners)]
        readies = [asyncio.Event() for _ in listeners]
        tasks = [
            asyncio.create_task(self.listen(lr, rd))
            for lr, rd in zip(listeners, readies, strict=True)
        ]
        await asyncio.wait_for(asyncio.gather(*(r.wait() for r in readies)), 30)
        started = time.monotonic()
        with Progress(
            TextColumn("[bold]load"), BarColumn(), TextColumn("{task.fields[req]} requests"),
            TimeRemainingColumn(), console=console, transient=True,
        ) as progress:  # fmt: skip
            bar = progress.add_task("load", total=duration, req=0)
            actors = [
                asyncio.create_task(self.act(i, started + duration)) for i in range(self.n_voters)
            ]
            while not all(a.done() for a in actors):
                await asyncio.sleep(0.25)
                progress.update(
                    bar, completed=time.monotonic() - started, req=len(self.stats.latencies)
                )
            await asyncio.gather(*actors)
        elapsed = time.monotonic() - started
        event = (await self.client.get(f"/api/v1/events/{self.event}", headers=self.owner)).json()
        self.final_seq = event["last_seq"]
        for listener in listeners:
            listener.target = self.final_seq
            listener.check()
        waits = [asyncio.create_task(lr.caught_up.wait()) for lr in listeners]
        await asyncio.wait(waits, timeout=15)  # time for every listener to catch up
        for task in [*waits, *tasks]:
            task.cancel()
        return await self._report(listeners, elapsed)

    async def _report(self, listeners: list[Listener], elapsed: float) -> Report:
        expected = [set(range(lr.start + 1, self.final_seq + 1)) for lr in listeners]
        delivered = sum(len(lr.seqs) for lr in listeners)
        lost = sum(len(exp - set(lr.seqs)) for exp, lr in zip(expected, listeners, strict=True))
        duplicated = sum(len(lr.seqs) - len(set(lr.seqs)) for lr in listeners)
        ms = sorted(x * 1000 for x in self.stats.latencies) or [0.0]
        return Report(
            requests=len(self.stats.latencies),
            seconds=elapsed,
            p50_ms=statistics.median(ms),
            p99_ms=ms[min(len(ms) - 1, int(0.99 * len(ms)))],
            statuses=dict(self.stats.statuses),
            expected_per_listener=max((len(e) for e in expected), default=0),
            delivered=delivered,
            lost=lost,
            duplicated=duplicated,
            invariant_errors=await self._invariants()
            + [f"listener error: {lr.error}" for lr in listeners if lr.error],
        )

    async def _invariants(self) -> list[str]:
        errors = []
        for proposal in self.proposals:
            url = f"/api/v1/events/{self.event}/proposals/{proposal}"
            count = (await self.client.get(url, headers=self.owner)).json()["vote_count"]
            held = sum(1 for _, p in self.held if p == proposal)
            if count != held:
                errors.append(f"proposal {proposal}: vote_count {count}, votes held {held}")
        seqs: list[int] = []
        after: int | None = 0
        while after is not None:
            page = await self.client.get(
                f"/api/v1/events/{self.event}/log?after={after}", headers=self.owner
            )
            body: dict[str, Any] = page.json()
            seqs += [entry["seq"] for entry in body["items"]]
            after = body["next_after"]
        if seqs and seqs != list(range(seqs[0], self.final_seq + 1)):
            errors.append("the event log has a gap or does not end at last_seq")
        return errors


def render(report: Report, console: Console) -> None:
    table = Table(title="Quorum load test", show_header=False)
    rows = [
        ("requests", f"{report.requests} in {report.seconds:.1f} s"),
        ("requests/s", f"{report.requests / report.seconds:.0f}"),
        ("latency p50 / p99", f"{report.p50_ms:.1f} ms / {report.p99_ms:.1f} ms"),
        ("statuses", ", ".join(f"{s}: {n}" for s, n in sorted(report.statuses.items()))),
        ("messages delivered", f"{report.delivered} ({report.expected_per_listener} per listener)"),
        ("lost", str(report.lost)),
        ("duplicated", str(report.duplicated)),
        ("invariants", "ok" if not report.invariant_errors else "; ".join(report.invariant_errors)),
    ]
    for name, value in rows:
        table.add_row(name, value)
    console.print(table)
    console.print("[green]PASS[/green]" if report.ok else "[red]FAIL[/red]")


async def run(
    url: str, voters: int, listeners: int, proposals: int, duration: float, console: Console
) -> Report:
    limits = httpx.Limits(max_connections=voters + listeners + 10)
    async with httpx.AsyncClient(base_url=url, timeout=30, limits=limits) as client:
        return await LoadTest(client, voters, listeners, proposals).run(duration, console)
