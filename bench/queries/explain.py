"""EXPLAIN (ANALYZE, BUFFERS) of the hot queries, exactly as the app issues them.

Seeds (with bench/votes/seed.py) a database of realistic size: one hot event with 1,000
proposals, 100,000 votes and 20,000 comments, 10,000 members, 2,000 other events with 5
proposals each and 5 more memberships per user, and an event log to match; then decides
one in five of the hot event's proposals (``decided_at`` a minute apart, the last 40
at the same instant), so that ``sort=recently_decided`` has rows to read. Then, for
each scenario below, it calls the app's own functions (repository, service, log) inside
a transaction that is rolled back, recording every statement sent to the driver (SQL
text and parameters, through SQLAlchemy's ``before_cursor_execute``); and replays the
recorded statements, in order, as ``EXPLAIN (ANALYZE, BUFFERS)`` on a plain asyncpg
connection in another transaction that is rolled back too, so writes are measured on
the same rows the app would write and nothing persists.

Each plan is checked for the index the scenario expects (or for the absence of a
sequential scan); the Markdown report (stdout, or ``--out``) says OK or MISSING.
The app runs these as prepared statements, for which PostgreSQL may switch to a generic
plan after five executions; the script also plans each read with
``plan_cache_mode = force_generic_plan`` and shows the generic plan where its shape differs.

    uv run python bench/queries/explain.py --out bench/out/queries.md
"""

import argparse
import asyncio
import json
import os
import re
import subprocess
import sys
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import asyncpg
from sqlalchemy import event, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from quorum.accounts.service import open_session
from quorum.accounts.tokens import Caller
from quorum.db.base import utcnow
from quorum.db.engine import create_engine, create_sessionmaker
from quorum.db.repository import PageParams, Position
from quorum.decisions import at_once, batched, service, views
from quorum.decisions import repository as repo
from quorum.decisions.access import EventAccess, load_access
from quorum.decisions.events import ProposalCreated
from quorum.decisions.models import (
    Comment,
    Event,
    EventStatus,
    Membership,
    Proposal,
    ProposalKind,
    Role,
    Vote,
)
from quorum.decisions.schemas import MembershipFilter, ProposalCreate
from quorum.realtime import log
from quorum.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
PG = os.environ.get("BENCH_PG", "postgresql://postgres@127.0.0.1:5432")
DATABASE = "quorum_explain"
SEED_ARGS = [
    "--users", "10000", "--proposals", "1000", "--votes", "100000", "--comments", "20000",
    "--other-events", "2000", "--proposals-per-other-event", "5",
    "--memberships-per-user", "5",
]  # fmt: skip


@dataclass
class Ids:
    event: uuid.UUID
    member: Caller  # a member who has voted (not on the proposal used for the new vote), logged in
    proposal: uuid.UUID
    commented: uuid.UUID  # the proposal with the most comments
    busy_user: uuid.UUID  # the user with the most memberships
    last_seq: int
    author: uuid.UUID  # a member who wrote some of the hot event's proposals
    ballots: list[batched.Ballot]  # ten members' votes on ten proposals, logged in


@dataclass
class Scenario:
    key: str
    title: str
    run: Callable[[AsyncSession, Ids], Awaitable[Any]]
    # per recorded statement (by index): what its plan must show, e.g. an index name
    expect: dict[int, str] = field(default_factory=dict)


async def _vote_at_once(session: AsyncSession, ids: Ids) -> None:
    """The route's autocommitted statement (quorum/decisions/at_once.py), run here in the
    session's transaction so that it is rolled back like every other scenario."""
    params = at_once.parameters(ids.event, ids.proposal, ids.member.user_id, ids.member.session_id)
    connection = await session.connection()
    await connection.execute(at_once.VOTE, params)


async def _vote_accepting(session: AsyncSession, ids: Ids) -> None:
    """``_vote_at_once`` for the vote that reaches the threshold (1 here): the same
    statement accepts the proposal and logs both entries."""
    connection = await session.connection()
    await connection.execute(update(Event).where(Event.id == ids.event).values(vote_threshold=1))
    await _vote_at_once(session, ids)


async def _votes_batched(session: AsyncSession, ids: Ids) -> None:
    """Ten votes that reach the event together, one statement (quorum/decisions/
    batched.py), as ``_vote_at_once``. Its plan is the generic one: quorum_ballots has
    one row estimate for every call, so custom and generic plans are the same."""
    connection = await session.connection()
    await connection.execute(
        batched.BATCH,
        {
            "p_event": ids.event,
            "now": utcnow(),
            "p_proposals": [b.proposal_id for b in ids.ballots],
            "p_users": [b.user_id for b in ids.ballots],
            "p_sessions": [b.session_id for b in ids.ballots],
        },
    )


async def _propose_at_once(session: AsyncSession, ids: Ids) -> None:
    """The proposal route's autocommitted statement, as ``_vote_at_once``."""
    draft = ProposalCreate(kind=ProposalKind.ASSUMPTION, title="An EXPLAINed proposal")
    proposal = service.new_proposal(ids.event, ids.member.user_id, draft)
    created = views.proposal(ProposalCreated, proposal, "", None, tally_hidden=False)
    params = at_once.parameters(ids.event, proposal.id, ids.member.user_id, ids.member.session_id)
    params |= {
        "p_kind": proposal.kind,
        "p_title": proposal.title,
        "p_body": proposal.body,
        "now": proposal.created_at,
        "entry_data": created.model_dump(mode="json"),
    }
    connection = await session.connection()
    await connection.execute(at_once.PROPOSE, params)


async def _comment(session: AsyncSession, ids: Ids) -> None:
    access = await load_access(ids.event, ids.member, session)
    await service.add_comment(session, access, ids.proposal, "An EXPLAINed comment.")


def _page(after: uuid.UUID | None = None) -> PageParams:
    return PageParams(after=after, limit=20)


async def _proposals(
    session: AsyncSession,
    ids: Ids,
    sort: str = "newest",
    where: repo.ProposalFilter = repo.ProposalFilter(),  # noqa: B008 - immutable
    after: Position | None = None,
) -> Any:
    return await repo.list_proposals(session, ids.event, where, sort, after, 20)


def _second_page(sort: str) -> Callable[[AsyncSession, Ids], Awaitable[Any]]:
    """The first page of ``sort`` (its COUNT and its rows), then the next one."""

    async def run(session: AsyncSession, ids: Ids) -> None:
        first = await _proposals(session, ids, sort)
        await _proposals(session, ids, sort, after=first.next_after)

    return run


SCENARIOS = [
    Scenario(
        "access",
        "Access check: the event and the caller's membership (every event-scoped request)",
        lambda s, i: repo.access(s, i.event, i.member.user_id, i.member.session_id),
        {0: "uq_memberships_event_id_user_id"},
    ),
    Scenario(
        "vote_at_once",
        "Casting a vote (issue 11, the route on PostgreSQL): ONE autocommitted statement, "
        "the access check folded in: the event, membership, name and login session, the "
        "membership FOR SHARE, INSERT of the vote, UPDATE of the proposal, of "
        "events.last_seq, INSERT into event_log, the refusal check",
        _vote_at_once,
        {0: "uq_memberships_event_id_user_id"},
    ),
    Scenario(
        "votes_batched",
        "Ten votes cast together (issue 11, quorum/decisions/batched.py): ONE autocommitted "
        "statement for the votes that reach the event while another runs: each voter's "
        "access check, their memberships FOR SHARE, INSERT of the votes, one UPDATE per "
        "proposal, one of events.last_seq for all, INSERT of their entries",
        _votes_batched,
        {0: "uq_memberships_event_id_user_id|ix_memberships_user_id_status"},
    ),
    Scenario(
        "vote_accepting",
        "The vote that reaches the threshold (issue 11, the route on PostgreSQL): the same "
        "statement, which accepts the proposal, takes two numbers and logs vote.cast and "
        "proposal.updated (statement 0 sets the event's threshold to 1 for it)",
        _vote_accepting,
        {0: "pk_events", 1: "uq_memberships_event_id_user_id"},
    ),
    Scenario(
        "propose_at_once",
        "Creating a proposal (issue 11, the route on PostgreSQL): ONE autocommitted "
        "statement, the access check folded in, the membership FOR SHARE, INSERT of the "
        "proposal, UPDATE of events.last_seq, INSERT into event_log, the refusal check",
        _propose_at_once,
        {0: "uq_memberships_event_id_user_id"},
    ),
    Scenario(
        "comment",
        "Adding a comment: access check (it reads the author's name too), the proposal FOR "
        "SHARE, INSERT of the comment, UPDATE of events.last_seq, INSERT into event_log",
        _comment,
        {2: "pk_proposals|ix_proposals_event_id_id", 4: "pk_events"},
    ),
    Scenario(
        "proposals",
        "Proposals of the event, newest first, first page (no filter): the total, the page",
        _proposals,
        {0: "ix_proposals_event_id_id", 1: "ix_proposals_event_id_id"},
    ),
    Scenario(
        "proposals_next",
        "Proposals of the event, newest first: first page, then the next (cursor)",
        _second_page("newest"),
        {4: "ix_proposals_event_id_id"},
    ),
    Scenario(
        "proposals_most_votes",
        "Proposals of the event, sort=most_votes: first page, then the next (cursor on "
        "(vote_count, id), through a tie: every hot proposal has 100 votes)",
        _second_page("most_votes"),
        {1: "ix_proposals_event_id_id", 4: "ix_proposals_event_id_id"},
    ),
    Scenario(
        "proposals_recently_decided",
        "Proposals of the event, sort=recently_decided: first page, then the next (cursor "
        "on (decided_at, id))",
        _second_page("recently_decided"),
        {
            0: "ix_proposals_event_id_decided_at_id",
            1: "ix_proposals_event_id_decided_at_id",
            4: "ix_proposals_event_id_decided_at_id",
        },
    ),
    Scenario(
        "proposals_status",
        "Proposals of the event with status=PENDING, newest first",
        lambda s, i: _proposals(s, i, where=repo.ProposalFilter(status="PENDING")),
        {1: "ix_proposals_event_id_status_id"},
    ),
    Scenario(
        "proposals_kind",
        "Proposals of the event with kind=CRITERIA, newest first",
        lambda s, i: _proposals(s, i, where=repo.ProposalFilter(kind="CRITERIA")),
        {1: "ix_proposals_event_id_id"},
    ),
    Scenario(
        "proposals_author",
        "Proposals of the event by one author (author=), newest first",
        lambda s, i: _proposals(s, i, where=repo.ProposalFilter(author_id=i.author)),
    ),
    Scenario(
        "members",
        "Members of the hot event (10,001 approved), first page: the total, the page",
        lambda s, i: repo.list_members(s, i.event, _page()),
        {0: "ix_memberships_event_id_status_id", 1: "ix_memberships_event_id_status_id"},
    ),
    Scenario(
        "comments",
        "Comments of a proposal, oldest first, first page (with their authors)",
        lambda s, i: repo.list_comments(s, i.commented, _page()),
        {0: "ix_comments_proposal_id_id", 1: "pk_users"},
    ),
    Scenario(
        "latest_comments",
        "A proposal's detail: the proposal and its latest comments, newest first",
        lambda s, i: service.get_proposal(
            s,
            EventAccess(
                i.event, i.member.user_id, Role.MEMBER, EventStatus.OPEN, None, "x", False, False
            ),
            i.commented,
        ),
        {0: "pk_proposals|ix_proposals_event_id_id", 2: "ix_comments_proposal_id_id"},
    ),
    Scenario(
        "events",
        "Events of a user (approved memberships), newest first: an ordinary member "
        "(the hot event and 5 others, some of them pending or rejected)",
        lambda s, i: repo.list_events(
            s, i.member.user_id, MembershipFilter.APPROVED, None, None, _page()
        ),
        {1: "ix_memberships_user_id_status"},
    ),
    Scenario(
        "events_busy",
        "Events of a user, newest first: the organizer, a member of all 2,001 events",
        lambda s, i: repo.list_events(
            s, i.busy_user, MembershipFilter.APPROVED, None, None, _page()
        ),
    ),
    Scenario(
        "log_tail",
        "Event log after a recent seq (a client resuming, or the hub catching up)",
        lambda s, i: log.read(s, i.event, i.last_seq - 50, 101),
        {0: "pk_event_log"},
    ),
    Scenario(
        "log_start",
        "Event log from the start (after=0), one page",
        lambda s, i: log.read(s, i.event, 0, 101),
        {0: "pk_event_log"},
    ),
]


def seed() -> None:
    env = {**os.environ, "QUORUM_SECRET_KEY": os.environ.get("QUORUM_SECRET_KEY", "x" * 40)}
    subprocess.run(
        [sys.executable, str(ROOT / "bench/votes/seed.py"), DATABASE,
         str(ROOT / "bench/out/explain-data"), *SEED_ARGS],
        check=True, env=env, cwd=ROOT,
    )  # fmt: skip
    asyncio.run(decide_some())


async def decide_some() -> None:
    """Decide every fifth of the hot event's proposals (never the first, which the vote
    scenario votes for), one a minute, the last 40 of them at the same instant."""
    event_id = uuid.UUID((ROOT / "bench/out/explain-data/event.txt").read_text().strip())
    conn = await asyncpg.connect(f"{PG}/{DATABASE}")
    try:
        await conn.execute(
            """
            WITH ranked AS (
                SELECT id, row_number() OVER (ORDER BY id) AS n,
                       min(created_at) OVER () AS first
                FROM proposals WHERE event_id = $1
            )
            UPDATE proposals p
            SET status = 'ACCEPTED', decided_automatically = TRUE,
                decided_at = r.first + make_interval(mins => LEAST(r.n::int, 800))
            FROM ranked r
            WHERE p.id = r.id AND r.n % 5 = 2
            """,
            event_id,
        )
        await conn.execute("VACUUM ANALYZE proposals")
    finally:
        await conn.close()


async def pick_ids(session: AsyncSession) -> Ids:
    event_id = uuid.UUID((ROOT / "bench/out/explain-data/event.txt").read_text().strip())
    proposal = await session.scalar(
        select(Proposal.id).where(Proposal.event_id == event_id).order_by(Proposal.id).limit(1)
    )
    voted = await session.scalar(
        select(Vote.user_id)
        .join(Proposal, Proposal.id == Vote.proposal_id)
        .where(Proposal.event_id == event_id, Vote.proposal_id != proposal)
        .limit(1)
    )
    commented = await session.scalar(
        select(Comment.proposal_id)
        .group_by(Comment.proposal_id)
        .order_by(func.count().desc())
        .limit(1)
    )
    busy = await session.scalar(
        select(Membership.user_id)
        .group_by(Membership.user_id)
        .order_by(func.count().desc())
        .limit(1)
    )
    event = await repo.get_event(session, event_id)
    author = await session.scalar(
        select(Proposal.author_id)
        .where(Proposal.event_id == event_id, Proposal.author_id != event.organizer_id)
        .limit(1)
    )
    assert voted is not None and author is not None
    # The member's login session: the access check reads it (kept, like the seeded rows).
    session_id = await open_session(session, voted, timedelta(days=1))
    voters = await session.scalars(
        select(Membership.user_id)
        .where(Membership.event_id == event_id, Membership.user_id != voted)
        .order_by(Membership.id)
        .limit(10)
    )
    targets = await session.scalars(
        select(Proposal.id).where(Proposal.event_id == event_id).order_by(Proposal.id).limit(10)
    )
    ballots = [
        batched.Ballot(target, voter, await open_session(session, voter, timedelta(days=1)))
        for voter, target in zip(list(voters), list(targets), strict=True)
    ]
    await session.commit()
    member = Caller(voted, session_id)
    return Ids(event_id, member, proposal, commented, busy, event.last_seq, author, ballots)  # type: ignore[arg-type]


def shape(plan: list[str]) -> list[str]:
    """A plan without numbers: node types and index names, to compare plans."""
    return [re.sub(r"\(.*?\)|\d+(\.\d+)?", "", line).strip() for line in plan if "->" in line]


def literal(value: Any) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, int | float):
        return str(value)
    return "'" + str(value).replace("'", "''") + "'"


async def generic_plan(raw: asyncpg.Connection, sql: str, params: Any) -> list[str]:
    """The plan a prepared statement gets once PostgreSQL switches to a generic plan."""
    await raw.execute(f"PREPARE generic_q AS {sql}")
    try:
        await raw.execute("SET LOCAL plan_cache_mode = force_generic_plan")
        args = ", ".join(literal(p) for p in params)
        rows = await raw.fetch(
            f"EXPLAIN EXECUTE generic_q({args})" if args else "EXPLAIN EXECUTE generic_q"
        )
        await raw.execute("SET LOCAL plan_cache_mode = auto")
    finally:
        await raw.execute("DEALLOCATE generic_q")
    return [r[0] for r in rows]


async def explain_all(settings: Settings) -> tuple[Ids, list[dict[str, Any]]]:
    engine = create_engine(settings)
    sessionmaker = create_sessionmaker(engine)
    recorded: list[tuple[str, Any]] = []

    @event.listens_for(engine.sync_engine, "before_cursor_execute")
    def _record(conn: Any, cursor: Any, sql: str, params: Any, context: Any, many: bool) -> None:
        recorded.append((sql, params[0] if many else params))

    async with sessionmaker() as session:
        ids = await pick_ids(session)
    raw = await asyncpg.connect(f"{PG}/{DATABASE}")
    await raw.set_type_codec("jsonb", encoder=str, decoder=str, schema="pg_catalog")
    results = []
    try:
        for scenario in SCENARIOS:
            recorded.clear()
            async with sessionmaker() as session:
                await scenario.run(session, ids)
                await session.rollback()
            statements = list(recorded)
            steps = []
            tr = raw.transaction()
            await tr.start()
            try:
                for sql, params in statements:
                    rows = await raw.fetch(f"EXPLAIN (ANALYZE, BUFFERS) {sql}", *params)
                    plan = [r[0] for r in rows]
                    generic = None
                    if sql.lstrip().upper().startswith("SELECT"):
                        generic = await generic_plan(raw, sql, params)
                        if shape(generic) == shape(plan):
                            generic = None
                    steps.append({"sql": sql, "params": params, "plan": plan, "generic": generic})
            finally:
                await tr.rollback()
            results.append({"scenario": scenario, "steps": steps})
    finally:
        await raw.close()
        await engine.dispose()
    return ids, results


def check(scenario: Scenario, steps: list[dict[str, Any]]) -> list[str]:
    verdicts = []
    for i, step in enumerate(steps):
        text = "\n".join(step["plan"])
        expected = scenario.expect.get(i)
        if expected and not re.search(expected, text):
            verdicts.append(f"statement {i + 1}: MISSING index {expected}")
        elif "Seq Scan" in text:
            verdicts.append(f"statement {i + 1}: sequential scan")
        elif expected:
            verdicts.append(f"statement {i + 1}: OK ({expected.replace('|', ', ')})")
    return verdicts


def fmt_params(params: Any) -> str:
    return json.dumps([str(p) if not isinstance(p, int | float | None) else p for p in params])


def markdown(counts: dict[str, int], ids: Ids, results: list[dict[str, Any]]) -> str:
    out = [
        f"Database `{DATABASE}`: "
        + ", ".join(f"{n:,} {table}" for table, n in counts.items())
        + f". Hot event `{ids.event}` (last_seq {ids.last_seq:,}).",
        "",
    ]
    for result in results:
        scenario: Scenario = result["scenario"]
        out += [f"### {scenario.title}", ""]
        out += [f"- {v}" for v in check(scenario, result["steps"])]
        for i, step in enumerate(result["steps"], 1):
            out += [
                "",
                f"{i}. `{step['sql']}`",
                "",
                f"   parameters: `{fmt_params(step['params'])}`",
                "",
                "```",
                *step["plan"],
                "```",
            ]
            if step["generic"]:
                out += ["", "Generic plan (prepared statement, 6th run on):", "", "```"]
                out += [*step["generic"], "```"]
        out.append("")
    return "\n".join(out)


async def table_counts() -> dict[str, int]:
    conn = await asyncpg.connect(f"{PG}/{DATABASE}")
    try:
        tables = ("users", "events", "memberships", "proposals", "votes", "comments", "event_log")
        return {t: await conn.fetchval(f"SELECT count(*) FROM {t}") for t in tables}  # noqa: S608
    finally:
        await conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, help="write the Markdown here (default: stdout)")
    parser.add_argument("--no-seed", action="store_true", help="reuse the seeded database")
    args = parser.parse_args()
    if not args.no_seed:
        seed()
    settings = Settings(
        database_url=f"{PG.replace('postgresql://', 'postgresql+asyncpg://', 1)}/{DATABASE}",
        secret_key="explain-" + "x" * 32,
    )
    ids, results = asyncio.run(explain_all(settings))
    text = markdown(asyncio.run(table_counts()), ids, results)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text)
    else:
        print(text)


if __name__ == "__main__":
    main()
