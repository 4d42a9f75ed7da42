"""bench/cluster.sh, the scale-out recipe on one machine, really brings up two instances
that share PostgreSQL and Redis, and stops them on SIGTERM."""

import asyncio
import os
import signal
import subprocess
import uuid
from pathlib import Path

import httpx
import pytest

from tests.api import Api
from tests.services import REDIS_URL, ROOT, SECRET, free_port, redis_reachable
from tests.sse import events

pytestmark = pytest.mark.slow  # a scenario of its own: real processes, seconds each


def test_cluster_script_runs_two_connected_instances(tmp_path: Path) -> None:
    redis_reachable()
    ports = [free_port(), free_port()]
    database = f"quorum_cluster_{uuid.uuid4().hex[:8]}"
    env = {
        **os.environ,
        "PORTS": " ".join(map(str, ports)),
        "DB": database,
        "REDIS_URL": REDIS_URL,
        "QUORUM_SECRET_KEY": SECRET,
        "QUORUM_AUTH_RATE_LIMIT": "off",
    }
    log_path = tmp_path / "cluster.log"
    with log_path.open("wb") as log:
        script = subprocess.Popen(
            ["bash", "bench/cluster.sh"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        asyncio.run(_vote_on_one_seen_on_the_other(script, ports))
    finally:
        script.send_signal(signal.SIGTERM)
        exit_code = script.wait(timeout=30)
        drop = f"DROP DATABASE IF EXISTS {database} WITH (FORCE)"
        subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-qc", drop], check=False)
    assert exit_code in (0, 143), log_path.read_text()
    for port in ports:  # both instances are gone
        try:
            httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
            raise AssertionError(f"instance on {port} still answers")
        except httpx.TransportError:
            pass


async def _vote_on_one_seen_on_the_other(script: subprocess.Popen[bytes], ports: list[int]) -> None:
    for port in ports:
        await _wait_ready(f"http://127.0.0.1:{port}", script)
    async with (
        httpx.AsyncClient(base_url=f"http://127.0.0.1:{ports[0]}", timeout=30) as a,
        httpx.AsyncClient(base_url=f"http://127.0.0.1:{ports[1]}", timeout=30) as b,
    ):
        api_a, api_b = Api(a), Api(b)
        owner = await api_a.user("owner")
        event = await api_a.event(owner)
        proposal = await api_a.proposal(owner, event)
        async with a.stream("GET", f"/api/v1/events/{event}/stream", headers=owner.auth) as r:
            stream = events(r)
            assert (await anext(stream)).event == "snapshot"
            vote = await b.post(api_b.vote_url(event, proposal), headers=owner.auth)
            assert vote.status_code == 201
            assert (await asyncio.wait_for(anext(stream), 5)).event == "vote.cast"


async def _wait_ready(url: str, script: subprocess.Popen[bytes]) -> None:
    async with httpx.AsyncClient(timeout=2) as client:
        for _ in range(300):
            assert script.poll() is None, "cluster.sh exited early"
            try:
                if (await client.get(f"{url}/readyz")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.2)
    raise AssertionError(f"{url} never became ready")
