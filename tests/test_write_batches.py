"""Votes (and comments) that reach one event together are written by one statement
(quorum/decisions/batched.py), on a real migrated PostgreSQL database. What a batch
answers for each is what ``at_once.VOTE`` (``COMMENT``) answers for it alone, in the
same order, on the same data: the rows, the log entries (numbers, payloads), the
counts. A batch that would accept a proposal, or that finds the event closed after its
snapshot, writes nothing and its writes are made one by one. And through the service,
concurrent votes and comments share statements, never deadlock each other, and every
invariant holds."""

import asyncio
import uuid
from datetime import timedelta
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from quorum.accounts.tokens import Caller
from quorum.db.base import utcnow, uuid7
from quorum.db.engine import create_sessionmaker
from quorum.db.uow import UnitOfWork
from quorum.decisions import at_once, batched, service, views
from quorum.decisions.events import CommentCreated
from quorum.decisions.models import Comment, Proposal, ProposalKind, ProposalStatus, Vote
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
        engine,
        batched.BATCH,
        batched.VOTES_KIND.together_params(together["event"], _ballots(together, unknown)),
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

    refused = await at_once.fetch(
        engine, batched.BATCH, batched.VOTES_KIND.together_params(event_id, ballots)
    )

    assert refused == at_once.Refused(batched.BATCH_REFUSED)
    assert await _count(engine, proposal_id) == (0, 0)
    assert await _logged(engine, event_id) == []

    rows = await batched.write_many(engine, batched.VOTES_KIND, event_id, ballots)

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
        cast = asyncio.create_task(
            batched.write_many(engine, batched.VOTES_KIND, event_id, ballots)
        )
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


def _notes(world: dict[str, Any], unknown: uuid.UUID, deleted: uuid.UUID) -> list[batched.Note]:
    m, pending = world["m"], world["pending"]
    writes = [
        (pending, m[1]),
        (pending, m[1]),  # a second comment of the same author: both go in
        (pending, m[3]),  # expired login session
        (pending, m[4]),  # not an approved member
        (deleted, m[1]),  # takes no comments
        (unknown, m[1]),  # no such proposal
        (world["rejected"], m[0]),  # decided proposals take comments
    ]
    notes = []
    for i, (proposal_id, caller) in enumerate(writes):
        out = CommentCreated(
            id=uuid7(),
            proposal_id=proposal_id,
            author=views.person(caller.user_id, ""),
            body=f"Comment {i}",
            created_at=utcnow(),
        )
        entry = out.model_dump(mode="json")
        notes.append(batched.Note(out.id, proposal_id, *caller, out.body, out.created_at, entry))
    return notes


async def test_a_comment_batch_answers_each_comment_as_it_would_be_answered_alone(
    engine: AsyncEngine,
) -> None:
    together, alone = await _world(engine), await _world(engine)
    unknown = uuid.uuid4()
    gone = [
        await _add_proposal(engine, w["event"], w["m"][0], ProposalStatus.DELETED)
        for w in (together, alone)
    ]
    notes = {
        "together": _notes(together, unknown, gone[0]),
        "alone": _notes(alone, unknown, gone[1]),
    }
    names = {
        "together": _names(together, unknown) | {gone[0]: "deleted", str(gone[0]): "deleted"},
        "alone": _names(alone, unknown) | {gone[1]: "deleted", str(gone[1]): "deleted"},
    }
    for key in names:
        for i, note in enumerate(notes[key]):
            names[key] |= {note.comment_id: f"c{i}", str(note.comment_id): f"c{i}"}
            names[key] |= {note.entry["created_at"]: f"t{i}"}

    batch = await at_once.fetch(
        engine,
        batched.COMMENT_BATCH,
        batched.COMMENTS_KIND.together_params(together["event"], notes["together"]),
    )
    one_by_one = [
        await at_once.fetch(
            engine, at_once.COMMENT, batched.COMMENTS_KIND.alone_params(alone["event"], note)
        )
        for note in notes["alone"]
    ]

    assert not isinstance(batch, at_once.Refused)
    rows = [_named(vars(r), names["together"]) for r in batch]
    expected = [_named(vars(r[0]), names["alone"]) for r in one_by_one]  # type: ignore[index]
    assert rows == expected
    assert [r["inserted"] for r in rows] == [1, 1, 0, 0, 0, 0, 1]

    def log_of(key: str, entries: list[Any]) -> list[Any]:
        return [(e.seq, e.type, _named(e.data, names[key])) for e in entries]

    logged = log_of("together", await _logged(engine, together["event"]))
    assert logged == log_of("alone", await _logged(engine, alone["event"]))
    assert [e[2]["author"]["display_name"] for e in logged if e[1] == "comment.created"] == [
        "Voter 1",
        "Voter 1",
        "Voter 0",
    ]


async def test_votes_and_comments_written_together_never_deadlock(engine: AsyncEngine) -> None:
    """Thirty members vote and comment on three proposals at once, several times over:
    comments hold proposals FOR SHARE and votes update them, both then take the event
    row. Every write is answered, fewer statements than writes are sent, and the log
    is gap-free with every count matching its rows."""
    recorder = Recorder(engine)
    event_id, first, callers = await _seed(engine, threshold=None, members=31)
    others = [
        await _add_proposal(engine, event_id, callers[0], ProposalStatus.PENDING) for _ in range(2)
    ]
    proposals = [first, *others]
    uow = UnitOfWork(create_sessionmaker(engine), recorder.publish)

    async def write(i: int, caller: Caller) -> None:
        proposal_id = proposals[i % 3]
        async with uow.transaction() as session:
            if i % 2:
                await service.add_comment_as(session, caller, event_id, proposal_id, f"Note {i}")
            else:
                await service.cast_vote_as(session, caller, event_id, proposal_id)

    for round_ in range(3):
        await asyncio.gather(*(write(i + round_, c) for i, c in enumerate(callers[1:])))

    statements = [s for s in recorder.statements if s.lstrip().startswith("WITH")]
    assert len(statements) < 90, len(statements)
    logged = await _logged(engine, event_id)
    assert [e.seq for e in logged] == list(range(1, 91))
    assert sorted(recorder.published, key=lambda e: e.seq) == logged
    votes = [e for e in logged if e.type == "vote.cast"]
    for proposal_id in proposals:
        mine = [e.data["vote_count"] for e in votes if e.data["proposal_id"] == str(proposal_id)]
        assert await _count(engine, proposal_id) == (len(mine), len(mine))
        assert mine == list(range(1, len(mine) + 1))
    async with engine.connect() as connection:
        comments = await connection.scalar(
            select(func.count()).select_from(Comment).where(Comment.proposal_id.in_(proposals))
        )
    assert comments == sum(e.type == "comment.created" for e in logged)
