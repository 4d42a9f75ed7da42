"""Sample what the benchmarked database's backends are doing, for a while, and print JSON.

    python bench/votes/pgwait.py DATABASE SECONDS

Every 100 ms, reads pg_stat_activity for the backends connected to DATABASE and counts
each one's state: ``active`` with its wait event (``Lock:transactionid`` = waiting for
another transaction's row lock, e.g. the hot event row; ``IO:WALSync`` = commit
flushing; no wait event = running), ``idle in transaction`` (holding its locks while
waiting for the application's next statement: time the app spends between statements)
or ``idle`` (in the pool). The shares say whether the database or the app is the
bottleneck.
"""

import asyncio
import collections
import json
import os
import sys
import time

import asyncpg

PG = os.environ.get("BENCH_PG", "postgresql://postgres@127.0.0.1:5432")
QUERY = """
SELECT state, wait_event_type, wait_event FROM pg_stat_activity
WHERE datname = $1 AND pid <> pg_backend_pid() AND backend_type = 'client backend'
"""


async def sample(database: str, seconds: float) -> dict[str, object]:
    conn = await asyncpg.connect(f"{PG}/postgres")
    counts: collections.Counter[str] = collections.Counter()
    samples = 0
    try:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            for row in await conn.fetch(QUERY, database):
                state = row["state"] or "?"
                if state == "active" or row["wait_event_type"] not in (None, "Client"):
                    wait = f"{row['wait_event_type']}:{row['wait_event']}"
                    state = f"active {wait}" if row["wait_event_type"] else "active running"
                counts[state] += 1
            samples += 1
            await asyncio.sleep(0.1)
    finally:
        await conn.close()
    total = sum(counts.values()) or 1
    return {
        "samples": samples,
        "backends_mean": round(total / max(samples, 1), 1),
        "states": {k: round(100 * n / total, 1) for k, n in counts.most_common()},
    }


if __name__ == "__main__":
    print(json.dumps(asyncio.run(sample(sys.argv[1], float(sys.argv[2])))))
