"""Seed a fresh PostgreSQL database for the write-path benchmark (and for docs/queries.md).

Drops and recreates DATABASE, runs ``alembic -x url=... upgrade head`` (the only way
Quorum's schema is made, as in tests/services.py), then writes rows directly with COPY:

* one hot OPEN event (no vote threshold, so every proposal stays votable) with
  ``--proposals`` proposals, an organizer, and ``--users`` APPROVED members;
* optionally (``--votes``, ``--comments``, ``--other-events``) a database of realistic
  size for EXPLAIN: existing votes and comments on the hot event, and other events
  whose memberships and proposals fill the tables around it.

Every change that the app would have logged is in ``event_log`` (``proposal.created``,
``vote.cast``, ``comment.created``) and each event's ``last_seq`` equals its number of
log rows, so the invariants hold from the start. Membership rows are written without
the log entries an approval through the API would add (the counter still matches).

Access tokens are minted with ``quorum.accounts.tokens`` and the same secret as the
server (QUORUM_SECRET_KEY), instead of logging in thousands of times; each names a
login session seeded for its user (a token is valid only while its session row is). OUT gets
``tokens.txt`` (one per line, member i is line i), ``proposals.txt`` (the hot event's
proposal ids) and ``event.txt`` (its id), which the wrk scripts read.

    uv run python bench/votes/seed.py quorum_bench bench/out/data
"""

import argparse
import asyncio
import json
import os
import random
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg

from quorum.accounts import tokens
from quorum.db.base import uuid7

ROOT = Path(__file__).resolve().parents[2]
PG = os.environ.get("BENCH_PG", "postgresql://postgres@127.0.0.1:5432")
KINDS = ("ASSUMPTION", "CRITERIA", "CONCLUSION")
# Not a hash at all, so no password matches it: seeded users never log in, the
# benchmark mints their tokens (Passwords.verify treats an invalid hash as a mismatch).
UNUSABLE_HASH = "!"


def ts(now: datetime, offset_ms: int) -> datetime:
    return now + timedelta(milliseconds=offset_ms)


class Log:
    """event_log rows per event, numbered the way append_log numbers them."""

    def __init__(self) -> None:
        self.rows: list[tuple[uuid.UUID, int, str, str, datetime]] = []
        self.last_seq: dict[uuid.UUID, int] = {}

    def add(self, event_id: uuid.UUID, type_: str, data: dict[str, object], at: datetime) -> None:
        seq = self.last_seq.get(event_id, 0) + 1
        self.last_seq[event_id] = seq
        self.rows.append((event_id, seq, type_, json.dumps(data), at))


def proposal_data(row: list[object], author_name: str, created_at: datetime) -> dict[str, object]:
    """The ``proposal.created`` payload (ProposalOut as JSON) of a proposal row."""
    keys = ("id", "event_id", "kind", "title", "body", "author_id", "status", "vote_count")
    data = {k: str(v) if isinstance(v, uuid.UUID) else v for k, v in zip(keys, row, strict=False)}
    author = {"id": data.pop("author_id"), "display_name": author_name}
    rest = {"tally_hidden": False, "decided_by": None, "decided_at": None}
    return data | {"author": author, **rest, "created_at": created_at.isoformat()}


@dataclass
class Seeded:
    hot_event: uuid.UUID
    organizer: uuid.UUID
    members: list[uuid.UUID]
    hot_proposals: list[uuid.UUID]
    counts: dict[str, int]
    sessions: dict[uuid.UUID, uuid.UUID]  # user -> the login session its token names


async def seed(args: argparse.Namespace) -> Seeded:
    rnd = random.Random(args.random_seed)
    now = datetime.now(UTC) - timedelta(days=1)
    log = Log()

    users = [uuid7() for _ in range(args.users + 1)]
    organizer, members = users[0], users[1:]
    user_rows = [
        (u, f"user{i}@bench.example", f"Bench user {i}", UNUSABLE_HASH, ts(now, i))
        for i, u in enumerate(users)
    ]
    sessions = {u: uuid7() for u in users}
    session_expiry = datetime.now(UTC) + timedelta(hours=args.token_ttl_hours)
    session_rows = [(sid, u, now, session_expiry) for u, sid in sessions.items()]

    hot = uuid7()
    events = [hot] + [uuid7() for _ in range(args.other_events)]
    event_rows = []
    for i, e in enumerate(events):
        status = "OPEN" if i == 0 or i % 4 else "CLOSED"
        event_rows.append((e, f"Event {i}", "", organizer, None, status, ts(now, i)))

    membership_rows = []
    for e in events:
        membership_rows.append((uuid7(), e, organizer, "ORGANIZER", "APPROVED", now, now))
    for u in members:
        membership_rows.append((uuid7(), hot, u, "MEMBER", "APPROVED", now, now))
        for e in rnd.sample(events[1:], min(args.memberships_per_user, len(events) - 1)):
            status = rnd.choice(("APPROVED", "APPROVED", "APPROVED", "PENDING", "REJECTED"))
            membership_rows.append((uuid7(), e, u, "MEMBER", status, now, now))

    names = {row[0]: row[2] for row in user_rows}
    proposals: dict[uuid.UUID, list[object]] = {}
    votes_of: dict[uuid.UUID, int] = {}
    hot_proposals: list[uuid.UUID] = []
    for i, e in enumerate(events):
        count = args.proposals if e == hot else args.proposals_per_other_event
        for j in range(count):
            pid = uuid7()
            author = organizer if j % 3 == 0 else rnd.choice(members)
            at = ts(now, 1000 * i + j)
            status = "PENDING"
            if e != hot and j % 5 == 0:
                status = rnd.choice(("ACCEPTED", "REJECTED", "DELETED"))
            row = [pid, e, KINDS[j % 3], f"Proposal {j}", "", author, status, 0, at]
            proposals[pid] = row
            log.add(e, "proposal.created", proposal_data(row, names[author], at), at)
            if e == hot:
                hot_proposals.append(pid)

    vote_rows = []
    if args.votes:
        # Distinct (proposal, user) pairs on the hot event, spread evenly.
        per_proposal = -(-args.votes // len(hot_proposals))
        for pid in hot_proposals:
            for u in rnd.sample(members, min(per_proposal, len(members))):
                if len(vote_rows) == args.votes:
                    break
                at = ts(now, 60_000 + len(vote_rows))
                vote_rows.append((pid, u, at))
                votes_of[pid] = votes_of.get(pid, 0) + 1
                data = {
                    "proposal_id": str(pid),
                    "user": {"id": str(u), "display_name": names[u]},
                    "vote_count": votes_of[pid],
                    "tally_hidden": False,
                }
                log.add(hot, "vote.cast", data, at)

    comment_rows = []
    for n in range(args.comments):
        pid = rnd.choice(hot_proposals)
        u = rnd.choice(members)
        at = ts(now, 60_000 + args.votes + n)
        cid = uuid7()
        comment_rows.append((cid, pid, u, f"Comment {n}", at))
        data = {
            "id": str(cid),
            "proposal_id": str(pid),
            "author": {"id": str(u), "display_name": names[u]},
            "body": f"Comment {n}",
            "created_at": at.isoformat(),
        }
        log.add(hot, "comment.created", data, at)

    conn = await asyncpg.connect(f"{PG}/{args.database}")
    try:
        async with conn.transaction():
            await conn.copy_records_to_table(
                "users",
                records=user_rows,
                columns=["id", "email", "display_name", "password_hash", "created_at"],
            )
            await conn.copy_records_to_table(
                "sessions",
                records=session_rows,
                columns=["id", "user_id", "created_at", "expires_at"],
            )
            await conn.copy_records_to_table(
                "events",
                records=[(*r, log.last_seq.get(r[0], 0)) for r in event_rows],
                columns=[
                    "id",
                    "title",
                    "description",
                    "organizer_id",
                    "vote_threshold",
                    "status",
                    "created_at",
                    "last_seq",
                ],
            )
            await conn.copy_records_to_table(
                "memberships",
                records=membership_rows,
                columns=["id", "event_id", "user_id", "role", "status", "created_at", "decided_at"],
            )
            await conn.copy_records_to_table(
                "proposals",
                records=[(*r[:7], votes_of.get(pid, 0), *r[8:]) for pid, r in proposals.items()],
                columns=[
                    "id",
                    "event_id",
                    "kind",
                    "title",
                    "body",
                    "author_id",
                    "status",
                    "vote_count",
                    "created_at",
                ],
            )
            await conn.copy_records_to_table(
                "votes", records=vote_rows, columns=["proposal_id", "user_id", "created_at"]
            )
            await conn.copy_records_to_table(
                "comments",
                records=comment_rows,
                columns=["id", "proposal_id", "author_id", "body", "created_at"],
            )
            await conn.copy_records_to_table(
                "event_log",
                records=log.rows,
                columns=["topic_id", "seq", "type", "data", "created_at"],
            )
        await conn.execute("VACUUM ANALYZE")
    finally:
        await conn.close()

    counts = {
        "users": len(user_rows),
        "events": len(event_rows),
        "memberships": len(membership_rows),
        "proposals": len(proposals),
        "votes": len(vote_rows),
        "comments": len(comment_rows),
        "event_log": len(log.rows),
    }
    return Seeded(hot, organizer, members, hot_proposals, counts, sessions)


async def recreate(database: str) -> None:
    conn = await asyncpg.connect(f"{PG}/postgres")
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        await conn.execute(f'CREATE DATABASE "{database}"')
    finally:
        await conn.close()


def migrate(database: str) -> None:
    url = PG.replace("postgresql://", "postgresql+asyncpg://", 1) + f"/{database}"
    subprocess.run(
        [sys.executable, "-m", "alembic", "-x", f"url={url}", "upgrade", "head"],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )


def write_client_files(out: Path, seeded: Seeded, secret: str, ttl: timedelta) -> None:
    out.mkdir(parents=True, exist_ok=True)

    def token(user: uuid.UUID) -> str:
        sid = str(seeded.sessions[user])
        return tokens.issue(secret, user, tokens.ACCESS_AUDIENCE, ttl, sid=sid)

    lines = [token(u) for u in seeded.members]
    (out / "tokens.txt").write_text("\n".join(lines) + "\n")
    organizer = token(seeded.organizer)
    (out / "organizer_token.txt").write_text(organizer + "\n")
    (out / "proposals.txt").write_text("".join(f"{p}\n" for p in seeded.hot_proposals))
    (out / "event.txt").write_text(f"{seeded.hot_event}\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("database")
    parser.add_argument("out", type=Path, help="where tokens.txt, proposals.txt, event.txt go")
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument("--proposals", type=int, default=1_000)
    parser.add_argument("--votes", type=int, default=0, help="existing votes on the hot event")
    parser.add_argument("--comments", type=int, default=0, help="existing comments on it")
    parser.add_argument("--other-events", type=int, default=0)
    parser.add_argument("--proposals-per-other-event", type=int, default=50)
    parser.add_argument("--memberships-per-user", type=int, default=0)
    parser.add_argument("--random-seed", type=int, default=4)
    parser.add_argument("--token-ttl-hours", type=float, default=6)
    args = parser.parse_args()
    secret = os.environ.get("QUORUM_SECRET_KEY")
    if not secret:
        parser.error("set QUORUM_SECRET_KEY to the server's secret (the tokens are signed with it)")

    started = time.monotonic()
    asyncio.run(recreate(args.database))
    migrate(args.database)
    seeded = asyncio.run(seed(args))
    write_client_files(args.out, seeded, secret, timedelta(hours=args.token_ttl_hours))
    print(
        json.dumps(
            {
                "database": args.database,
                "hot_event": str(seeded.hot_event),
                **seeded.counts,
                "seconds": round(time.monotonic() - started, 1),
            }
        )
    )


if __name__ == "__main__":
    main()
