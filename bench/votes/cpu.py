"""Print one JSON line of CPU counters, so the runner can tell who used the 2 cores.

    python bench/votes/cpu.py SERVER_PID

Gives the server's CPU seconds: the process (all its threads) and every process under it,
so a server with worker processes (``uvicorn --workers 2``: a supervisor and its workers)
counts whole; the sum over every PostgreSQL
process (backends and background workers; a backend that exits between two snapshots
drops out of the sum, which pooled connections do not), and the machine's busy and
total CPU seconds from /proc/stat. summarize.py subtracts a "before" from an "after".
"""

import json
import os
import sys
import time
from pathlib import Path

TICK = os.sysconf("SC_CLK_TCK")


def process_cpu(pid: str) -> tuple[str, str, float]:
    """(command name, parent pid, user + system seconds) of one process; ("", "", 0) if it
    is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return "", "", 0.0
    name = stat[stat.index("(") + 1 : stat.rindex(")")]
    fields = stat[stat.rindex(")") + 2 :].split()
    return name, fields[1], (int(fields[11]) + int(fields[12])) / TICK  # ppid, utime, stime


def tree_cpu(root: str, procs: dict[str, tuple[str, str, float]]) -> float:
    """CPU seconds of ``root`` and every process under it."""
    children: dict[str, list[str]] = {}
    for pid, (_name, ppid, _s) in procs.items():
        children.setdefault(ppid, []).append(pid)
    total, todo = 0.0, [root]
    while todo:
        pid = todo.pop()
        total += procs.get(pid, ("", "", 0.0))[2]
        todo += children.get(pid, [])
    return total


def main() -> None:
    server_pid = sys.argv[1] if len(sys.argv) > 1 else None
    procs = {e.name: process_cpu(e.name) for e in Path("/proc").iterdir() if e.name.isdigit()}
    postgres = sum(seconds for name, _ppid, seconds in procs.values() if name == "postgres")
    cpu = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    ticks = [int(x) for x in cpu]
    idle = ticks[3] + ticks[4]  # idle + iowait
    print(
        json.dumps(
            {
                "t": time.monotonic(),
                "server": tree_cpu(server_pid, procs) if server_pid else None,
                "postgres": round(postgres, 2),
                "machine_busy": (sum(ticks) - idle) / TICK,
                "machine_total": sum(ticks) / TICK,
            }
        )
    )


if __name__ == "__main__":
    main()
