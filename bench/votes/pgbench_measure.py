"""Run one pgbench phase of bench/votes/statement.sh and account for its CPU; or print
the table of all phases.

    python bench/votes/pgbench_measure.py run OUT LABEL DATABASE SCRIPT CLIENTS SECONDS VOTES
    python bench/votes/pgbench_measure.py run --lookup OUT LABEL ...  # writes nothing
    python bench/votes/pgbench_measure.py table OUT

``run`` appends one JSON line to OUT/rows.jsonl and keeps pgbench's output in OUT. It
fails (exit 1) unless the phase ran cleanly: pgbench exited 0, no failed transaction, no
error or aborted client in its output, and the ``votes`` table grew by at least 95 % of
the votes sent (transactions x VOTES; a statement that quietly wrote nothing, say on an
expired login session, would look fast). A ``--lookup`` script (a Quorum script's first
line alone) must write nothing; its costs are per vote it would look up, to subtract.

The database's CPU is PostgreSQL's, read from /proc: every postmaster with its reaped
children (``cutime``, ``cstime``: the backends of the phase exit before its last reading)
and its live ones, so WAL writing, checkpoints and autovacuum count too. Other databases'
processes (other benchmarks and tests on the same server) are read every 100 ms during the
phase and their CPU is subtracted; what no reading saw (a process's last 100 ms before
it exited, a connection shorter than that) stays in, and is given as ``unseen_cpu_s``.
pgbench's own CPU is its rusage; "rest" is the machine's busy CPU
(/proc/stat) that is neither PostgreSQL nor pgbench, in % of one core: how busy the
machine was with something else.
"""

import argparse
import asyncio
import json
import os
import re
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, NamedTuple

import asyncpg

PG = os.environ.get("BENCH_PG", "postgresql://postgres@127.0.0.1:5432")
PGBENCH = os.environ.get("PGBENCH", "pgbench")
TICK = os.sysconf("SC_CLK_TCK")
WRITTEN = 0.95  # of the votes sent, at least (a few may repeat an earlier vote)


class Snapshot(NamedTuple):
    postgres: float  # CPU seconds of every PostgreSQL process, reaped ones included
    postmaster: float  # CPU seconds of the postmasters themselves
    children: dict[str, float]  # pid -> CPU seconds, each live process under a postmaster
    others: set[str]  # the pids of those that serve other databases
    busy: float  # the machine's busy CPU seconds
    at: float


def _stat(pid: str) -> tuple[str, str, list[int]] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2 :].split()
    return text[text.index("(") + 1 : text.rindex(")")], fields[1], [int(x) for x in fields[11:15]]


def _database_of(pid: str) -> str | None:
    """The database a process serves, from its title: a client backend's ("postgres:
    15/main: USER DB HOST(PORT) ...") or an autovacuum worker's; None for the others."""
    try:
        title = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
    except OSError:
        return None
    words = title.replace("\0", " ").split(": ", 2)[-1].split()
    if words[:2] == ["autovacuum", "worker"] and len(words) >= 3:
        return words[2]
    is_client = len(words) >= 3 and ("(" in words[2] or words[2] == "[local]")
    return words[1] if is_client else None


def snapshot(database: str) -> Snapshot:
    procs = {p.name: _stat(p.name) for p in Path("/proc").iterdir() if p.name.isdigit()}
    pg = {pid: s for pid, s in procs.items() if s is not None and s[0] == "postgres"}
    postmaster, reaped, children, others = 0.0, 0.0, {}, set()
    for pid, (_name, ppid, (utime, stime, cutime, cstime)) in pg.items():
        if ppid not in pg:  # a postmaster: its own CPU and its exited children's
            postmaster += (utime + stime) / TICK
            reaped += (cutime + cstime) / TICK
            continue
        children[pid] = (utime + stime) / TICK
        serves = _database_of(pid)
        if serves is not None and serves != database:
            others.add(pid)
    ticks = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    busy = (sum(ticks) - ticks[3] - ticks[4]) / TICK  # all but idle and iowait
    total = postmaster + reaped + sum(children.values())
    return Snapshot(total, postmaster, children, others, busy, time.monotonic())


def seen(readings: list[Snapshot], others: bool) -> float:
    """CPU seconds that the processes under the postmasters (other databases' ones, or
    all) were seen to use from the first reading to the last: each from its first reading
    (0 if it started later) to its last one."""
    last: dict[str, float] = {}
    for reading in readings:
        last.update(
            (p, c) for p, c in reading.children.items() if not others or p in reading.others
        )
    return sum(cpu - readings[0].children.get(pid, 0.0) for pid, cpu in last.items())


async def _sql(database: str, *commands: str) -> list[Any]:
    conn = await asyncpg.connect(f"{PG}/{database}")
    try:
        return [await conn.fetchval(c) for c in commands]
    finally:
        await conn.close()


def _number(pattern: str, text: str) -> float:
    found = re.search(pattern, text)
    if found is None:
        raise SystemExit(f"pgbench printed no {pattern!r}")
    return float(found.group(1))


def run(
    out: Path,
    label: str,
    database: str,
    script: str,
    clients: int,
    seconds: int,
    votes: int,
    lookup: bool,
) -> None:
    name = f"{Path(script).stem}-c{clients}"
    command = [PGBENCH, "-h", "127.0.0.1", "-U", "postgres", "-n", "-M", "prepared"]
    command += ["-c", str(clients), "-j", str(min(clients, 2)), "-T", str(seconds), "-f", script]
    (before_votes,) = asyncio.run(_sql(database, "CHECKPOINT", "SELECT count(*) FROM votes"))[1:]
    child = resource.getrusage(resource.RUSAGE_CHILDREN)
    log = out / f"{name}.txt"
    with log.open("w") as output_file:
        readings = [snapshot(database)]
        pgbench = subprocess.Popen([*command, database], stdout=output_file, stderr=output_file)
        while pgbench.poll() is None:
            time.sleep(0.1)
            readings.append(snapshot(database))
        readings.append(snapshot(database))
    child_after = resource.getrusage(resource.RUSAGE_CHILDREN)
    (after_votes,) = asyncio.run(_sql(database, "SELECT count(*) FROM votes"))
    output = log.read_text()
    log.write_text(" ".join([*command, database]) + "\n" + output)

    processed = int(_number(r"actually processed: (\d+)", output))
    failed = int(_number(r"number of failed transactions: (\d+)", output))
    trouble = [line for line in output.splitlines() if re.search(r"error|abort", line, re.I)]
    written = after_votes - before_votes
    sent = processed * votes
    problems = [f"pgbench exited {pgbench.returncode}"] if pgbench.returncode else []
    problems += [f"{failed} failed transactions"] if failed else []
    problems += trouble[:3]
    if (written != 0) if lookup else (sent == 0 or written < WRITTEN * sent):
        problems.append(f"{written} votes written of {sent} sent")
    if problems:
        print(f"{label} ({name}): " + "; ".join(problems), file=sys.stderr)
        sys.exit(1)

    first, last = readings[0], readings[-1]
    elapsed = last.at - first.at
    others = seen(readings, others=True)
    db = last.postgres - first.postgres - others
    # What no reading saw: processes' last 100 ms before they exited, or whole short lives
    # (this phase's backends' and, unsubtracted, other databases' short connections').
    unseen = db + others - seen(readings, others=False) - (last.postmaster - first.postmaster)
    own = sum(getattr(child_after, f) - getattr(child, f) for f in ("ru_utime", "ru_stime"))
    row = {
        "label": label,
        "script": name,
        "clients": clients,
        "votes_per_tx": votes,
        "lookup": lookup,
        "transactions": processed,
        "votes_written": written,
        "tps": _number(r"tps = ([\d.]+) \(without initial", output),
        "latency_ms": _number(r"latency average = ([\d.]+) ms", output),
        "db_cpu_s": round(db, 2),
        "other_databases_cpu_s": round(others, 2),
        "unseen_cpu_s": round(unseen, 2),
        "pgbench_cpu_s": round(own, 2),
        "rest_cpu_s": round(last.busy - first.busy - db - others - own, 2),
        "elapsed_s": round(elapsed, 2),
    }
    with (out / "rows.jsonl").open("a") as rows:
        rows.write(json.dumps(row) + "\n")
    db_ms = db / sent * 1000 if sent else 0.0
    print(f"{label} c={clients}: {row['tps']:.0f} tps, {db_ms:.3f} db ms/vote", file=sys.stderr)


def table(out: Path) -> str:
    lines = [
        "| statement | clients | tps | votes/s | latency ms | db ms/vote | pgbench % | rest % |",
        "|---|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for line in (out / "rows.jsonl").read_text().splitlines():
        r = json.loads(line)
        sent = r["transactions"] * r["votes_per_tx"]
        share = 100 / r["elapsed_s"]
        votes = "–" if r["lookup"] else f"{r['tps'] * r['votes_per_tx']:,.0f}"
        lines.append(
            f"| {r['label']} | {r['clients']} | {r['tps']:,.0f} | {votes} | "
            f"{r['latency_ms']:.2f} | "
            f"{r['db_cpu_s'] / sent * 1000:.3f} | {r['pgbench_cpu_s'] * share:.0f} | "
            f"{max(r['rest_cpu_s'], 0) * share:.0f} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    one = commands.add_parser("run")
    one.add_argument("--lookup", action="store_true", help="the script writes nothing")
    one.add_argument("out", type=Path)
    for name in ("label", "database", "script"):
        one.add_argument(name)
    for name in ("clients", "seconds", "votes"):
        one.add_argument(name, type=int)
    commands.add_parser("table").add_argument("out", type=Path)
    args = parser.parse_args()
    if args.command == "table":
        print(table(args.out))
    else:
        run(**{k: v for k, v in vars(args).items() if k != "command"})


if __name__ == "__main__":
    main()
