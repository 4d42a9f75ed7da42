"""Where a server's memory and garbage-collector time per connection go: Quorum under
uvicorn, with tracemalloc if MEMPROBE_TRACEMALLOC=1.

    QUORUM_... uv run --group bench python bench/fanout/memprobe.py PORT OUT_PREFIX
    kill -USR1 PID   # before the subscribers: the baseline
    kill -USR1 PID   # once they are connected: OUT_PREFIX-N.txt

Every report gives the number of objects the cyclic garbage collector tracks and how
long one full collection of them takes (``gc.collect()``, timed). With tracemalloc,
each report after the first also lists the allocations still alive that were not alive
at the baseline, grouped by the line that made them (and, below, by traceback), with
their size divided by the number of open sockets. tracemalloc slows the server down
several times: use it for the composition, not for the figures.
"""

import gc
import os
import signal
import sys
import time
import tracemalloc
from pathlib import Path
from types import FrameType

import uvicorn

TRACE = os.environ.get("MEMPROBE_TRACEMALLOC") == "1"
if TRACE:
    tracemalloc.start(12)
PORT = int(sys.argv[1])
PREFIX = sys.argv[2]
state: dict[str, object] = {"n": 0}


def sockets() -> int:
    fds = Path("/proc/self/fd")
    count = 0
    for fd in fds.iterdir():
        try:
            count += os.readlink(fd).startswith("socket:")
        except OSError:
            pass
    return count


def gc_report() -> list[str]:
    tracked = len(gc.get_objects())
    started = time.perf_counter()
    found = gc.collect()
    took = time.perf_counter() - started
    return [
        f"sockets: {sockets()}",
        f"gc tracked objects: {tracked}",
        f"gc full collection: {took * 1000:.0f} ms ({found} unreachable found)",
        f"gc counts: {gc.get_count()} thresholds: {gc.get_threshold()}",
    ]


def report(_sig: int, _frame: FrameType | None) -> None:
    n = int(state["n"])  # type: ignore[call-overload]
    state["n"] = n + 1
    lines = gc_report()
    if not TRACE:
        Path(f"{PREFIX}-{n}.txt").write_text("\n".join(lines) + "\n")
        return
    snapshot = tracemalloc.take_snapshot().filter_traces(
        [tracemalloc.Filter(False, tracemalloc.__file__)]
    )
    if n == 0:
        state["base"] = snapshot
        state["base_sockets"] = sockets()
        Path(f"{PREFIX}-{n}.txt").write_text("\n".join(lines) + "\n")
        return
    base: tracemalloc.Snapshot = state["base"]  # type: ignore[assignment]
    conns = max(1, sockets() - int(state["base_sockets"]))  # type: ignore[call-overload]
    lines.append(f"connections: {conns}")
    for key, depth in (("lineno", 40), ("traceback", 25)):
        diff = snapshot.compare_to(base, key)
        total = sum(d.size_diff for d in diff)
        lines.append(f"\n== by {key}: {total / conns:.0f} B per connection in all")
        for d in diff[:depth]:
            lines.append(f"{d.size_diff / conns:8.0f} B/conn {d.count_diff / conns:6.2f} obj/conn")
            frames = d.traceback.format()[-12:] if key == "traceback" else d.traceback.format()[-2:]
            lines += ["        " + f.strip() for f in frames if f.strip()]
    Path(f"{PREFIX}-{n}.txt").write_text("\n".join(lines) + "\n")


signal.signal(signal.SIGUSR1, report)
uvicorn.run(
    "quorum.app:create_app",
    factory=True,
    host="127.0.0.1",
    port=PORT,
    loop="uvloop",
    http="httptools",
    access_log=False,
)
