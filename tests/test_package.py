"""The wheel is what gets deployed (deploy/Dockerfile installs it, so would pipx): built
from this tree and installed into a fresh virtualenv with the locked versions, it
migrates and serves from an empty directory, far from the repository and its
alembic.ini, on the embedded default (SQLite in QUORUM_DATA_DIR)."""

import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from alembic.script import ScriptDirectory

from quorum import migrate
from tests.services import FAST_ARGON2, ROOT, free_port

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]


@dataclass
class Installed:
    wheel: Path
    venv: Path

    def bin(self, name: str) -> Path:
        return self.venv / "bin" / name


def run(*command: str | Path, cwd: Path, env: dict[str, str] | None = None) -> str:
    result = subprocess.run(
        [str(part) for part in command], cwd=cwd, env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, f"{command}:\n{result.stdout}{result.stderr}"
    return result.stdout


def uv() -> str:
    """The uv running this suite (``uv run`` says which), else the one on PATH."""
    found = os.environ.get("UV") or shutil.which("uv")
    if found is None:
        pytest.fail("uv is needed to build the wheel (python -m pip install uv)")
    return found


def clean_env(**extra: str) -> dict[str, str]:
    """This environment without any Quorum setting nor a virtualenv or path of ours."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("QUORUM_")
        and key not in {"VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME", "UV_PROJECT_ENVIRONMENT"}
    }
    return {**env, **extra}


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    work = tmp_path_factory.mktemp("package")
    dist, venv = work / "dist", work / "venv"
    run(uv(), "build", "--wheel", "--out-dir", dist, ROOT, cwd=ROOT)
    (wheel,) = dist.glob("quorum-*.whl")
    # As deploy/Dockerfile does: the locked versions of the runtime dependencies.
    constraints = work / "constraints.txt"
    run(uv(), "export", "--locked", "--no-dev", "--no-hashes", "--no-emit-project",
        "--output-file", constraints, cwd=ROOT)  # fmt: skip
    run(sys.executable, "-m", "venv", "--without-pip", venv, cwd=work, env=clean_env())
    run(uv(), "pip", "install", "--python", venv / "bin" / "python", "--constraint", constraints,
        wheel, cwd=work, env=clean_env())  # fmt: skip
    return Installed(wheel, venv)


def test_the_wheel_carries_the_migrations(installed: Installed) -> None:
    with zipfile.ZipFile(installed.wheel) as wheel:
        names = set(wheel.namelist())
    expected = {
        f"quorum/migrations/{Path(path).relative_to(ROOT / 'quorum' / 'migrations').as_posix()}"
        for path in (ROOT / "quorum" / "migrations").rglob("*")
        if path.is_file() and "__pycache__" not in path.parts
    }
    assert "quorum/migrations/env.py" in expected
    assert "quorum/migrations/script.py.mako" in expected
    assert any(name.startswith("quorum/migrations/versions/") for name in expected)
    assert expected <= names, sorted(expected - names)
    assert not any(name.endswith("alembic.ini") for name in names)


@pytest.fixture
def empty_dir(tmp_path: Path) -> Path:
    where = tmp_path / "anywhere"
    where.mkdir()
    return where


@pytest.fixture
def served(installed: Installed, empty_dir: Path) -> Iterator[tuple[str, Path]]:
    """``quorum migrate``, then ``quorum serve``, both the installed commands, run in an
    empty directory that is also the data directory."""
    env = clean_env(QUORUM_DATA_DIR=str(empty_dir), QUORUM_LOG_FORMAT="json", **FAST_ARGON2)
    where = run(installed.bin("python"), "-c", "import quorum; print(quorum.__file__)",
                cwd=empty_dir, env=env)  # fmt: skip
    assert Path(where.strip()).is_relative_to(installed.venv), where  # not this checkout

    out = run(installed.bin("quorum"), "migrate", cwd=empty_dir, env=env)
    assert "upgraded to head" in out, out
    head = ScriptDirectory.from_config(migrate.config("sqlite://")).get_current_head()
    with sqlite3.connect(empty_dir / "quorum.db") as db:
        assert db.execute("SELECT version_num FROM alembic_version").fetchall() == [(head,)]

    port = free_port()
    log_path = empty_dir.parent / "serve.log"
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(
            [installed.bin("quorum"), "serve", "--port", str(port)],
            cwd=empty_dir, env=env, stdout=log_file, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        yield f"http://127.0.0.1:{port}", log_path
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    # uvicorn re-raises SIGTERM once it has shut down cleanly: "killed by SIGTERM" is its exit.
    assert process.returncode in (0, -signal.SIGTERM), log_path.read_text(errors="replace")


def wait_ready(url: str, log_path: Path) -> None:
    deadline = time.monotonic() + 30
    while True:
        try:
            if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, log_path.read_text(errors="replace")
        time.sleep(0.2)


def test_installed_wheel_migrates_and_serves_from_an_empty_directory(
    served: tuple[str, Path], empty_dir: Path
) -> None:
    url, log_path = served
    wait_ready(url, log_path)
    with httpx.Client(base_url=url, timeout=30) as client:
        account = {"email": "ada@example.com", "password": "correct horse", "display_name": "Ada"}
        r = client.post("/api/v1/auth/register", json=account)
        assert r.status_code == 201, r.text
        r = client.post(
            "/api/v1/auth/token", data={"username": account["email"], "password": "correct horse"}
        )
        assert r.status_code == 200, r.text
        auth = {"Authorization": f"Bearer {r.json()['access_token']}"}
        r = client.post("/api/v1/events", json={"title": "Offsite"}, headers=auth)
        assert r.status_code == 201, r.text
        # The page and its modules come from the installed package's data.
        assert '<script type="module" src="/static/js/main.js">' in client.get("/").text
        r = client.get("/static/vendor/htm-preact-standalone.js")
        assert r.status_code == 200 and "export{" in r.text, r.status_code
    # The data directory holds the database, the generated key and the blob store's root.
    assert sorted(p.name for p in empty_dir.iterdir() if not p.name.startswith("quorum.db")) == [
        "blobs",
        "secret_key",
    ]
    assert "unhandled_error" not in log_path.read_text(errors="replace")
