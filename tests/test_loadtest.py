"""``quorum loadtest`` against a real server: traffic, listeners, and a PASS verdict with
nothing lost or duplicated."""

import subprocess
import sys

import pytest

from tests.services import ROOT, Server

pytestmark = pytest.mark.slow  # a scenario of its own: real processes, seconds each


def test_loadtest_passes_against_a_healthy_server(server: Server) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "quorum.cli", "loadtest", "--url", server.url,
         "--voters", "8", "--listeners", "3", "--proposals", "4", "--duration", "3"],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    out = result.stdout
    assert result.returncode == 0, out + result.stderr
    assert "PASS" in out
    lines = {
        line.split("│")[1].strip(): line.split("│")[2].strip()
        for line in out.splitlines()
        if line.count("│") == 3
    }
    assert lines["lost"] == "0" and lines["duplicated"] == "0"
    assert lines["invariants"] == "ok"
    assert int(lines["requests"].split()[0]) > 20
