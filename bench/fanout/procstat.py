"""What a server process holds, read from /proc: RSS, sockets, CPU time.

    python bench/fanout/procstat.py watch PID N OUT.json

``watch`` reads the process's VmRSS now (the baseline, before any subscriber), then
waits until it holds N more sockets than now and has been idle (under 10 % of a core)
for a second, and writes ``{"rss_before_kb", "rss_idle_kb", "kb_per_conn", ...}``. The
runner starts it in the background just before a client opens its N connections, for
the reference servers measured with the shared client (which cannot be told to wait).
"""

import json
import os
import sys
import time
from pathlib import Path

TICK = os.sysconf("SC_CLK_TCK")


def status_kb(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


def rss_kb(pid: int) -> int:
    return status_kb(pid, "VmRSS")


def cpu_seconds(pid: int) -> float:
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def sockets(pid: int) -> int:
    count = 0
    fd_dir = f"/proc/{pid}/fd"
    for fd in os.listdir(fd_dir):
        try:
            if os.readlink(f"{fd_dir}/{fd}").startswith("socket:"):
                count += 1
        except OSError:
            pass
    return count


def wait_idle(
    pid: int, min_sockets: int, timeout: float = 180.0, quiet: float = 1.0, busy: float = 0.1
) -> dict[str, object]:
    """Wait until ``pid`` holds at least ``min_sockets`` sockets and has used less than
    ``busy`` of a core for ``quiet`` seconds; returns what was seen."""
    started = time.monotonic()
    last_cpu, last_t = cpu_seconds(pid), time.monotonic()
    quiet_since: float | None = None
    while True:
        time.sleep(0.2)
        now = time.monotonic()
        cpu = cpu_seconds(pid)
        load = (cpu - last_cpu) / (now - last_t)
        last_cpu, last_t = cpu, now
        held = sockets(pid)
        if held >= min_sockets and load < busy:
            quiet_since = quiet_since or now
            if now - quiet_since >= quiet:
                return {"idle": True, "sockets": held, "waited_s": round(now - started, 1)}
        else:
            quiet_since = None
        if now - started > timeout:
            return {"idle": False, "sockets": held, "waited_s": round(now - started, 1)}


def watch(pid: int, n: int, out: Path) -> None:
    before = rss_kb(pid)
    base_sockets = sockets(pid)
    seen = wait_idle(pid, base_sockets + n)
    idle = rss_kb(pid)
    result = {
        "rss_before_kb": before,
        "rss_idle_kb": idle,
        "kb_per_conn": round((idle - before) / n, 2),
        **seen,
    }
    out.write_text(json.dumps(result) + "\n")


if __name__ == "__main__":
    if len(sys.argv) != 5 or sys.argv[1] != "watch":
        sys.exit(__doc__)
    watch(int(sys.argv[2]), int(sys.argv[3]), Path(sys.argv[4]))
