"""Report jobs under load: 100 reports of an event with 1,000 proposals and 50,000 votes,
run by 1 and then 2 ``quorum worker`` processes (PostgreSQL + Redis on 127.0.0.1).

Measures jobs per second, the time from each request to its ``job.completed`` on the
event's SSE stream (p50, p99), and the API's latency (GET of the event, 10 a second)
before and while the jobs run. Usage: ``uv run python bench/jobs/run.py [--format html]``.
Seeds the data with plain INSERTs (the API would take minutes for 50,000 votes).
"""

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import timedelta
from pathlib import Path

import httpx
from sqlalchemy import insert
from sqlalchemy.ext.asyncio import create_async_engine

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from quorum.accounts.models import User  # noqa: E402
from quorum.db.base import utcnow, uuid7  # noqa: E402
from quorum.decisions.models import Membership, Proposal, Vote  # noqa: E402
from tests.services import REDIS_URL, SECRET, Backend, create_backend, drop_backend, start_server  # noqa: E402

PROPOSALS, VOTERS, JOBS = 1000, 50, 100


async def seed(url: str, event_id: str, owner_id: str) -> None:
    engine = create_async_engine(url)
    event, owner = uuid.UUID(event_id), uuid.UUID(owner_id)
    start = utcnow() - timedelta(hours=1)
    voters = [uuid7() for _ in range(VOTERS)]
    proposals = [uuid7() for _ in range(PROPOSALS)]
    async with engine.begin() as conn:
        await conn.execute(insert(User), [
            {"id": v, "email": f"v{i}-{v.hex[:8]}@bench", "display_name": f"voter {i}",
             "password_hash": "-"} for i, v in enumerate(voters)])  # fmt: skip
        await conn.execute(insert(Membership), [
            {"event_id": event, "user_id": v, "role": "MEMBER", "status": "APPROVED"}
            for v in voters])  # fmt: skip
        await conn.execute(insert(Proposal), [
            {"id": p, "event_id": event, "kind": ("ASSUMPTION", "CRITERIA", "CONCLUSION")[i % 3],
             "title": f"Proposal {i}", "author_id": owner, "vote_count": VOTERS,
             "status": "ACCEPTED" if i % 10 == 0 else "PENDING",
             "decided_by_id": owner if i % 10 == 0 else None,
             "decided_at": utcnow() if i % 10 == 0 else None}
            for i, p in enumerate(proposals)])  # fmt: skip
        rows = [
            {"proposal_id": p, "user_id": v, "created_at": start + timedelta(seconds=j * 60 + i)}
            for i, p in enumerate(proposals)
            for j, v in enumerate(voters)
        ]
        for k in range(0, len(rows), 10_000):
            await conn.execute(insert(Vote), rows[k : k + 10_000])
    await engine.dispose()


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def probe(
    client: httpx.AsyncClient, url: str, auth: dict[str, str], stop: asyncio.Event
) -> list[float]:
    times = []
    while not stop.is_set():
        t = time.perf_counter()
        r = await client.get(url, headers=auth)
        assert r.status_code == 200, r.text
        times.append((time.perf_counter() - t) * 1000)
        await asyncio.sleep(0.1)
    return times


async def phase(server_url: str, event: str, auth: dict[str, str], fmt: str) -> dict[str, float]:
    async with httpx.AsyncClient(base_url=server_url, timeout=120) as client:
        stop = asyncio.Event()
        baseline = asyncio.create_task(probe(client, f"/api/v1/events/{event}", auth, stop))
        await asyncio.sleep(3)
        stop.set()
        before = await baseline
        completed: dict[str, float] = {}
        asked: dict[str, float] = {}
        async with client.stream("GET", f"/api/v1/events/{event}/stream", headers=auth) as sse:
            lines = sse.aiter_lines()
            stop = asyncio.Event()
            during_task = asyncio.create_task(probe(client, f"/api/v1/events/{event}", auth, stop))
            t0 = time.perf_counter()
            for _ in range(JOBS):
                r = await client.post(
                    f"/api/v1/events/{event}/reports", json={"format": fmt}, headers=auth
                )
                assert r.status_code == 202, r.text
                asked[r.json()["id"]] = time.perf_counter()
            async for line in lines:
                if line.startswith("data: ") and '"job.completed"' in line:
                    job_id = json.loads(line[6:])["data"]["id"]
                    if job_id in asked:
                        completed[job_id] = time.perf_counter()
                        if len(completed) == JOBS:
                            break
            elapsed = time.perf_counter() - t0
            stop.set()
            during = await during_task
    latencies = [completed[j] - asked[j] for j in asked]
    return {
        "jobs_per_s": JOBS / elapsed,
        "p50_s": pct(latencies, 0.5), "p99_s": pct(latencies, 0.99),
        "api_p50_before_ms": statistics.median(before), "api_p99_before_ms": pct(before, 0.99),
        "api_p50_during_ms": statistics.median(during), "api_p99_during_ms": pct(during, 0.99),
    }  # fmt: skip


async def main(fmt: str, base: Path, backend: Backend) -> None:
    stream = f"bench:{uuid.uuid4().hex}"
    env = {"QUORUM_REDIS_URL": REDIS_URL, "QUORUM_JOB_STREAM": stream, "QUORUM_ACCESS_LOG": "false",
           "QUORUM_JOB_RESEND_SECONDS": "300"}  # fmt: skip
    server = start_server(backend, base, **env)
    workers: list[subprocess.Popen[bytes]] = []
    try:
        async with httpx.AsyncClient(base_url=server.url, timeout=60) as client:
            email = "owner@bench.example"
            await client.post(
                "/api/v1/auth/register",
                json={"email": email, "password": "correct horse battery", "display_name": "Owner"},
            )
            token = (
                await client.post(
                    "/api/v1/auth/token",
                    data={"username": email, "password": "correct horse battery"},
                )
            ).json()["access_token"]
            auth = {"Authorization": f"Bearer {token}"}
            me = (await client.get("/api/v1/me", headers=auth)).json()
            event = (
                await client.post("/api/v1/events", json={"title": "Bench"}, headers=auth)
            ).json()["id"]
        await seed(backend.url, event, me["id"])
        wenv = {**os.environ, "QUORUM_DATABASE_URL": backend.url, "QUORUM_SECRET_KEY": SECRET,
                "QUORUM_DATA_DIR": str(backend.data_dir), **env}  # fmt: skip
        for count in (1, 2):
            while len(workers) < count:
                log = (base / f"worker-{len(workers)}.log").open("wb")
                command = [sys.executable, "-m", "quorum.cli", "worker", "--concurrency", "4"]
                workers.append(
                    subprocess.Popen(  # noqa: ASYNC220 (a bench: blocking the loop here is fine)
                        command, cwd=ROOT, env=wenv, stdout=log, stderr=subprocess.STDOUT
                    )
                )
            await asyncio.sleep(5)
            print(
                f"workers={count} format={fmt}",
                json.dumps(await phase(server.url, event, auth, fmt)),
                flush=True,
            )
    finally:
        for w in workers:
            w.terminate()
            w.wait()
        server.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--format", default="html", choices=("markdown", "csv", "html"))
    base = Path(tempfile.mkdtemp(prefix="quorum-bench-jobs-"))
    backend = create_backend("postgresql", base / "data")  # runs its own event loop
    try:
        asyncio.run(main(parser.parse_args().format, base, backend))
    finally:
        drop_backend(backend)
