"""Votes that reach one event together are cast by one statement (quorum/decisions/
batched.py), on a real migrated PostgreSQL database. What a batch answers for each vote
is what ``at_once.VOTE`` answers for it alone, in the same order, on the same data: the
rows, the log entries (numbers, payloads), the counts. A batch that would accept a
proposal, or that finds the event closed after its snapshot, writes nothing and its
votes are cast one by one. And through the service, concurrent votes share statements
and every invariant holds."""

import asyncio
import uuid
from datetime import timedelta
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from quorum.accounts.tokens import Caller
from quorum.db.base import utcnow
from quorum.db.engine import create_sessionmaker
from quorum.db.uow import UnitOfWork
from quorum.decisions import at_once, batched, service
from quorum.decisions.models import Proposal, ProposalKind, ProposalStatus, Vote
from tests import test_vote_statement as single
from tests.test_vote_statement import Recorder, _blocked_on_lock, _count, _logged, _seed

pg, engine = single.pg, single.engine  # its fixtures: a migrated database, an engine on it


async def _add_proposal(
    engine: AsyncEngine, event_id: uuid.UUID, author: Caller, status: ProposalStatus
) -> uuid.UUID:
    proposal = Proposal(
        event_id=event_id,
        kind=ProposalKind.ASSUMPTION,
        title=f"Another {status.value.lower()} one",
        author_id=author.user_id,
        status=status,
        vote_count=0,
        created_at=utcnow(),
    )
    async with async_sessionmaker(engine, expire_on_commit=False)() as session:
        session.add(proposal)
        await session.commit()
    return proposal.id


async def _world(engine: AsyncEngine) -> dict[str, Any]:
    """An event with a PENDING and a REJECTED proposal; members m0 (organizer) to m3, of
    whom m2 voted on the pending one already, m3's login session has expired, and m4
    only asked to join."""
    event_id, pending, callers = await _seed(engine, threshold=None, members=5)
    rejected = await _add_proposal(engine, event_id, callers[0], ProposalStatus.REJECTED)
    async with engine.begin() as connection:
        await connection.execute(
            text("UPDATE sessions SET expires_at = :past WHERE id = :id"),
            {"past": utcnow() - timedelta(minutes=1), "id": callers[3].session_id},
        )
        await connection.execute(
            text("UPDATE memberships SET status = 'PENDING' WHERE user_id = :id"),
            {"id": callers[4].user_id},
        )
    await at_once.fetch(engine, at_once.VOTE, at_once.parameters(event_id, pending, *callers[2]))
    return {"event": event_id, "pending": pending, "rejected": rejected, "m": callers}


def _ballots(world: dict[str, Any], unknown: uuid.UUID) -> list[batched.Ballot]:
    m, pending = world["m"], world["pending"]
    return [
        batched.Ballot(pending, *m[1]),
        batched.Ballot(pending, *m[1]),  # twice in one batch
        batched.Ballot(pending, *m[2]),  # voted before
        batched.Ballot(pending, *m[3]),  # expired login session
        batched.Ballot(pending, *m[4]),  # not an approved member
        batched.Ballot(world["rejected"], *m[1]),  # not votable
        batched.Ballot(unknown, *m[1]),  # no such proposal
        batched.Ballot(pending, *m[0]),
        batched.Ballot(world["rejected"], *m[0]),
    ]


def _batch_params(event_id: uuid.UUID, ballots: list[batched.Ballot]) -> dict[str, Any]:
    return {
        "p_event": event_id,
        "now": utcnow(),
        "p_proposals": [b.proposal_id for b in ballots],
        "p_users": [b.user_id for b in ballots],
        "p_sessions": [b.session_id for b in ballots],
    }


def _named(value: Any, names: dict[Any, str]) -> Any:
    """``value`` with the ids of one world replaced by their names in it."""
    if isinstance(value, dict):
        return {k: _named(v, names) for k, v in value.items()}
    if isinstance(value, list):
        return [_named(v, names) for v in value]
    return names.get(value, names.get(str(value), value))


def _names(world: dict[str, Any], unknown: uuid.UUID) -> dict[Any, str]:
    names: dict[Any, str] = {world["event"]: "event", world["pending"]: "pending"}
    names |= {world["rejected"]: "rejected", unknown: "unknown"}
    for i, caller in enumerate(world["m"]):
        names |= {caller.user_id: f"m{i}", caller.session_id: f"s{i}"}
    return names | {str(k): v for k, v in names.items()}


async def test_a_batch_answers_each_vote_as_it_would_be_answered_alone(
    engine: AsyncEngine,
) -> None:
    """Two identical worlds: in one the ballots are cast by one ``BATCH`` statement, in
    the other one by one with ``VOTE``, in the same order. Every row's columns, the log
    and the counts agree, but for one: the second ballot of a voter for the same
    proposal in one batch was not yet voted in the batch's snapshot (``had_vote``);
    both paths refuse it (not inserted: the service says ``already_voted``)."""
    together, alone = await _world(engine), await _world(engine)
    unknown = uuid.uuid4()

    batch = await at_once.fetch(
        engine, batched.BATCH, _batch_params(together["event"], _ballots(together, unknown))
    )
    one_by_one = [
        (await at_once.fetch(engine, at_once.VOTE, at_once.parameters(alone["event"], *b)))
        for b in _ballots(alone, unknown)
    ]

    assert not isinstance(batch, at_once.Refused)
    rows = [_named(vars(r), _names(together, unknown)) for r in batch]
    expected = [
        _named(vars(r[0]), _names(alone, unknown))  # type: ignore[index]
        for r in one_by_one
    ]
    for row in rows + expected:
        row.pop("refused")
        row.pop("created_at")  # the proposals' creation times, set apart by the seeding
    assert rows[1].pop("had_vote") is False and expected[1].pop("had_vote") is True
    assert rows == expected
    assert [r["inserted"] for r in rows] == [1, 0, 0, 0, 0, 0, 0, 1, 0]
    assert [r["vote_count"] for r in rows if r["inserted"]] == [2, 3]
    logged = [
        (e.seq, e.type, _named(e.data, _names(together, unknown)))
        for e in await _logged(engine, together["event"])
    ]
    assert logged == [
        (e.seq, e.type, _named(e.data, _names(alone, unknown)))
        for e in await _logged(engine, alone["event"])
    ]
    assert [s for s, *_ in logged] == list(range(1, len(logged) + 1))  # gap-free
    assert await _count(engine, together["pending"]) == (3, 3)


async def test_a_batch_that_would_accept_writes_nothing(engine: AsyncEngine) -> None:
    """Acceptance is ``VOTE``'s to decide: the batch refuses as a whole, and cast one by
    one the same votes accept the proposal once, at the threshold."""
    event_id, proposal_id, callers = await _seed(engine, threshold=2, members=4)
    ballots = [batched.Ballot(proposal_id, *c) for c in callers[1:]]

    refused = await at_once.fetch(engine, batched.BATCH, _batch_params(event_id, ballots))

    assert refused == at_once.Refused(batched.BATCH_REFUSED)
    assert await _count(engine, proposal_id) == (0, 0)
    assert await _logged(engine, event_id) == []

    rows = await batched._cast_many(engine, event_id, ballots)

    assert [(r.inserted, r.status) for r in rows] == [
        (1, ProposalStatus.PENDING),
        (1, ProposalStatus.ACCEPTED),
        (0, None),
    ]
    assert rows[2].snapshot_status == ProposalStatus.ACCEPTED
    assert [e.type for e in await _logged(engine, event_id)] == [
        "vote.cast",
        "vote.cast",
        "proposal.updated",
    ]
    assert await _count(engine, proposal_id) == (2, 2)


async def test_a_batch_finding_the_event_closed_writes_nothing(engine: AsyncEngine) -> None:
    """The event closes while the batch waits for its row, after the batch's snapshot:
    the counter finds it closed, the batch refuses, and each vote cast alone sees the
    event closed."""
    event_id, proposal_id, callers = await _seed(engine, threshold=None, members=3)
    ballots = [batched.Ballot(proposal_id, *c) for c in callers[1:]]
    async with engine.connect() as holder:
        await holder.execute(
            text("SELECT 1 FROM events WHERE id = :id FOR UPDATE"), {"id": event_id}
        )
        cast = asyncio.create_task(batched._cast_many(engine, event_id, ballots))
        await _blocked_on_lock(engine)
        await holder.execute(
            text("UPDATE events SET status = 'CLOSED' WHERE id = :id"), {"id": event_id}
        )
        await holder.commit()

    rows = await cast

    assert [(r.inserted, r.event_status) for r in rows] == [(0, "CLOSED"), (0, "CLOSED")]
    assert await _count(engine, proposal_id) == (0, 0)
    assert await _logged(engine, event_id) == []


async def test_votes_cast_together_share_statements(engine: AsyncEngine) -> None:
    """Thirty members vote at once, through the service and the sessions the app makes
    (which carry the batchers): fewer statements than votes, every vote answered, the
    log gap-free in the order of the counts, and what was published is what was
    logged."""
    recorder = Recorder(engine)
    event_id, first, callers = await _seed(engine, threshold=None, members=31)
    second = await _add_proposal(engine, event_id, callers[0], ProposalStatus.PENDING)
    uow = UnitOfWork(create_sessionmaker(engine), recorder.publish)

    async def vote(caller: Caller, proposal_id: uuid.UUID) -> int:
        async with uow.transaction() as session:
            out = await service.cast_vote_as(session, caller, event_id, proposal_id)
        return out.proposal.vote_count or 0

    voters = callers[1:]
    proposals = [first if i % 3 else second for i in range(len(voters))]
    counts = await asyncio.gather(*(vote(c, p) for c, p in zip(voters, proposals, strict=True)))

    statements = [s for s in recorder.statements if s.lstrip().startswith("WITH")]
    assert 1 <= len(statements) < len(voters), len(statements)
    assert any("quorum_batch" in s for s in statements)
    for proposal_id in (first, second):
        n = proposals.count(proposal_id)
        assert await _count(engine, proposal_id) == (n, n)
        assert sorted(c for c, p in zip(counts, proposals, strict=True) if p == proposal_id) == (
            list(range(1, n + 1))
        )
    logged = await _logged(engine, event_id)
    assert [e.seq for e in logged] == list(range(1, len(voters) + 1))
    for proposal_id in (first, second):
        mine = [e.data["vote_count"] for e in logged if e.data["proposal_id"] == str(proposal_id)]
        assert mine == list(range(1, len(mine) + 1))  # numbered in the order they counted
    assert sorted(recorder.published, key=lambda e: e.seq) == logged
    async with engine.connect() as connection:
        rows = await connection.scalar(select(func.count()).select_from(Vote))
    assert rows is not None and rows >= len(voters)
