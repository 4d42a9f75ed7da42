"""Check the write-path invariants in a benchmarked database and print them as JSON.

    python bench/votes/check.py quorum_bench            # Quorum's schema
    python bench/votes/check.py bench --reference       # the reference servers' schema

* each proposal's ``vote_count`` equals its number of vote rows (and their sums agree);
* each event's ``last_seq`` equals its number of event_log rows, numbered 1..last_seq
  with no gap. Log retention (quorum/maintenance.py, first run 300 s after start) may
  have pruned the oldest rows of a long run; then the rows must still be gap-free and
  end at last_seq, and ``pruned_events`` says how many events were pruned.

Exits 1 if any invariant is broken.
"""

import argparse
import asyncio
import json
import os
import sys

import asyncpg

PG = os.environ.get("BENCH_PG", "postgresql://postgres@127.0.0.1:5432")


async def check(database: str, log_key: str) -> dict[str, object]:
    conn = await asyncpg.connect(f"{PG}/{database}")
    try:
        bad_counts = await conn.fetchval(
            """
            SELECT count(*) FROM proposals p
            LEFT JOIN (SELECT proposal_id, count(*) AS n FROM votes GROUP BY proposal_id) v
                   ON v.proposal_id = p.id
            WHERE p.vote_count <> coalesce(v.n, 0)
            """
        )
        seqs = await conn.fetchrow(
            f"""
            SELECT count(*) FILTER (WHERE e.last_seq <> coalesce(l.top, 0)
                                       OR coalesce(l.n, 0) <> coalesce(l.top - l.low + 1, 0))
                       AS bad,
                   count(*) FILTER (WHERE coalesce(l.low, 1) <> 1) AS pruned
            FROM events e
            LEFT JOIN (SELECT {log_key} AS id, count(*) AS n, max(seq) AS top, min(seq) AS low
                       FROM event_log GROUP BY {log_key}) l ON l.id = e.id
            """  # noqa: S608 - log_key is one of two fixed column names
        )
        bad_seqs, pruned = seqs["bad"], seqs["pruned"]
        totals = {
            table: await conn.fetchval(f"SELECT count(*) FROM {table}")  # noqa: S608
            for table in ("proposals", "votes", "event_log")
        }
        if log_key == "topic_id":
            totals["comments"] = await conn.fetchval("SELECT count(*) FROM comments")
        vote_sum = await conn.fetchval("SELECT coalesce(sum(vote_count), 0) FROM proposals")
        # Not an invariant: how many updates of the hot rows were HOT (no index entry
        # written), from the statistics collector (may lag by a few hundred ms).
        hot = {
            r["relname"]: {"updates": r["n_tup_upd"], "hot_updates": r["n_tup_hot_upd"]}
            for r in await conn.fetch(
                "SELECT relname, n_tup_upd, n_tup_hot_upd FROM pg_stat_user_tables "
                "WHERE relname IN ('events', 'proposals')"
            )
        }
    finally:
        await conn.close()
    return {
        "database": database,
        "proposals_with_wrong_vote_count": bad_counts,
        "events_with_wrong_last_seq": bad_seqs,
        "pruned_events": pruned,
        "sum_vote_count": vote_sum,
        "rows": totals,
        "hot_updates": hot,
        "ok": bad_counts == 0 and bad_seqs == 0 and vote_sum == totals["votes"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("database")
    parser.add_argument(
        "--reference", action="store_true", help="votes_schema.sql (event_log.event_id)"
    )
    args = parser.parse_args()
    result = asyncio.run(check(args.database, "event_id" if args.reference else "topic_id"))
    print(json.dumps(result))
    sys.exit(0 if result["ok"] else 1)


if __name__ == "__main__":
    main()
