"""The README's curl walkthrough, run as it stands against a real server: a new user who
copies it gets an event with a deadline, a member who joined through an invitation
link, an accepted proposal, a close with its outcome, and a stream that shows every
step."""

import re
import subprocess
from pathlib import Path

from tests.services import ROOT, Server

BLOCK = re.compile(r"<!-- walkthrough -->\n```sh\n(.*?)```\n<!-- /walkthrough -->", re.S)


def test_the_readme_walkthrough_runs_as_written(server: Server, tmp_path: Path) -> None:
    script = BLOCK.search((ROOT / "README.md").read_text()).group(1)  # type: ignore[union-attr]
    script = script.replace("http://localhost:8000", server.url)
    # The stream runs in the background as the README shows, into a file here, so that the
    # script can wait for what it stands for: the snapshot before the first change, the
    # last change before the end.
    background = 'curl -sN $Q/events/$EVENT/stream -H "Authorization: Bearer $ADA" &'
    assert background in script
    # The file exists before the wait looks for it: the background job may start later.
    into_file = ": > stream.txt\n" + background.replace(" &", " > stream.txt &")
    script = script.replace(background, into_file + "\n" + _wait_for("snapshot"))
    script += _wait_for("event.updated") + "\nkill %1; wait; cat stream.txt\n"

    done = subprocess.run(
        ["bash", "-c", script], capture_output=True, text=True, timeout=120, cwd=tmp_path
    )

    out = done.stdout
    assert done.stderr == "", done.stderr
    assert '"organizer":{"id":' in out and '"display_name":"Ada"' in out, out  # the preview
    assert '"status":"APPROVED"' in out, out  # Bob joined through the link
    assert '"status":"ACCEPTED"' in out and '"decided_by":{"kind":"auto"}' in out, out
    assert '"closes_at":"' in out, out
    assert '"status":"CLOSED"' in out and '"outcome":"Lisbon, in May."' in out, out
    stream = re.findall(r"^event: (\S+)$", out, re.M)
    assert stream == [
        "snapshot",
        "membership.joined",
        "proposal.created",
        "vote.cast",
        "vote.cast",
        "proposal.updated",
        "comment.created",
        "event.updated",
    ], out


def _wait_for(event: str) -> str:
    return (
        f"timeout 30 bash -c 'until grep -q \"^event: {event}$\" stream.txt; do sleep 0.05; done'"
    )
