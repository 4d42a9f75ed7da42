"""The real services the suite runs against: a fresh database per backend, migrated
with ``quorum migrate`` (Alembic's ``upgrade head``), and real ``uvicorn`` server
processes on 127.0.0.1.

Under ``CI=true`` an unreachable PostgreSQL fails the run; on a laptop without it the
PostgreSQL half of the suite is skipped with the reason.
"""

import asyncio
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
import httpx
import pytest

ROOT = Path(__file__).resolve().parents[1]
PG_HOST = os.environ.get("QUORUM_TEST_PG_HOST", "127.0.0.1")
PG_PORT = int(os.environ.get("QUORUM_TEST_PG_PORT", "5432"))
PG_ADMIN_DSN = f"postgresql://postgres@{PG_HOST}:{PG_PORT}/test"
SECRET = "test-secret-key-" + "k" * 32
# Cheap hashing: the suite registers hundreds of users; production keeps the defaults.
FAST_ARGON2 = {
    "QUORUM_ARGON2_TIME_COST": "1",
    "QUORUM_ARGON2_MEMORY_COST_KIB": "1024",
    "QUORUM_ARGON2_PARALLELISM": "1",
}


# Generous: on a loaded 2-core machine importing the app alone can take many seconds.
START_TIMEOUT = 90

REDIS_HOST = "127.0.0.1"
REDIS_PORT = int(os.environ.get("QUORUM_TEST_REDIS_PORT", "6379"))
REDIS_URL = f"redis://{REDIS_HOST}:{REDIS_PORT}/0"


def redis_reachable() -> None:
    """Skip (or under CI=true fail) unless Redis answers PING."""
    try:
        with socket.create_connection((REDIS_HOST, REDIS_PORT), timeout=2) as s:
            s.sendall(b"PING\r\n")
            if not s.recv(16).startswith(b"+PONG"):
                raise OSError("no PONG")
    except OSError as exc:
        service_unreachable(f"Redis at {REDIS_HOST}:{REDIS_PORT}", repr(exc))


def service_unreachable(what: str, reason: str) -> None:
    message = f"{what} is not reachable: {reason}"
    if os.environ.get("CI") == "true":
        pytest.fail(f"{message} (CI=true requires it)")
    pytest.skip(message)


@dataclass
class Backend:
    name: str
    url: str
    data_dir: Path
    pg_database: str | None = None

    def migrate(self, revision: str = "head") -> None:
        """``quorum migrate`` (Alembic's ``upgrade``, configured by the package itself), run
        from the data directory rather than the repository: no alembic.ini within reach."""
        env = {
            **os.environ,
            "QUORUM_DATABASE_URL": self.url,
            "QUORUM_DATA_DIR": str(self.data_dir),
            "QUORUM_SECRET_KEY": SECRET,
        }
        self.data_dir.mkdir(parents=True, exist_ok=True)
        result = subprocess.run(
            [sys.executable, "-m", "quorum.cli", "migrate", revision],
            cwd=self.data_dir, env=env, capture_output=True, text=True,
        )  # fmt: skip
        if result.returncode != 0:
            raise RuntimeError(f"quorum migrate {revision}:\n{result.stdout}{result.stderr}")


async def _pg_admin(sql: str) -> None:
    conn = await asyncpg.connect(PG_ADMIN_DSN, timeout=5)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def create_backend(name: str, data_dir: Path) -> Backend:
    if name == "sqlite":
        backend = Backend(name, f"sqlite+aiosqlite:///{data_dir / 'quorum.db'}", data_dir)
    else:
        database = f"quorum_test_{uuid.uuid4().hex[:10]}"
        try:
            asyncio.run(_pg_admin(f"CREATE DATABASE {database}"))
        except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
            service_unreachable(f"PostgreSQL at {PG_HOST}:{PG_PORT}", repr(exc))
        url = f"postgresql+asyncpg://postgres@{PG_HOST}:{PG_PORT}/{database}"
        backend = Backend(name, url, data_dir, pg_database=database)
    backend.migrate()
    return backend


def drop_backend(backend: Backend) -> None:
    if backend.pg_database:
        asyncio.run(_pg_admin(f"DROP DATABASE IF EXISTS {backend.pg_database} WITH (FORCE)"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    url: str
    process: subprocess.Popen[bytes]
    log_path: Path
    env: dict[str, str] = field(default_factory=dict)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def _proxy_flags(env: dict[str, str]) -> list[str]:
    """uvicorn's flags for ``QUORUM_FORWARDED_ALLOW_IPS``, as ``quorum serve`` sets them."""
    trusted = env.get("QUORUM_FORWARDED_ALLOW_IPS", "")
    if not trusted:
        return ["--no-proxy-headers"]
    return ["--proxy-headers", "--forwarded-allow-ips", trusted]


TRUTHY = {"1", "true", "yes", "on"}  # as pydantic reads a boolean setting


LEAN_WS = "quorum.wsprotocol:LeanWebSocketProtocol"  # quorum serve's websockets-sansio
WS_PROTOCOLS = {"websockets": "websockets"}


def _listen_flags(env: dict[str, str]) -> list[str]:
    """uvicorn's flags for the backlog and the WebSocket protocol, as ``quorum serve`` sets
    them from ``QUORUM_LISTEN_BACKLOG``, ``QUORUM_WS_IMPLEMENTATION`` and
    ``QUORUM_WS_PER_MESSAGE_DEFLATE``."""
    deflate = env.get("QUORUM_WS_PER_MESSAGE_DEFLATE", "false").lower() in TRUTHY
    return ["--backlog", env.get("QUORUM_LISTEN_BACKLOG", "4096"),
            "--ws", WS_PROTOCOLS.get(env.get("QUORUM_WS_IMPLEMENTATION", ""), LEAN_WS),
            "--ws-per-message-deflate", str(deflate).lower()]  # fmt: skip


def start_server(
    backend: Backend,
    log_dir: Path,
    *,
    cli_args: Sequence[str] = (),
    app: str = "quorum.app:create_app",
    port: int | None = None,
    **env: str,
) -> Server:
    """A server process: uvicorn on the app factory (``app``: another application's, such
    as an example's), or with ``cli_args`` the ``quorum`` command itself (``quorum serve
    ...``). ``port``: the one a restarted server takes again."""
    port = port or free_port()
    full_env = {
        **os.environ,
        "QUORUM_DATABASE_URL": backend.url,
        "QUORUM_DATA_DIR": str(backend.data_dir),
        "QUORUM_SECRET_KEY": SECRET,
        **FAST_ARGON2,
        # The suite registers hundreds of users from 127.0.0.1; tests of the limit set it.
        "QUORUM_AUTH_RATE_LIMIT": "off",
        **env,
    }
    log_path = log_dir / f"server-{port}.log"
    with log_path.open("wb") as log_file:
        # A keep-alive longer than the clients' (httpx: 5 s), so that a client never reuses a
        # connection at the very moment the server closes it as idle.
        # The same HTTP protocol and proxy policy as ``quorum serve`` (quorum/cli.py).
        uvicorn = [sys.executable, "-m", "uvicorn", app, "--factory",
                   "--host", "127.0.0.1", "--port", str(port), "--no-access-log",
                   "--http", "quorum.headerlimit:HeaderLimitProtocol",
                   "--timeout-keep-alive", "30", *_proxy_flags(full_env),
                   *_listen_flags(full_env)]  # fmt: skip
        cli = [
            sys.executable,
            "-m",
            "quorum.cli",
            *cli_args,
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ]
        process = subprocess.Popen(
            cli if cli_args else uvicorn,
            cwd=ROOT, env=full_env, stdout=log_file, stderr=subprocess.STDOUT,
        )  # fmt: skip
    server = Server(f"http://127.0.0.1:{port}", process, log_path, env)
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited at start:\n{server.log()}")
        try:
            if httpx.get(f"{server.url}/healthz", timeout=1).status_code == 200:
                return server
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    server.stop()
    raise RuntimeError(f"server did not start in {START_TIMEOUT} s:\n{server.log()}")
