"""Print one JSON line of CPU counters, so the runner can tell who used the 2 cores.

    python bench/votes/cpu.py SERVER_PID

Gives the server process's CPU seconds (all its threads), the sum over every PostgreSQL
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


def process_cpu(pid: str) -> tuple[str, float]:
    """(command name, user + system seconds) of one process; ("", 0) if it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return "", 0.0
    name = stat[stat.index("(") + 1 : stat.rindex(")")]
    fields = stat[stat.rindex(")") + 2 :].split()
    return name, (int(fields[11]) + int(fields[12])) / TICK  # utime, stime


def main() -> None:
    server_pid = sys.argv[1] if len(sys.argv) > 1 else None
    postgres = 0.0
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            name, seconds = process_cpu(entry.name)
            if name == "postgres":
                postgres += seconds
    cpu = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    ticks = [int(x) for x in cpu]
    idle = ticks[3] + ticks[4]  # idle + iowait
    print(
        json.dumps(
            {
                "t": time.monotonic(),
                "server": process_cpu(server_pid)[1] if server_pid else None,
                "postgres": round(postgres, 2),
                "machine_busy": (sum(ticks) - idle) / TICK,
                "machine_total": sum(ticks) / TICK,
            }
        )
    )


if __name__ == "__main__":
    main()
