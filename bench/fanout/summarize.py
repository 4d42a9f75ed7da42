"""The fan-out benchmark's table, from the runner's outputs.

    python bench/fanout/summarize.py merge LABEL N FANOUT.json RSS.json  # one JSON line
    python bench/fanout/summarize.py table OUT_DIR                       # Markdown

``merge`` joins the shared client's output (../shared/bench/fanout.py) with what
procstat.py saw of the server into a line like client.py's; ``table`` turns
OUT_DIR/results.jsonl and OUT_DIR/meta.env into the tables of bench/RESULTS.md.
"""

import json
import sys
from pathlib import Path
from typing import Any

ORDER = {"quorum": 0, "quorum-gc": 1, "seeds": 2, "sse-starlette": 3, "raw": 4, "polling": 5}
NAMES = {
    "quorum": "Quorum",
    "quorum-gc": "Quorum, GC thresholds raised (experiment)",
    "seeds": "seeds' design (peer_seed002)",
    "sse-starlette": "sse-starlette (peer_ssestarlette)",
    "raw": "raw asyncio floor (limit_raw)",
    "polling": "seeds' polling design (peer_polling)",
}


def merge(label: str, n: int, fanout: Path, rss: Path) -> dict[str, Any]:
    lines = [line for line in fanout.read_text().splitlines() if line.startswith("{")]
    result: dict[str, Any] = {"label": label, "subs": n, "client": "shared fanout.py"}
    result |= json.loads(lines[-1]) if lines else {"error": "no output"}
    if rss.exists():
        result |= json.loads(rss.read_text())
    return result


def fmt(value: Any, digits: int = 0) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def table(out: Path) -> str:
    rows = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines() if line]
    meta = dict(
        line.split("=", 1) for line in (out / "meta.env").read_text().splitlines() if "=" in line
    )
    lines = [
        f"Machine: {meta.get('nproc')} cores ({meta.get('cpu')}), {meta.get('memory')}, "
        f"PostgreSQL {meta.get('postgres')}, Python {meta.get('python')}; "
        f"{meta.get('date')}; git {meta.get('git')}.",
        f"Command: `{meta.get('command')}`",
        "",
        "| server | subscribers | connected | p50 ms | p99 ms | max ms | lost | RSS KB/conn |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    fan = [r for r in rows if r["label"] != "polling"]
    for r in sorted(fan, key=lambda r: (r["subs"], ORDER.get(r["label"], 9))):
        ready = r.get("subs_ready")
        lost = r.get("lost")
        lines.append(
            f"| {NAMES.get(r['label'], r['label'])} | {fmt(r['subs'])} | {fmt(ready)} "
            f"| {fmt(r.get('p50_ms'), 1)} | {fmt(r.get('p99_ms'), 1)} | {fmt(r.get('max_ms'), 1)} "
            f"| {fmt(lost)} | {fmt(r.get('kb_per_conn'), 1)} |"
        )
    polled = [r for r in rows if r["label"] == "polling" or r.get("db_tx_per_s") is not None]
    if polled:
        lines += [
            "",
            "| design | subscribers | p50 ms | p99 ms | max ms | lost | DB transactions/s "
            "| queries/s (own count) |",
            "|---|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for r in sorted(polled, key=lambda r: ORDER.get(r["label"], 9)):
            lines.append(
                f"| {NAMES.get(r['label'], r['label'])} | {fmt(r['subs'])} "
                f"| {fmt(r.get('p50_ms'), 1)} | {fmt(r.get('p99_ms'), 1)} "
                f"| {fmt(r.get('max_ms'), 1)} | {fmt(r.get('lost'))} "
                f"| {fmt(r.get('db_tx_per_s'), 1)} | {fmt(r.get('queries_per_s'), 1)} |"
            )
    return "\n".join(lines) + "\n"


def main() -> None:
    if len(sys.argv) == 6 and sys.argv[1] == "merge":
        label, n, fanout, rss = sys.argv[2], int(sys.argv[3]), Path(sys.argv[4]), Path(sys.argv[5])
        print(json.dumps(merge(label, n, fanout, rss)))
    elif len(sys.argv) == 3 and sys.argv[1] == "table":
        print(table(Path(sys.argv[2])), end="")
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
