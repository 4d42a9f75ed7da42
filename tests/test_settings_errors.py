"""A bad setting is one line naming its environment variable, and exit status 2 — for
every ``quorum`` command, not a traceback of pydantic's internals."""

import os
import subprocess
import sys
from pathlib import Path

import pytest


def run_cli(*args: str, tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("QUORUM_")}
    return subprocess.run(
        [sys.executable, "-m", "quorum.cli", *args],
        cwd=tmp_path,  # no .env of the checkout's
        env={**clean, "QUORUM_DATA_DIR": str(tmp_path / "data"), **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize("command", [["serve"], ["migrate"], ["demo"]])
def test_two_bad_settings_are_two_lines_and_exit_2(command: list[str], tmp_path: Path) -> None:
    r = run_cli(
        *command,
        tmp_path=tmp_path,
        QUORUM_ACCESS_TOKEN_TTL_SECONDS="2",
        QUORUM_AUTH_RATE_LIMIT="lots",
    )
    output = r.stdout + r.stderr
    assert r.returncode == 2, output
    assert "Traceback" not in output, output
    assert output.count("QUORUM_ACCESS_TOKEN_TTL_SECONDS") == 1, output
    assert output.count("QUORUM_AUTH_RATE_LIMIT") == 1, output
    assert (
        "QUORUM_ACCESS_TOKEN_TTL_SECONDS: Input should be greater than or equal to 60" in output
    ), output
    assert len(output.strip().splitlines()) <= 3, output  # a heading at most, and the two
    assert not (tmp_path / "data").exists(), "nothing may be created with bad settings"


def test_model_level_errors_name_their_variable(tmp_path: Path) -> None:
    """The secret key's checks run across fields, and still name the variable."""
    r = run_cli("migrate", tmp_path=tmp_path, QUORUM_SECRET_KEY="changeme")
    output = r.stdout + r.stderr
    assert r.returncode == 2, output
    assert "Traceback" not in output, output
    assert "QUORUM_SECRET_KEY:" in output, output


def test_a_proxy_that_is_no_address_is_refused(tmp_path: Path) -> None:
    """uvicorn would take ``nginx`` for a literal host and silently trust nobody."""
    r = run_cli("migrate", tmp_path=tmp_path, QUORUM_FORWARDED_ALLOW_IPS="10.0.0.5, nginx")
    output = r.stdout + r.stderr
    assert r.returncode == 2, output
    assert "QUORUM_FORWARDED_ALLOW_IPS: not an IP address, network or '*': 'nginx'" in output
