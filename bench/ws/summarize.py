"""The WebSocket-beside-SSE table, from what bench/run_ws.sh wrote.

    python bench/ws/summarize.py line LABEL N CLIENT.json RSS.json|- HWM_KB  # one JSON line
    python bench/ws/summarize.py table OUT_DIR                              # Markdown

``line`` joins a client's output (bench/fanout/client.py, or the shared
fanout_ws_quorum.py / fanout_ws_socketio.py, which print ``subs_ready``, ``expected``,
``delivered`` and the percentiles) with the server's RSS: the idle figures from
procstat.py's watch (``-``: the project's client took them itself) and the peak (VmHWM)
read after the events. ``table`` turns OUT_DIR/results.jsonl and meta.env into Markdown.
"""

import json
import sys
from pathlib import Path
from typing import Any


def last_json(path: Path) -> dict[str, Any]:
    lines = [x for x in path.read_text().splitlines() if x.startswith("{")]
    return json.loads(lines[-1])  # type: ignore[no-any-return]


def line(label: str, n: int, client: Path, rss: str, hwm_kb: int) -> dict[str, Any]:
    c = last_json(client)
    r = c if rss == "-" else last_json(Path(rss))
    ready = int(c["subs_ready"])
    expected = int(c.get("expected", ready * c.get("events", 0)))
    lost = c.get("lost", expected - int(c["delivered"]))
    before = int(r["rss_before_kb"])
    return {
        "label": label,
        "subs": n,
        "connected": ready,
        "p50_ms": c["p50_ms"],
        "p99_ms": c["p99_ms"],
        "max_ms": c["max_ms"],
        "expected": expected,
        "delivered": c["delivered"],
        "lost": lost,
        "idle": r.get("idle", {}).get("idle") if rss == "-" else r.get("idle"),
        "kb_per_conn_idle": round((int(r["rss_idle_kb"]) - before) / max(ready, 1), 1),
        "kb_per_conn_peak": round((hwm_kb - before) / max(ready, 1), 1),
    }


def table(out: Path) -> str:
    meta = dict(x.split("=", 1) for x in (out / "meta.env").read_text().splitlines() if "=" in x)
    rows = [json.loads(x) for x in (out / "results.jsonl").read_text().splitlines() if x.strip()]
    lines = [
        f"Run {meta.get('date', '?')} on {meta.get('nproc', '?')} × {meta.get('cpu', '?')}, "
        f"{meta.get('memory', '')}, load {meta.get('load', '?')} at the start; PostgreSQL "
        f"{meta.get('postgres', '?')}, Python {meta.get('python', '?')}; "
        f"quorum at {meta.get('git', '?')}.",
        "",
        f"`{meta.get('command', '')}`",
        "",
        "RSS per connection: idle = (RSS once all are connected and the server is idle − "
        "RSS before) / connected; peak = (VmHWM after the events − RSS before) / connected. "
        "`*`: the server was not seen idle before the events began (the idle figure then "
        "includes them).",
        "",
        "| server | subscribers | connected | p50 ms | p99 ms | max ms | lost "
        "| KB/conn idle | KB/conn peak |",
        "|---|--:|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for r in rows:
        star = "" if r["idle"] else "*"
        lines.append(
            f"| {r['label']} | {r['subs']:,} | {r['connected']:,} | {r['p50_ms']} "
            f"| {r['p99_ms']} | {r['max_ms']} | {r['lost']} | {r['kb_per_conn_idle']}{star} "
            f"| {r['kb_per_conn_peak']} |"
        )
    by = {(r["label"], r["subs"]): r for r in rows}
    notes = []
    for n in sorted({r["subs"] for r in rows}):
        sse, ws, sio = (by.get((k, n)) for k in ("quorum-sse", "quorum-ws", "python-socketio"))
        if sse and ws and sse["p99_ms"] and sse["kb_per_conn_idle"] > 0:
            notes.append(
                f"- {n:,}: Quorum WebSocket / SSE: p99 {ws['p99_ms'] / sse['p99_ms']:.2f}×, "
                f"idle RSS {ws['kb_per_conn_idle'] / sse['kb_per_conn_idle']:.2f}× "
                "(aim: within 1.2×)."
            )
        raw = by.get(("quorum-ws-raw", n))
        if sse and raw and sse["p99_ms"] and sse["kb_per_conn_idle"] > 0:
            notes.append(
                f"- {n:,}: Quorum WebSocket / SSE, the same raw client: p99 "
                f"{raw['p99_ms'] / sse['p99_ms']:.2f}×, idle RSS "
                f"{raw['kb_per_conn_idle'] / sse['kb_per_conn_idle']:.2f}× (aim: within 1.2×)."
            )
        if ws and sio and ws["p99_ms"] and ws["kb_per_conn_idle"] > 0:
            notes.append(
                f"- {n:,}: python-socketio / Quorum WebSocket: p99 "
                f"{sio['p99_ms'] / ws['p99_ms']:.2f}×, idle RSS "
                f"{sio['kb_per_conn_idle'] / ws['kb_per_conn_idle']:.2f}× (aim: at least 3×)."
            )
    return "\n".join(lines + ([""] + notes if notes else [])) + "\n"


def main() -> None:
    if len(sys.argv) == 7 and sys.argv[1] == "line":
        _, _, label, n, client, rss, hwm = sys.argv
        print(json.dumps(line(label, int(n), Path(client), rss, int(hwm))))
    elif len(sys.argv) == 3 and sys.argv[1] == "table":
        print(table(Path(sys.argv[2])), end="")
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
