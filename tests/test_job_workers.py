"""Jobs through Redis and ``quorum worker`` processes, on PostgreSQL: a worker killed
mid-job, Redis away when a report is asked for, and two workers sharing fifty jobs.

Each test has its own Redis stream (``QUORUM_JOB_STREAM``), so no test's worker takes
another's jobs. Redis is cut through a TCP proxy (tests/proxy.py), never stopped.
"""

import asyncio
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.api import Api
from tests.jobs import Decided, decided_event, request_report, result, wait_job
from tests.proxy import TcpProxy
from tests.services import (
    FAST_ARGON2,
    REDIS_HOST,
    REDIS_PORT,
    REDIS_URL,
    ROOT,
    SECRET,
    Backend,
    Server,
    start_server,
)

pytestmark = pytest.mark.slow
FAST_JOBS = {
    "QUORUM_JOB_REDELIVER_SECONDS": "2",
    "QUORUM_JOB_RESEND_SECONDS": "2",
    "QUORUM_JOB_SWEEP_SECONDS": "0.5",
}


@contextmanager
def worker(
    backend: Backend, log_dir: Path, env: dict[str, str], concurrency: int = 2
) -> Iterator[subprocess.Popen[bytes]]:
    """A ``quorum worker`` process, once it has said it started."""
    log_path = log_dir / f"worker-{uuid.uuid4().hex[:6]}.log"
    full_env = {**os.environ, "QUORUM_DATABASE_URL": backend.url, "QUORUM_SECRET_KEY": SECRET,
                "QUORUM_DATA_DIR": str(backend.data_dir), **FAST_ARGON2, **env}  # fmt: skip
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(
            [sys.executable, "-m", "quorum.cli", "worker", "--concurrency", str(concurrency)],
            cwd=ROOT, env=full_env, stdout=log_file, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while b"worker_started" not in log_path.read_bytes():
            assert process.poll() is None, log_path.read_text()
            assert time.monotonic() < deadline, log_path.read_text()
            time.sleep(0.1)
        yield process
    finally:
        if process.poll() is None:
            process.terminate()
            process.wait(timeout=10)


@contextmanager
def server(backend: Backend, log_dir: Path, env: dict[str, str]) -> Iterator[Server]:
    started = start_server(backend, log_dir, **env)
    try:
        yield started
    finally:
        started.stop()


SLOW_REPORT = {"QUORUM_JOB_STEP_DELAY_SECONDS": "0.4", "QUORUM_REPORT_PAGE_SIZE": "1"}


def job_env(redis_url: str = REDIS_URL, **extra: str) -> dict[str, str]:
    return {"QUORUM_REDIS_URL": redis_url, "QUORUM_JOB_STREAM": f"test:{uuid.uuid4().hex}",
            **FAST_JOBS, **extra}  # fmt: skip


async def completions(api: Api, user: Any, event: str) -> list[str]:
    return [e["data"]["id"] for e in await api.log(user, event) if e["type"] == "job.completed"]


async def report_mid_run(client: httpx.AsyncClient) -> tuple[Decided, dict[str, Any]]:
    """An event of eight proposals and a report of it, once the report has done a page of
    its work (0.4 s a page with SLOW_REPORT: about three seconds in all): it is running."""
    d = await decided_event(Api(client))
    for i in range(5):
        await Api(client).proposal(d.member, d.event, title=f"More {i}")
    job = await request_report(client, d.owner, d.event)
    url = f"/api/v1/jobs/{job['id']}"
    state: dict[str, Any] = (await client.get(url, headers=d.owner.auth)).json()
    while state["percent"] == 0:
        await asyncio.sleep(0.05)
        state = (await client.get(url, headers=d.owner.auth)).json()
    return d, state


@pytest.mark.parametrize(
    ("stop", "drain_seconds", "exit_code"),
    [(signal.SIGKILL, "30", -signal.SIGKILL), (signal.SIGTERM, "0.2", 0)],
    ids=["killed", "drain-ran-out"],
)
async def test_a_job_its_worker_abandoned_is_run_again_elsewhere_once(
    pg_with_redis: Backend, tmp_path: Path, stop: signal.Signals, drain_seconds: str, exit_code: int
) -> None:
    """A worker killed mid-job, or terminated with a job that outlasts
    QUORUM_JOB_DRAIN_SECONDS, leaves it unacknowledged: another worker runs it again,
    and it finishes once."""
    env = job_env(**SLOW_REPORT)
    with (
        server(pg_with_redis, tmp_path, env) as srv,
        worker(
            pg_with_redis, tmp_path, {**env, "QUORUM_JOB_DRAIN_SECONDS": drain_seconds}
        ) as leaving,
    ):
        async with httpx.AsyncClient(base_url=srv.url, timeout=30) as client:
            api = Api(client)
            d, job = await report_mid_run(client)
            assert job["state"] == "running" and job["attempts"] == 1
            leaving.send_signal(stop)
            assert await asyncio.to_thread(leaving.wait, 10) == exit_code
            url = f"/api/v1/jobs/{job['id']}"
            assert (await client.get(url, headers=d.owner.auth)).json()["state"] == "running"
            with worker(pg_with_redis, tmp_path, env):
                done = await wait_job(client, d.owner, job["id"])
            assert (done["state"], done["attempts"]) == ("done", 2)
            assert await completions(api, d.owner, d.event) == [job["id"]]  # once
            assert "# An event" in (await result(client, d.owner, job["id"])).text


async def test_a_terminated_worker_finishes_its_job_before_it_exits(
    pg_with_redis: Backend, tmp_path: Path
) -> None:
    """SIGTERM drains: the running job ends in this worker (one attempt), then it exits 0."""
    env = job_env(**SLOW_REPORT)
    with (
        server(pg_with_redis, tmp_path, env) as srv,
        worker(pg_with_redis, tmp_path, env) as leaving,
    ):
        async with httpx.AsyncClient(base_url=srv.url, timeout=30) as client:
            api = Api(client)
            d, job = await report_mid_run(client)
            url = f"/api/v1/jobs/{job['id']}"
            leaving.send_signal(signal.SIGTERM)
            assert await asyncio.to_thread(leaving.wait, 30) == 0
            state = (await client.get(url, headers=d.owner.auth)).json()
            assert (state["state"], state["attempts"]) == ("done", 1)
            assert await completions(api, d.owner, d.event) == [job["id"]]


async def test_a_report_asked_for_while_redis_is_away_runs_when_it_is_back(
    pg_with_redis: Backend, tmp_path: Path
) -> None:
    proxy = TcpProxy(REDIS_HOST, REDIS_PORT)
    proxy.up()
    env = job_env(f"redis://127.0.0.1:{proxy.port}/0")
    try:
        with server(pg_with_redis, tmp_path, env) as srv, worker(pg_with_redis, tmp_path, env):
            async with httpx.AsyncClient(base_url=srv.url, timeout=30) as client:
                api = Api(client)
                d = await decided_event(api)
                proxy.down()
                job = await request_report(client, d.owner, d.event)  # 202 all the same
                await asyncio.sleep(3)  # longer than a resend: the sweeper tried, and failed
                r = await client.get(f"/api/v1/jobs/{job['id']}", headers=d.owner.auth)
                assert r.json()["state"] == "queued"
                proxy.up()
                done = await wait_job(client, d.owner, job["id"])
                assert (done["state"], done["attempts"]) == ("done", 1)
                assert await completions(api, d.owner, d.event) == [job["id"]]
    finally:
        proxy.close()
    assert "job_send_failed" in srv.log()


async def test_two_workers_do_fifty_jobs_each_exactly_once(
    pg_with_redis: Backend, tmp_path: Path
) -> None:
    env = job_env()
    with (
        server(pg_with_redis, tmp_path, env) as srv,
        worker(pg_with_redis, tmp_path, env, concurrency=4),
        worker(pg_with_redis, tmp_path, env, concurrency=4),
    ):
        async with httpx.AsyncClient(base_url=srv.url, timeout=30) as client:
            api = Api(client)
            d = await decided_event(api)
            jobs = await asyncio.gather(
                *(request_report(client, d.owner, d.event, "csv") for _ in range(50))
            )
            finished = [await wait_job(client, d.owner, job["id"]) for job in jobs]
            assert {(j["state"], j["attempts"]) for j in finished} == {("done", 1)}
            done = await completions(api, d.owner, d.event)
            assert sorted(done) == sorted(job["id"] for job in jobs)  # each exactly once
    assert all("Executing task" in text for text in worker_logs(tmp_path)), "one did nothing"


def worker_logs(log_dir: Path) -> list[str]:
    return [p.read_text() for p in log_dir.glob("worker-*.log")]
