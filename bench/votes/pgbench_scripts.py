"""Write the pgbench scripts of bench/votes/statement.sh from the statements Quorum runs.

    python bench/votes/pgbench_scripts.py DATABASE EVENT_ID OUT [--batches 5 20]

DATABASE is seeded by bench/votes/seed.py and EVENT_ID is its hot event. The scripts are
compiled here from ``quorum.decisions.at_once.VOTE`` and ``quorum.decisions.batched.BATCH``
as the app prepares them (``at_once.prepared``), so they cannot drift from the code:

* ``vote.pgb``: one member's vote on one proposal (the route's one statement);
* ``batchB.pgb``: B members' votes in one statement, B distinct proposals;
* ``lookup-vote.pgb`` and ``lookup-batchB.pgb``: only their first line, the lookup
  below, so its cost can be told apart;
* ``floor.pgb``: the floor's transaction (../shared/bench/limit_votes_asyncpg.py) for
  the reference schema (votes_schema.sql), in its own database.

pgbench has no uuids, so each Quorum script starts with a ``SELECT ... \\gset`` that picks
a random member (with their login session) and proposal from two helper tables made
here, ``bench_pick(i, uid, sid)`` and ``bench_prop(i, pid)``. The same line returns the
values the statement fixes (its literals, ``prepared(...).fixed``) as columns, so they
stay parameters of the prepared statement, as they are for asyncpg.

Two rewrites keep pgbench from reading the SQL as its own: ``$n`` becomes ``:name``
(pgbench's variables, sent as parameters under ``-M prepared``), and every string literal
that holds a colon is written as an escape string with ``\\x3a`` instead (pgbench
substitutes ``:word`` even inside literals: ``'HH24:MI:SS'``).
"""

import argparse
import asyncio
import os
import re
import uuid
from pathlib import Path
from typing import Any

import asyncpg

from quorum.decisions import at_once, batched

PG = os.environ.get("BENCH_PG", "postgresql://postgres@127.0.0.1:5432")
# The parameters the lookup gives; every other one is fixed by the statement.
GIVEN = {"p_event", "now", "p_proposal", "p_user", "p_sid", "p_proposals", "p_users", "p_sessions"}
STEP = 7  # a batch's member i votes on proposal (i * STEP + offset) mod proposals: distinct

FLOOR = """\\set p random(1, 1000)
\\set u random(1, 2000000000)
BEGIN;
INSERT INTO votes(proposal_id, user_id) VALUES (:p, :u);
UPDATE proposals SET vote_count = vote_count + 1 WHERE id = :p AND status = 'PENDING' \
RETURNING vote_count, event_id \\gset
UPDATE events SET last_seq = last_seq + 1 WHERE id = :event_id RETURNING last_seq \\gset
INSERT INTO event_log(event_id, seq, type, data) VALUES (:event_id, :last_seq, 'vote.cast', '{}');
COMMIT;
"""

HELPERS = """
DROP TABLE IF EXISTS bench_pick, bench_prop;
CREATE TABLE bench_pick AS
    SELECT row_number() OVER (ORDER BY m.user_id) AS i, m.user_id AS uid, s.id AS sid
    FROM memberships m JOIN sessions s ON s.user_id = m.user_id AND s.expires_at > now()
    WHERE m.event_id = $1 AND m.role = 'MEMBER' AND m.status = 'APPROVED';
CREATE TABLE bench_prop AS
    SELECT row_number() OVER (ORDER BY id) AS i, id AS pid
    FROM proposals WHERE event_id = $1 AND status = 'PENDING';
CREATE UNIQUE INDEX ON bench_pick (i);
CREATE UNIQUE INDEX ON bench_prop (i);
ANALYZE bench_pick, bench_prop;
"""


def _literal(match: re.Match[str]) -> str:
    text = match.group(0)
    if ":" not in text:
        return text
    body = text[1:-1].replace("\\", "\\\\").replace(":", "\\x3a")
    return f"E'{body}'"


def pgbench_sql(statement: Any) -> tuple[str, dict[str, Any]]:
    """The statement as one pgbench line, and the values it fixes (by variable name)."""
    compiled = at_once.prepared(statement)
    sql = re.sub(r"'(?:[^']|'')*'", _literal, compiled.sql)
    sql = re.sub(r"\$(\d+)", lambda m: ":" + compiled.order[int(m.group(1)) - 1], sql)
    fixed = {k: v for k, v in compiled.fixed.items() if k not in GIVEN}
    missing = set(compiled.order) - GIVEN - fixed.keys()
    if missing:
        raise SystemExit(f"parameters neither looked up nor fixed: {sorted(missing)}")
    return " ".join(sql.split()) + ";", fixed


def _columns(fixed: dict[str, Any]) -> str:
    def value(v: Any) -> str:
        if isinstance(v, bool) or not isinstance(v, int | str) or ":" in str(v):
            raise SystemExit(f"cannot pass the fixed value {v!r} through pgbench")
        return f"{v}::int" if isinstance(v, int) else "'" + v.replace("'", "''") + "'::text"

    return "".join(f", {value(v)} AS {k}" for k, v in fixed.items())


def vote_lookup(event: str, fixed: dict[str, Any], members: int, proposals: int) -> str:
    return (
        f"\\set u random(1, {members})\n\\set p random(1, {proposals})\n"
        f"SELECT '{event}' AS p_event, now() AS now, pk.uid AS p_user, pk.sid AS p_sid, "
        f"pp.pid AS p_proposal{_columns(fixed)} FROM bench_pick pk, bench_prop pp "
        "WHERE pk.i = :u AND pp.i = :p \\gset\n"
    )


def batch_lookup(event: str, fixed: dict[str, Any], size: int, members: int, proposals: int) -> str:
    return (
        f"\\set u random(1, {members - size + 1})\n\\set p random(0, {proposals - 1})\n"
        f"SELECT '{event}' AS p_event, now() AS now, array_agg(pp.pid ORDER BY pk.i) AS "
        "p_proposals, array_agg(pk.uid ORDER BY pk.i) AS p_users, array_agg(pk.sid ORDER BY "
        f"pk.i) AS p_sessions{_columns(fixed)} FROM bench_pick pk JOIN bench_prop pp "
        f"ON pp.i = (pk.i * {STEP} + :p) % {proposals} + 1 "
        f"WHERE pk.i BETWEEN :u AND :u + {size - 1} \\gset\n"
    )


async def helpers(database: str, event: str) -> tuple[int, int]:
    """Make bench_pick and bench_prop; their sizes."""
    conn = await asyncpg.connect(f"{PG}/{database}")
    try:
        async with conn.transaction():
            for command in HELPERS.split(";")[:-1]:
                await conn.execute(command, *([event] if "$1" in command else []))
        members = await conn.fetchval("SELECT count(*) FROM bench_pick")
        proposals = await conn.fetchval("SELECT count(*) FROM bench_prop")
    finally:
        await conn.close()
    return members, proposals


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("database")
    parser.add_argument("event", help="the seeded hot event's id")
    parser.add_argument("out", type=Path)
    parser.add_argument("--batches", type=int, nargs="*", default=[5, 20])
    args = parser.parse_args()
    args.event = str(uuid.UUID(args.event))  # it is written into the scripts' SQL
    members, proposals = asyncio.run(helpers(args.database, args.event))
    largest = max(args.batches, default=1)
    if proposals % STEP == 0 or proposals < largest or members < largest:
        raise SystemExit(f"{members} members and {proposals} proposals are too few")
    args.out.mkdir(parents=True, exist_ok=True)
    scripts: dict[str, str] = {"floor": FLOOR}
    sql, fixed = pgbench_sql(at_once.VOTE)
    scripts["lookup-vote"] = vote_lookup(args.event, fixed, members, proposals)
    scripts["vote"] = scripts["lookup-vote"] + sql + "\n"
    sql, fixed = pgbench_sql(batched.BATCH)
    for size in args.batches:
        lookup = batch_lookup(args.event, fixed, size, members, proposals)
        scripts[f"lookup-batch{size}"] = lookup
        scripts[f"batch{size}"] = lookup + sql + "\n"
    for name, text in scripts.items():
        (args.out / f"{name}.pgb").write_text(text)
    print(f"{members} members, {proposals} proposals: {', '.join(scripts)} in {args.out}")


if __name__ == "__main__":
    main()
