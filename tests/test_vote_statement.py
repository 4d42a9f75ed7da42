"""On PostgreSQL a member's vote is one statement and no transaction around it (issue
11): the statement autocommits, so nothing it locks waits on a client round trip, and
it reads the access check's rows too, so a member's vote is one round trip in all. Run
against a real migrated PostgreSQL database, calling the use case directly: every SQL
statement SQLAlchemy gives the driver is counted with ``before_cursor_execute``, and
every BEGIN and COMMIT (which asyncpg sends itself) with asyncpg's query logger. The
published entries are compared with the log rows the statement wrote. The statement
refuses as a whole: what it wrote before a later step found the event closed, or the
proposal decided, does not survive."""

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import event, func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlalchemy.orm import selectinload

from quorum.accounts.models import LoginSession, User
from quorum.accounts.tokens import Caller
from quorum.db.base import utcnow
from quorum.db.uow import UnitOfWork
from quorum.decisions import service, views
from quorum.decisions.access import EventAccess
from quorum.decisions.events import ProposalCreated, ProposalUpdated
from quorum.decisions.models import (
    Event,
    EventStatus,
    Membership,
    MembershipStatus,
    Proposal,
    ProposalKind,
    ProposalStatus,
    Role,
    Vote,
)
from quorum.decisions.schemas import EventUpdate, ProposalCreate, ProposalOut
from quorum.errors import Conflict, NotFound, PermissionDenied, Unauthenticated
from quorum.realtime.log import LogEntry
from quorum.realtime.message import Entry
from tests.services import Backend, create_backend, drop_backend


@pytest.fixture(scope="module")
def pg(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Backend]:
    backend = create_backend("postgresql", tmp_path_factory.mktemp("pg"))
    yield backend
    drop_backend(backend)


@pytest.fixture
async def engine(pg: Backend) -> AsyncIterator[AsyncEngine]:
    created = create_async_engine(pg.url, pool_size=20)
    yield created
    await created.dispose()


class Recorder:
    """The statements sent (SQL, and asyncpg's own BEGIN and COMMIT), and what was
    published after commit."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.statements: list[str] = []
        self.published: list[Entry] = []
        event.listen(engine.sync_engine, "before_cursor_execute", self._executed)
        event.listen(engine.sync_engine, "connect", self._connected)

    def _executed(self, *args: Any) -> None:
        self.statements.append(args[2])

    def _connected(self, dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.driver_connection.add_query_logger(self._logged)

    def _logged(self, record: Any) -> None:
        self.statements.append(record.query)

    async def publish(self, entries: Sequence[Entry]) -> None:
        self.published.extend(entries)

    def transactions(self) -> list[str]:
        return [
            s.split()[0].rstrip(";")
            for s in self.statements
            if s.split()[0].rstrip(";") in ("BEGIN", "COMMIT")
        ]


async def _seed(
    engine: AsyncEngine, threshold: int | None, members: int = 3
) -> tuple[uuid.UUID, uuid.UUID, list[Caller]]:
    """An event with ``members`` approved members (the first its organizer), each with a
    live login session, and one PENDING proposal."""
    sessionmaker = async_sessionmaker(engine, expire_on_commit=False)
    users = [
        User(email=f"{uuid.uuid4().hex}@example.com", display_name=f"Voter {i}", password_hash="x")
        for i in range(members)
    ]
    async with sessionmaker() as session:
        session.add_all(users)
        await session.flush()
        logins = [
            LoginSession(user_id=u.id, expires_at=utcnow() + timedelta(hours=1)) for u in users
        ]
        session.add_all(logins)
        meeting = Event(title="Budget", organizer_id=users[0].id, vote_threshold=threshold)
        session.add(meeting)
        await session.flush()
        session.add_all(
            Membership(
                event_id=meeting.id,
                user_id=user.id,
                role=Role.ORGANIZER if i == 0 else Role.MEMBER,
                status=MembershipStatus.APPROVED,
            )
            for i, user in enumerate(users)
        )
        proposal = Proposal(
            event_id=meeting.id,
            kind=ProposalKind.CONCLUSION,
            title="A bench",
            author_id=users[0].id,
            status=ProposalStatus.PENDING,
            vote_count=0,
            created_at=utcnow(),
        )
        session.add(proposal)
        await session.commit()
    return meeting.id, proposal.id, [Caller(u.id, s.id) for u, s in zip(users, logins, strict=True)]


def _uow(engine: AsyncEngine, recorder: Recorder) -> UnitOfWork:
    return UnitOfWork(async_sessionmaker(engine, expire_on_commit=False), recorder.publish)


def _closing(
    engine: AsyncEngine, recorder: Recorder, event_id: uuid.UUID, organizer_id: uuid.UUID
) -> Callable[[], Awaitable[None]]:
    """The organizer closing the event 20 ms from when it is awaited: a race's other side."""
    organizer = EventAccess(
        event_id, organizer_id, Role.ORGANIZER, EventStatus.OPEN, None, "Voter 0", False, False
    )

    async def close() -> None:
        await asyncio.sleep(0.02)
        async with _uow(engine, recorder).transaction() as session:
            await service.update_event(session, organizer, EventUpdate(status=EventStatus.CLOSED))

    return close


async def _vote(
    engine: AsyncEngine,
    recorder: Recorder,
    caller: Caller,
    event_id: uuid.UUID,
    proposal_id: uuid.UUID,
    *,
    withdraw: bool = False,
) -> list[str]:
    """The route's work: its unit of work around the use case; the statements sent."""
    recorder.statements.clear()
    async with _uow(engine, recorder).transaction() as session:
        if withdraw:
            await service.withdraw_vote_as(session, caller, event_id, proposal_id)
        else:
            await service.cast_vote_as(session, caller, event_id, proposal_id)
    return list(recorder.statements)


async def _logged(engine: AsyncEngine, event_id: uuid.UUID) -> list[Entry]:
    async with async_sessionmaker(engine)() as session:
        rows = await session.scalars(
            select(LogEntry).where(LogEntry.topic_id == event_id).order_by(LogEntry.seq)
        )
        return [Entry(r.topic_id, r.seq, r.type, r.data) for r in rows]


async def _count(engine: AsyncEngine, proposal_id: uuid.UUID) -> tuple[int, int]:
    """The proposal's ``vote_count`` and its vote rows."""
    async with engine.connect() as connection:
        count = await connection.scalar(
            select(Proposal.vote_count).where(Proposal.id == proposal_id)
        )
        rows = await connection.scalar(
            select(func.count()).select_from(Vote).where(Vote.proposal_id == proposal_id)
        )
        return int(count or 0), int(rows or 0)


async def _as_built(
    engine: AsyncEngine,
    proposal_id: uuid.UUID,
    hidden: bool,
    cls: type[ProposalCreated | ProposalUpdated] = ProposalCreated,
) -> dict[str, Any]:
    """The payload (``cls``: a ``proposal.created``, or ``proposal.updated``) that the
    serialised path builds in Python for the proposal as it is now."""
    async with async_sessionmaker(engine)() as session:
        row = await session.scalar(
            select(Proposal)
            .where(Proposal.id == proposal_id)
            .options(selectinload(Proposal.author), selectinload(Proposal.decided_by))
        )
        assert row is not None
        return views.proposal_of(cls, row, tally_hidden=hidden).entry()[1]


async def test_a_vote_is_one_autocommitted_statement(engine: AsyncEngine) -> None:
    recorder = Recorder(engine)
    event_id, proposal_id, callers = await _seed(engine, threshold=5)

    sent = await _vote(engine, recorder, callers[1], event_id, proposal_id)

    assert len(sent) == 1, sent  # the access check, the vote and its entry: no BEGIN, no COMMIT
    assert sent[0].lstrip().startswith("WITH")
    logged = await _logged(engine, event_id)
    assert [(e.seq, e.type, e.data["vote_count"]) for e in logged] == [(1, "vote.cast", 1)]
    assert logged[0].data["user"] == {"id": str(callers[1].user_id), "display_name": "Voter 1"}
    assert recorder.published == logged
    assert await _count(engine, proposal_id) == (1, 1)


@pytest.mark.parametrize("hidden", [False, True])
async def test_the_accepting_vote_is_one_autocommitted_statement(
    engine: AsyncEngine, hidden: bool
) -> None:
    """The vote that reaches the threshold accepts the proposal in the same statement:
    two numbers, two entries, no BEGIN or COMMIT. The acceptance's payload, built in
    SQL, is the one Python builds from the accepted row, timestamps to the character
    (a creation time on a whole second, an edit time with trailing zeros); a keyed
    vote, which runs the statement in its transaction, writes the same."""
    recorder = Recorder(engine)
    event_id, proposal_id, callers = await _seed(engine, threshold=2, members=5)
    async with engine.begin() as connection:
        await connection.execute(
            text(
                "UPDATE proposals SET created_at = '2026-11-30 01:02:03+00',"
                " edited_at = '2026-11-30 04:05:06.12+00' WHERE event_id = :id"
            ),
            {"id": event_id},
        )
        await connection.execute(
            text("UPDATE events SET hidden_tallies = :hidden WHERE id = :id"),
            {"hidden": hidden, "id": event_id},
        )
    await _vote(engine, recorder, callers[1], event_id, proposal_id)

    sent = await _vote(engine, recorder, callers[2], event_id, proposal_id)

    assert len(sent) == 1, sent
    assert recorder.transactions() == []
    logged = await _logged(engine, event_id)
    assert [(e.seq, e.type) for e in logged] == [
        (1, "vote.cast"),
        (2, "vote.cast"),
        (3, "proposal.updated"),
    ]
    assert logged[1].data["vote_count"] == 2
    assert logged[2].data["status"] == ProposalStatus.ACCEPTED
    assert logged[2].data["decided_by"] == {"kind": "auto"}
    assert logged[2].data["created_at"] == "2026-11-30T01:02:03Z"
    assert logged[2].data["edited_at"] == "2026-11-30T04:05:06.120000Z"
    assert logged[2].data == await _as_built(engine, proposal_id, hidden, ProposalUpdated)
    assert recorder.published == logged
    assert await _count(engine, proposal_id) == (2, 2)

    # A keyed vote: the same statement inside the request's transaction.
    second = await _seed(engine, threshold=1)
    recorder.published.clear()
    recorder.statements.clear()
    async with _uow(engine, recorder).transaction() as session:
        await service.cast_vote_as(session, second[2][1], second[0], second[1], keyed=True)
    assert recorder.transactions() == ["BEGIN", "COMMIT"]
    keyed = await _logged(engine, second[0])
    assert [e.type for e in keyed] == ["vote.cast", "proposal.updated"]
    assert keyed[1].data == await _as_built(engine, second[1], False, ProposalUpdated)
    assert recorder.published == keyed


@pytest.mark.parametrize(("before", "after", "accepted"), [(5, 1, True), (1, 5, False)])
async def test_a_vote_reruns_when_the_threshold_changed_after_its_snapshot(
    engine: AsyncEngine, before: int, after: int, accepted: bool
) -> None:
    """The threshold changes while the vote waits for the event row: the proposal's
    UPDATE decided on the snapshot's, the counter reads the new one, and where they
    disagree the statement refuses and runs again, on a snapshot that sees the change:
    the vote accepts exactly when the new threshold says so."""
    recorder = Recorder(engine)
    event_id, proposal_id, callers = await _seed(engine, threshold=before)
    params = {"event": event_id, "after": after}
    async with engine.connect() as holder:
        await holder.execute(text("SELECT 1 FROM events WHERE id = :event FOR UPDATE"), params)
        vote = asyncio.create_task(_vote(engine, recorder, callers[1], event_id, proposal_id))
        await _blocked_on_lock(engine)
        await holder.execute(
            text("UPDATE events SET vote_threshold = :after WHERE id = :event"), params
        )
        await holder.commit()

    sent = [s for s in await vote if s.lstrip().startswith("WITH")]
    assert len(sent) == 2, sent  # refused once, then answered
    logged = await _logged(engine, event_id)
    types = ["vote.cast", "proposal.updated"] if accepted else ["vote.cast"]
    assert [(e.seq, e.type) for e in logged] == list(enumerate(types, start=1))
    assert recorder.published == logged
    async with engine.connect() as connection:
        status = await connection.scalar(select(Proposal.status).where(Proposal.id == proposal_id))
    assert status == (ProposalStatus.ACCEPTED if accepted else ProposalStatus.PENDING)
    assert await _count(engine, proposal_id) == (1, 1)


async def test_a_second_vote_is_refused_by_the_one_statement(engine: AsyncEngine) -> None:
    recorder = Recorder(engine)
    event_id, proposal_id, callers = await _seed(engine, threshold=5)
    await _vote(engine, recorder, callers[1], event_id, proposal_id)

    with pytest.raises(Conflict) as refused:
        await _vote(engine, recorder, callers[1], event_id, proposal_id)

    assert refused.value.code == "already_voted"
    assert len(recorder.statements) == 1, recorder.statements
    assert [e.seq for e in await _logged(engine, event_id)] == [1]


async def test_a_withdrawal_is_one_autocommitted_statement(engine: AsyncEngine) -> None:
    recorder = Recorder(engine)
    event_id, proposal_id, callers = await _seed(engine, threshold=5)
    await _vote(engine, recorder, callers[1], event_id, proposal_id)
    recorder.published.clear()

    sent = await _vote(engine, recorder, callers[1], event_id, proposal_id, withdraw=True)

    assert len(sent) == 1, sent
    logged = await _logged(engine, event_id)
    assert [(e.seq, e.type, e.data["vote_count"]) for e in logged] == [
        (1, "vote.cast", 1),
        (2, "vote.withdrawn", 0),
    ]
    assert logged[1].data["user"] == {"id": str(callers[1].user_id), "display_name": "Voter 1"}
    assert recorder.published == logged[1:]
    with pytest.raises(NotFound) as missing:
        await _vote(engine, recorder, callers[1], event_id, proposal_id, withdraw=True)
    assert missing.value.code == "vote_not_found"


async def _blocked_on_lock(engine: AsyncEngine) -> None:
    """Until some backend waits for a row lock (the vote, behind the test's lock)."""
    for _ in range(500):
        async with engine.connect() as connection:
            waiting = await connection.scalar(
                text(
                    "SELECT count(*) FROM pg_stat_activity"
                    " WHERE wait_event_type = 'Lock' AND datname = current_database()"
                )
            )
        if waiting:
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the vote never waited for the lock")


@pytest.mark.parametrize(
    ("lock", "change", "code"),
    [
        (
            "SELECT 1 FROM events WHERE id = :event FOR UPDATE",
            "UPDATE events SET status = 'CLOSED' WHERE id = :event",
            "event_closed",
        ),
        (
            "SELECT 1 FROM proposals WHERE id = :proposal FOR UPDATE",
            "UPDATE proposals SET status = 'ACCEPTED' WHERE id = :proposal",
            "proposal_not_pending",
        ),
    ],
)
async def test_a_vote_refused_after_its_insert_leaves_nothing(
    engine: AsyncEngine, lock: str, change: str, code: str
) -> None:
    """The vote row is inserted, then the proposal's (or the event row's) UPDATE waits
    for a lock whose holder commits a decision (a close): READ COMMITTED lets the
    UPDATE see it, and the statement raises, so its vote row goes too."""
    recorder = Recorder(engine)
    event_id, proposal_id, callers = await _seed(engine, threshold=None)
    params = {"event": event_id, "proposal": proposal_id}
    async with engine.connect() as holder:
        await holder.execute(text(lock), params)
        vote = asyncio.create_task(_vote(engine, recorder, callers[1], event_id, proposal_id))
        await _blocked_on_lock(engine)
        await holder.execute(text(change), params)
        await holder.commit()

    with pytest.raises(Conflict) as refused:
        await vote
    assert refused.value.code == code
    assert await _count(engine, proposal_id) == (0, 0)
    assert await _logged(engine, event_id) == []
    assert recorder.published == []


async def test_votes_racing_a_close_count_exactly_the_votes_logged_before_it(
    engine: AsyncEngine,
) -> None:
    """Forty members vote while the organizer closes the event: every vote either
    counted and was logged before the close, or left nothing (``event_closed``)."""
    recorder = Recorder(engine)
    event_id, proposal_id, callers = await _seed(engine, threshold=None, members=41)
    close = _closing(engine, recorder, event_id, callers[0].user_id)
    votes = [_vote(engine, recorder, c, event_id, proposal_id) for c in callers[1:]]
    outcomes = await asyncio.gather(close(), *votes, return_exceptions=True)

    refused = [o for o in outcomes if isinstance(o, BaseException)]
    assert all(isinstance(o, Conflict) and o.code == "event_closed" for o in refused), refused
    logged = await _logged(engine, event_id)
    closed_at = next(e.seq for e in logged if e.type == "event.updated")
    cast = [e for e in logged if e.type == "vote.cast"]
    assert all(e.seq < closed_at for e in cast)
    assert [e.seq for e in logged] == list(range(1, len(logged) + 1))
    assert await _count(engine, proposal_id) == (len(cast), len(cast))
    assert len(cast) == 40 - len(refused)


async def test_a_comment_is_one_autocommitted_statement(engine: AsyncEngine) -> None:
    recorder = Recorder(engine)
    event_id, proposal_id, callers = await _seed(engine, threshold=None)
    recorder.statements.clear()

    async with _uow(engine, recorder).transaction() as session:
        out = await service.add_comment_as(session, callers[2], event_id, proposal_id, "Yes.")

    assert len(recorder.statements) == 1, recorder.statements
    assert out.author.display_name == "Voter 2"
    logged = await _logged(engine, event_id)
    assert [(e.seq, e.type) for e in logged] == [(1, "comment.created")]
    assert logged[0].data["author"] == {"id": str(callers[2].user_id), "display_name": "Voter 2"}
    assert logged[0].data["id"] == str(out.id)
    assert recorder.published == logged


async def test_a_comment_on_a_deleted_proposal_or_closed_event_writes_nothing(
    engine: AsyncEngine,
) -> None:
    recorder = Recorder(engine)
    event_id, proposal_id, callers = await _seed(engine, threshold=None)
    async with engine.begin() as connection:
        await connection.execute(
            text("UPDATE proposals SET status = 'DELETED' WHERE id = :id"), {"id": proposal_id}
        )

    with pytest.raises(Conflict) as deleted:
        async with _uow(engine, recorder).transaction() as session:
            await service.add_comment_as(session, callers[1], event_id, proposal_id, "No.")

    assert deleted.value.code == "proposal_deleted"
    async with engine.begin() as connection:
        await connection.execute(
            text("UPDATE proposals SET status = 'PENDING' WHERE id = :id"), {"id": proposal_id}
        )
    async with engine.connect() as holder:
        await holder.execute(
            text("SELECT 1 FROM events WHERE id = :id FOR UPDATE"), {"id": event_id}
        )

        async def comment() -> None:
            async with _uow(engine, recorder).transaction() as session:
                await service.add_comment_as(session, callers[1], event_id, proposal_id, "Late.")

        late = asyncio.create_task(comment())
        await _blocked_on_lock(engine)
        await holder.execute(
            text("UPDATE events SET status = 'CLOSED' WHERE id = :id"), {"id": event_id}
        )
        await holder.commit()
    with pytest.raises(Conflict) as closed:
        await late
    assert closed.value.code == "event_closed"
    async with engine.connect() as connection:
        comments = await connection.scalar(
            text("SELECT count(*) FROM comments WHERE proposal_id = :id"), {"id": proposal_id}
        )
    assert comments == 0
    assert await _logged(engine, event_id) == []
    assert recorder.published == []


# -- proposal creation ---------------------------------------------------------------------


async def _propose(
    engine: AsyncEngine,
    recorder: Recorder,
    caller: Caller,
    event_id: uuid.UUID,
    title: str,
    *,
    keyed: bool = False,
) -> ProposalOut:
    """The proposal route's work (``keyed``: as with an Idempotency-Key)."""
    recorder.statements.clear()
    data = ProposalCreate(kind=ProposalKind.ASSUMPTION, title=title, body="Why: it rains.")
    async with _uow(engine, recorder).transaction() as session:
        return await service.create_proposal_as(session, caller, event_id, data, keyed=keyed)


async def _proposals(engine: AsyncEngine, event_id: uuid.UUID) -> int:
    async with engine.connect() as connection:
        count = await connection.scalar(
            select(func.count()).select_from(Proposal).where(Proposal.event_id == event_id)
        )
        return int(count or 0)


@pytest.mark.parametrize("hidden", [False, True])
async def test_a_proposal_is_one_autocommitted_statement(engine: AsyncEngine, hidden: bool) -> None:
    """One statement, no BEGIN or COMMIT; the entry it logs and the one published are
    the transactional path's, key for key (the tally flag included), and so is what a
    keyed request, which runs that path, logs."""
    recorder = Recorder(engine)
    event_id, _, callers = await _seed(engine, threshold=None)
    async with engine.begin() as connection:
        await connection.execute(
            text("UPDATE events SET hidden_tallies = :hidden WHERE id = :id"),
            {"hidden": hidden, "id": event_id},
        )

    out = await _propose(engine, recorder, callers[1], event_id, "A roof")

    assert len(recorder.statements) == 1, recorder.statements
    assert recorder.statements[0].lstrip().startswith("WITH")
    assert recorder.transactions() == []
    assert out.author.display_name == "Voter 1"
    assert out.status == ProposalStatus.PENDING
    assert out.vote_count == (None if hidden else 0)  # a member's answer
    logged = await _logged(engine, event_id)
    assert [(e.seq, e.type) for e in logged] == [(1, "proposal.created")]
    assert recorder.published == logged
    assert logged[0].data == await _as_built(engine, out.id, hidden)
    assert logged[0].data["tally_hidden"] is hidden
    assert logged[0].data["author"] == {"id": str(callers[1].user_id), "display_name": "Voter 1"}

    recorder.published.clear()
    keyed = await _propose(engine, recorder, callers[2], event_id, "A wall", keyed=True)

    assert recorder.transactions() == ["BEGIN", "COMMIT"]
    transactional = (await _logged(engine, event_id))[1]
    assert recorder.published == [transactional]
    assert transactional.data == await _as_built(engine, keyed.id, hidden)
    assert transactional.data.keys() == logged[0].data.keys()
    assert await _proposals(engine, event_id) == 3


async def test_a_proposal_refused_by_its_snapshot_writes_nothing(engine: AsyncEngine) -> None:
    """A closed event: 409 in the one statement. A removed member, a revoked login: the
    statement writes nothing and the access check says why (403, 401)."""
    recorder = Recorder(engine)
    event_id, _, callers = await _seed(engine, threshold=None, members=4)
    async with engine.begin() as connection:
        await connection.execute(
            text("DELETE FROM memberships WHERE user_id = :id"), {"id": callers[2].user_id}
        )
        await connection.execute(
            text("DELETE FROM sessions WHERE id = :id"), {"id": callers[3].session_id}
        )

    with pytest.raises(PermissionDenied) as removed:
        await _propose(engine, recorder, callers[2], event_id, "Not mine")
    assert removed.value.code == "not_a_member"
    with pytest.raises(Unauthenticated) as revoked:
        await _propose(engine, recorder, callers[3], event_id, "Not now")
    assert revoked.value.code == "session_revoked"
    async with engine.begin() as connection:
        await connection.execute(
            text("UPDATE events SET status = 'CLOSED' WHERE id = :id"), {"id": event_id}
        )
    with pytest.raises(Conflict) as closed:
        await _propose(engine, recorder, callers[1], event_id, "Too late")
    assert closed.value.code == "event_closed"
    assert len(recorder.statements) == 1, recorder.statements

    assert await _proposals(engine, event_id) == 1  # the seeded one
    assert await _logged(engine, event_id) == []
    assert recorder.published == []


async def test_a_proposal_refused_after_its_insert_leaves_nothing(engine: AsyncEngine) -> None:
    """The proposal row is inserted, then the counter waits for the event row's lock,
    whose holder closes the event: the statement raises, and its row goes too."""
    recorder = Recorder(engine)
    event_id, _, callers = await _seed(engine, threshold=None)
    async with engine.connect() as holder:
        await holder.execute(
            text("SELECT 1 FROM events WHERE id = :id FOR UPDATE"), {"id": event_id}
        )
        late = asyncio.create_task(_propose(engine, recorder, callers[1], event_id, "Late"))
        await _blocked_on_lock(engine)
        await holder.execute(
            text("UPDATE events SET status = 'CLOSED' WHERE id = :id"), {"id": event_id}
        )
        await holder.commit()

    with pytest.raises(Conflict) as refused:
        await late
    assert refused.value.code == "event_closed"
    assert await _proposals(engine, event_id) == 1
    assert await _logged(engine, event_id) == []
    assert recorder.published == []


async def test_proposals_racing_a_close_are_all_logged_before_it_or_not_written(
    engine: AsyncEngine,
) -> None:
    """Twenty members propose while the organizer closes the event: every proposal that
    exists was logged before the close; every other one left nothing."""
    recorder = Recorder(engine)
    event_id, _, callers = await _seed(engine, threshold=None, members=21)
    close = _closing(engine, recorder, event_id, callers[0].user_id)
    proposals = [
        _propose(engine, recorder, c, event_id, f"Idea {i}") for i, c in enumerate(callers[1:])
    ]
    outcomes = await asyncio.gather(close(), *proposals, return_exceptions=True)

    refused = [o for o in outcomes if isinstance(o, BaseException)]
    assert all(isinstance(o, Conflict) and o.code == "event_closed" for o in refused), refused
    logged = await _logged(engine, event_id)
    closed_at = next(e.seq for e in logged if e.type == "event.updated")
    created = [e for e in logged if e.type == "proposal.created"]
    assert all(e.seq < closed_at for e in created)
    assert [e.seq for e in logged] == list(range(1, len(logged) + 1))
    assert len(created) == 20 - len(refused)
    assert await _proposals(engine, event_id) == 1 + len(created)
    assert sorted(e.seq for e in recorder.published) == [e.seq for e in logged]
