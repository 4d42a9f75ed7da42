"""Turn one benchmark run's raw files into a Markdown table (and JSON), printed and saved.

    python bench/votes/summarize.py bench/out/votes-20261121T233000Z

Reads what run_votes.sh wrote into the directory: ``meta.env``, ``phases.txt`` (one
``PHASE SERVER SCENARIO CHECK`` line per measured phase), and for each phase the wrk
output with its ``BENCH_JSON`` line, the CPU snapshots around it and wrk's own CPU
time; ``CHECK`` names the invariant check (``check-NAME.json``) that covers the phase.
Writes ``summary.md`` and ``summary.json`` next to them.
"""

import json
import sys
from pathlib import Path

FLOOR = "asyncpg"  # the phase server whose votes/s is the practical floor


def read_json_line(path: Path, prefix: str = "") -> dict[str, object]:
    for line in path.read_text().splitlines():
        if line.startswith(prefix):
            return json.loads(line[len(prefix) :])  # type: ignore[no-any-return]
    raise ValueError(f"no {prefix or 'JSON'} line in {path}")


def phase_result(out: Path, phase: str, server: str, scenario: str, check: str) -> dict:
    wrk = read_json_line(out / f"{phase}.wrk.txt", "BENCH_JSON ")
    before = read_json_line(out / f"{phase}.cpu-before.json")
    after = read_json_line(out / f"{phase}.cpu-after.json")
    wrk_user, wrk_sys, _ = (float(x) for x in (out / f"{phase}.wrk-time.txt").read_text().split())
    seconds = wrk["duration_us"] / 1e6
    outcomes: dict[str, int] = wrk["outcomes"]
    non_2xx = {k: n for k, n in sorted(outcomes.items()) if not k.startswith("2")}
    errors = {k: n for k, n in wrk["errors"].items() if n and k != "status"}
    waits_file = out / f"{phase}.pgwait.json"
    waits = read_json_line(waits_file) if waits_file.exists() else None
    check_file = out / f"check-{check}.json"
    invariants = None
    if check_file.exists():
        invariants = read_json_line(check_file)
    wall = after["t"] - before["t"]
    return {
        "phase": phase,
        "server": server,
        "scenario": scenario,
        "seconds": round(seconds, 2),
        "requests": wrk["requests"],
        "requests_per_s": round(wrk["requests"] / seconds, 1),
        "votes_per_s": round(outcomes.get("201 vote", 0) / seconds, 1),
        "comments_per_s": round(outcomes.get("201 comment", 0) / seconds, 1),
        "latency_ms": {k: round(v / 1000, 1) for k, v in wrk["latency_us"].items()},
        "non_2xx": non_2xx,
        "socket_errors": errors,
        "cpu_percent_of_one_core": {
            "server": round(100 * (after["server"] - before["server"]) / wall),
            "postgres": round(100 * (after["postgres"] - before["postgres"]) / wall),
            "wrk": round(100 * (wrk_user + wrk_sys) / wall),
            "machine": round(100 * (after["machine_busy"] - before["machine_busy"]) / wall),
        },
        "server_cpu_ms_per_request": round(
            1000 * (after["server"] - before["server"]) / max(1, wrk["requests"]), 2
        ),
        "invariants": invariants,
        "postgres_backends": waits,
    }


def other_load(cpu: dict[str, int]) -> int:
    """CPU % that none of server, PostgreSQL or wrk used: other work on the machine."""
    return max(0, cpu["machine"] - cpu["server"] - cpu["postgres"] - cpu["wrk"])


def fmt_counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{n} × {k}" for k, n in counts.items()) or "0"


def markdown(meta: dict[str, str], results: list[dict]) -> str:
    lines = [
        f"Run {meta.get('date', '?')} on {meta.get('nproc', '?')} × {meta.get('cpu', '?')}, "
        f"{meta.get('postgres', '')}; {meta.get('wrk', '')}; quorum at {meta.get('git', '?')}.",
        "",
        f"`{meta.get('command', '')}`",
        "",
        "| server | scenario | req/s | votes/s | p50 ms | p99 ms | max ms | non-2xx "
        "| socket errors | CPU % server / PG / wrk / other | server CPU ms/req | invariants |",
        "|---|---|--:|--:|--:|--:|--:|---|---|---|--:|---|",
    ]
    for r in results:
        cpu = r["cpu_percent_of_one_core"]
        inv = r["invariants"]
        verdict = "n/a" if inv is None else ("OK" if inv["ok"] else "**BROKEN**")
        lines.append(
            f"| {r['server']} | {r['scenario']} | {r['requests_per_s']:.0f} "
            f"| {r['votes_per_s']:.0f} | {r['latency_ms']['p50']} | {r['latency_ms']['p99']} "
            f"| {r['latency_ms']['max']} | {fmt_counts(r['non_2xx'])} "
            f"| {fmt_counts(r['socket_errors'])} "
            f"| {cpu['server']} / {cpu['postgres']} / {cpu['wrk']} / {other_load(cpu)} "
            f"| {r['server_cpu_ms_per_request']} | {verdict} |"
        )
    lines += [
        "",
        "What PostgreSQL's backends were doing during each phase (share of 100 ms samples of "
        "pg_stat_activity; `idle in transaction` = waiting for the app's next statement "
        "while holding locks, `Lock:transactionid` = waiting for a row lock, e.g. the "
        "event row):",
        "",
        "| phase | backends | states |",
        "|---|--:|---|",
    ]
    for r in results:
        w = r.get("postgres_backends")
        if w:
            states = ", ".join(f"{k} {v} %" for k, v in list(w["states"].items())[:5])
            lines.append(f"| {r['phase']} | {w['backends_mean']} | {states} |")
    floor = next((r for r in results if r["server"] == FLOOR), None)
    if floor and floor["votes_per_s"]:
        lines.append("")
        for r in results:
            if r["server"].startswith("quorum"):
                speed = r["votes_per_s"] / floor["votes_per_s"]
                p99 = r["latency_ms"]["p99"] / floor["latency_ms"]["p99"]
                lines.append(
                    f"- {r['server']} {r['scenario']}: {speed:.2f} × the floor's votes/s, "
                    f"p99 {p99:.2f} × the floor's."
                )
    for r in results:
        if r["invariants"]:
            inv = r["invariants"]
            lines.append(
                f"- invariants after {r['phase']} ({inv['database']}): "
                f"{inv['proposals_with_wrong_vote_count']} proposals with a wrong vote_count, "
                f"{inv['events_with_wrong_last_seq']} events with a wrong last_seq; "
                f"rows {inv['rows']}."
            )
    return "\n".join(lines) + "\n"


def main() -> None:
    out = Path(sys.argv[1])
    meta = dict(
        line.split("=", 1) for line in (out / "meta.env").read_text().splitlines() if "=" in line
    )
    results = [
        phase_result(out, *line.split())
        for line in (out / "phases.txt").read_text().splitlines()
        if line.strip()
    ]
    text = markdown(meta, results)
    (out / "summary.md").write_text(text)
    (out / "summary.json").write_text(json.dumps({"meta": meta, "results": results}, indent=2))
    print(text)


if __name__ == "__main__":
    main()
