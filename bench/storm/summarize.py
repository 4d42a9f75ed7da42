"""The reconnect storm's table, from what bench/run_storm.sh wrote.

    python bench/storm/summarize.py server LINES.jsonl RSS0_KB RSS1_KB CPU0_JSON CPU1_JSON
    python bench/storm/summarize.py table bench/out/storm-20261130T010000Z

``server`` adds the server's RSS growth and its CPU seconds over the storm (two snapshots
of bench/votes/cpu.py) to each of the client's result lines and prints them; ``table``
reads ``meta.env`` and ``results.jsonl`` and prints the Markdown table.
"""

import json
import sys
from pathlib import Path
from typing import Any


def server(lines: Path, rss0: str, rss1: str, cpu0: str, cpu1: str) -> None:
    before, after = json.loads(cpu0), json.loads(cpu1)
    for line in lines.read_text().splitlines():
        row = json.loads(line)
        row["server_rss_mb"] = {"before": int(rss0) // 1024, "after": int(rss1) // 1024}
        row["server_cpu_s"] = round(after["server"] - before["server"], 2)
        row["machine_cpu_s"] = round(after["machine_busy"] - before["machine_busy"], 2)
        print(json.dumps(row))


def counts(d: dict[str, int]) -> str:
    return ", ".join(f"{n} × {k}" for k, n in sorted(d.items())) or "0"


def ms(v: float | None) -> str:
    return "–" if v is None else f"{v:,.0f}"


def api(row: dict[str, Any], window: str) -> str:
    a = row["api"][window]
    if not a["n"]:
        return "n/a"
    bad = f", {a['non_200']} failed" if a["non_200"] else ""
    return f"{a['p50_ms']} / {a['p99_ms']}{bad}"


def table(out: Path) -> str:
    meta = dict(
        line.split("=", 1) for line in (out / "meta.env").read_text().splitlines() if "=" in line
    )
    rows = [json.loads(x) for x in (out / "results.jsonl").read_text().splitlines() if x.strip()]
    lines = [
        f"Run {meta.get('date', '?')} on {meta.get('nproc', '?')} × {meta.get('cpu', '?')}, "
        f"{meta.get('memory', '')}, load {meta.get('load', '?')} at the start; PostgreSQL "
        f"{meta.get('postgres', '?')}, Python {meta.get('python', '?')}; "
        f"{meta.get('nofile', '')}; quorum at {meta.get('git', '?')}.",
        "",
        f"`{meta.get('command', '')}`",
        "",
        "Clients start within the spread from T0 (the storm's start); the client processes "
        "run on the same machine as the server. Connected: the first successful open (SSE: "
        "200 headers; Quorum WebSocket: first frame; Socket.IO: namespace joined). "
        "Caught up: the client received the log's "
        "head entry at T0 (every missed entry), or, for a peer without resume, it is "
        "connected. Lost / doubled: entries after the client's position (peers: published "
        "after it connected) missing / received twice, over the clients that connected.",
        "",
        "| server | transport | resume | clients | connected | open at end | refused "
        "(clients) | errors | connected p50 / p99 ms | caught up | p50 ms | p99 ms | max ms "
        "| lost | doubled | snapshots | API p50 / p99 ms before | during | server CPU s "
        "| RSS MB before → after |",
        "|---|---|---|--:|--:|--:|---|---|---|--:|--:|--:|--:|--:|--:|--:|---|---|--:|---|",
    ]
    for r in rows:
        c = r["caught_up_ms"]
        resume = (
            f"yes, 1–{r['back']} back" if r["resume"] else "**none**: connect + live entries only"
        )
        rss = r.get("server_rss_mb", {})
        lines.append(
            f"| {r['label']} | {r['transport']} | {resume} | {r['clients']:,} "
            f"| {r['connected']:,} | {r['open_at_end']:,} "
            f"| {counts(r['refused'])} ({r['refused_clients']}) | {counts(r['errors'])} "
            f"| {ms(r['connected_ms']['p50'])} / {ms(r['connected_ms']['p99'])} "
            f"| {r['caught_up']:,} | {ms(c['p50'])} | {ms(c['p99'])} | {ms(c['max'])} "
            f"| {r['lost']} | {r['doubled']} | {r['snapshots']} "
            f"| {api(r, 'before')} | {api(r, 'during')} | {r.get('server_cpu_s', '?')} "
            f"| {rss.get('before', '?')} → {rss.get('after', '?')} |"
        )
    lines.append("")
    for r in rows:
        lines.append(
            f"- {r['label']} {r['transport']}: live entries {r['live_entries']} "
            f"(HTTP status: count), storm {r['storm_s']} s until all caught up or the "
            f"deadline, {r['dropped']} streams ended by the server, "
            f"{r['out_of_order']} out of order"
            + (f", log head {r['head']} → {r['final_seq']}." if r["resume"] else ".")
        )
    waits = out / "quorum.pgwait.json"
    if waits.exists() and waits.read_text().strip():
        w = json.loads(waits.read_text())
        states = ", ".join(f"{k} {v} %" for k, v in list(w["states"].items())[:5])
        lines.append(
            f"- PostgreSQL during Quorum's storm (pg_stat_activity every 100 ms, from the "
            f"probe's start): {w['backends_mean']} backends on average; {states}."
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    if sys.argv[1] == "server":
        server(Path(sys.argv[2]), *sys.argv[3:7])
    else:
        print(table(Path(sys.argv[2])), end="")


if __name__ == "__main__":
    main()
