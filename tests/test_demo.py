"""``quorum demo``: run twice, it shows one event; the printed commands use ``--url``."""

import os
import subprocess
import sys

import httpx
import pytest

from tests.services import FAST_ARGON2, ROOT, SECRET, Backend, Server

pytestmark = pytest.mark.slow  # a scenario of its own: real processes, seconds each


def _demo(backend: Backend, *args: str) -> str:
    env = {
        **os.environ,
        **FAST_ARGON2,
        "QUORUM_DATABASE_URL": backend.url,
        "QUORUM_DATA_DIR": str(backend.data_dir),
        "QUORUM_SECRET_KEY": SECRET,
    }
    done = subprocess.run(
        [sys.executable, "-m", "quorum.cli", "demo", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def _event_id(output: str) -> str:
    line = next(line for line in output.splitlines() if line.startswith("Demo event"))
    return line.split()[-1]


async def test_demo_twice_reuses_its_users_and_event(backend: Backend, server: Server) -> None:
    first = _demo(backend, "--url", "http://quorum.test:9000/")
    second = _demo(backend, "--url", "http://quorum.test:9000")

    assert _event_id(first) == _event_id(second)
    assert "curl -s -X POST http://quorum.test:9000/api/v1/auth/token" in second
    assert f"Open the board: http://quorum.test:9000/#/events/{_event_id(first)}" in second
    assert "localhost:8000" not in first + second
    async with httpx.AsyncClient(base_url=server.url) as client:
        token = await client.post(
            "/api/v1/auth/token",
            data={"username": "alice@demo.quorum", "password": "quorum-demo"},
        )
        assert token.status_code == 200, token.text
        auth = {"Authorization": f"Bearer {token.json()['access_token']}"}
        events = (await client.get("/api/v1/events", headers=auth)).json()["items"]
        proposals = await client.get(f"/api/v1/events/{_event_id(first)}/proposals", headers=auth)
    assert [e["id"] for e in events] == [_event_id(first)]
    assert len(proposals.json()["items"]) == 3
