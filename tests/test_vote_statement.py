"""On PostgreSQL a vote is one statement in its transaction (issue 11): nothing it locks
waits on a client round trip of its own but the COMMIT. Run against a real migrated
PostgreSQL database, calling the use case directly so that every statement it sends can
be counted with SQLAlchemy's ``before_cursor_execute`` (BEGIN and COMMIT are not
statements the driver is given: asyncpg sends them itself). The published entries are
compared with the log rows the statement wrote."""

import uuid
from collections.abc import AsyncIterator, Iterator, Sequence
from typing import Any

import pytest
from sqlalchemy import event, select
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine

from quorum.accounts.models import User
from quorum.db.base import utcnow
from quorum.db.uow import UnitOfWork
from quorum.decisions import service
from quorum.decisions.access import EventAccess
from quorum.decisions.models import (
    Event,
    EventStatus,
    Membership,
    MembershipStatus,
    Proposal,
    ProposalKind,
    ProposalStatus,
    Role,
)
from quorum.errors import Conflict
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
    created = create_async_engine(pg.url)
    yield created
    await created.dispose()


class Recorder:
    def __init__(self, engine: AsyncEngine) -> None:
        self.statements: list[str] = []
        self.published: list[Entry] = []
        event.listen(engine.sync_engine, "before_cursor_execute", self._executed)

    def _executed(self, *args: Any) -> None:
        self.statements.append(args[2])

    async def publish(self, entries: Sequence[Entry]) -> None:
        self.published.extend(entries)


async def _seed(engine: AsyncEngine, threshold: int) -> tuple[uuid.UUID, uuid.UUID, list[User]]:
    sessionmaker = async_sessionmaker(engine, expire_on_commit=False)
    users = [
        User(email=f"{uuid.uuid4().hex}@example.com", display_name=f"Voter {i}", password_hash="x")
        for i in range(3)
    ]
    async with sessionmaker() as session:
        session.add_all(users)
        await session.flush()
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
    return meeting.id, proposal.id, users


def _access(event_id: uuid.UUID, user: User, threshold: int) -> EventAccess:
    return EventAccess(
        event_id, user.id, Role.MEMBER, EventStatus.OPEN, threshold, user.display_name, False, False
    )


async def _vote(
    engine: AsyncEngine, recorder: Recorder, access: EventAccess, proposal_id: uuid.UUID
) -> list[str]:
    uow = UnitOfWork(async_sessionmaker(engine, expire_on_commit=False), recorder.publish)
    async with uow.transaction() as session:
        await session.connection()
        recorder.statements.clear()
        await service.cast_vote(session, access, proposal_id)
        return list(recorder.statements)


async def _logged(engine: AsyncEngine, event_id: uuid.UUID) -> list[Entry]:
    async with async_sessionmaker(engine)() as session:
        rows = await session.scalars(
            select(LogEntry).where(LogEntry.topic_id == event_id).order_by(LogEntry.seq)
        )
        return [Entry(r.topic_id, r.seq, r.type, r.data) for r in rows]


async def test_a_vote_is_one_statement_and_publishes_what_it_logged(engine: AsyncEngine) -> None:
    recorder = Recorder(engine)
    event_id, proposal_id, users = await _seed(engine, threshold=2)

    sent = await _vote(engine, recorder, _access(event_id, users[1], 2), proposal_id)

    assert len(sent) == 1, sent
    assert sent[0].lstrip().startswith("WITH")
    logged = await _logged(engine, event_id)
    assert [(e.seq, e.type, e.data["vote_count"]) for e in logged] == [(1, "vote.cast", 1)]
    assert recorder.published == logged


async def test_the_accepting_vote_adds_only_the_acceptance_entry(engine: AsyncEngine) -> None:
    recorder = Recorder(engine)
    event_id, proposal_id, users = await _seed(engine, threshold=2)
    await _vote(engine, recorder, _access(event_id, users[1], 2), proposal_id)

    sent = await _vote(engine, recorder, _access(event_id, users[2], 2), proposal_id)

    assert len(sent) == 2, sent  # the vote, then the acceptance entry under the kept number
    logged = await _logged(engine, event_id)
    assert [(e.seq, e.type) for e in logged] == [
        (1, "vote.cast"),
        (2, "vote.cast"),
        (3, "proposal.updated"),
    ]
    assert logged[1].data["vote_count"] == 2
    assert logged[2].data["status"] == ProposalStatus.ACCEPTED
    assert logged[2].data["decided_by"] == {"kind": "auto"}
    assert recorder.published == logged


async def test_a_second_vote_is_refused_by_the_one_statement(engine: AsyncEngine) -> None:
    recorder = Recorder(engine)
    event_id, proposal_id, users = await _seed(engine, threshold=5)
    access = _access(event_id, users[1], 5)
    await _vote(engine, recorder, access, proposal_id)

    with pytest.raises(Conflict) as refused:
        await _vote(engine, recorder, access, proposal_id)

    assert refused.value.code == "already_voted"
    assert len(recorder.statements) == 1
    assert [e.seq for e in await _logged(engine, event_id)] == [1]


async def test_a_withdrawal_is_one_statement_and_publishes_what_it_logged(
    engine: AsyncEngine,
) -> None:
    recorder = Recorder(engine)
    event_id, proposal_id, users = await _seed(engine, threshold=5)
    access = _access(event_id, users[1], 5)
    await _vote(engine, recorder, access, proposal_id)
    recorder.published.clear()

    uow = UnitOfWork(async_sessionmaker(engine, expire_on_commit=False), recorder.publish)
    async with uow.transaction() as session:
        await session.connection()
        recorder.statements.clear()
        await service.withdraw_vote(session, access, proposal_id)
        sent = list(recorder.statements)

    assert len(sent) == 1, sent
    logged = await _logged(engine, event_id)
    assert [(e.seq, e.type, e.data["vote_count"]) for e in logged] == [
        (1, "vote.cast", 1),
        (2, "vote.withdrawn", 0),
    ]
    assert logged[1].data["user"] == {"id": str(users[1].id), "display_name": "Voter 1"}
    assert recorder.published == logged[1:]
