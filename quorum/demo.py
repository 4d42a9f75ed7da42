"""``quorum demo``: a small event with people, proposals and votes, to look around.

Running it again changes nothing: the demo users and their event are found and reused,
so a second run (a restarted container, a README followed twice) shows the same event.
"""

import uuid
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from quorum.accounts import repository as users
from quorum.accounts import service as accounts
from quorum.accounts.models import User
from quorum.accounts.passwords import Passwords
from quorum.accounts.schemas import RegisterIn
from quorum.accounts.service import open_session
from quorum.accounts.tokens import Caller
from quorum.db.engine import create_engine, create_sessionmaker
from quorum.db.uow import UnitOfWork
from quorum.decisions import service as decisions
from quorum.decisions.access import load_access
from quorum.decisions.models import Event, MembershipStatus, ProposalKind
from quorum.decisions.schemas import EventCreate, MembershipUpdate, ProposalCreate
from quorum.settings import Settings

PASSWORD = "quorum-demo"  # noqa: S105 - the demo's published password
TITLE = "Where should the team offsite be?"
PEOPLE = [
    ("alice@demo.quorum", "Alice (organizer)"),
    ("bob@demo.quorum", "Bob"),
    ("carol@demo.quorum", "Carol"),
]


@dataclass
class Demo:
    event_id: str
    emails: list[str]
    password: str


async def _user(session: AsyncSession, passwords: Passwords, email: str, name: str) -> User:
    existing = await users.get_user_by_email(session, email)
    if existing is not None:
        return existing
    return await accounts.register(
        session, passwords, RegisterIn(email=email, password=PASSWORD, display_name=name)
    )


async def _caller(session: AsyncSession, user_id: uuid.UUID) -> Caller:
    """A short login session for one of the demo's people to act through."""
    return Caller(user_id, await open_session(session, user_id, timedelta(minutes=5)))


async def create_demo(settings: Settings) -> Demo:
    engine = create_engine(settings)
    try:
        # No publisher: this process has no hub; the servers' hubs find the entries in the log.
        async with UnitOfWork(create_sessionmaker(engine)).transaction() as session:
            passwords = Passwords(settings)
            alice, bob, carol = [await _user(session, passwords, e, n) for e, n in PEOPLE]
            existing = await session.scalar(
                select(Event.id).where(Event.organizer_id == alice.id, Event.title == TITLE)
            )
            if existing is not None:
                return Demo(str(existing), [e for e, _ in PEOPLE], PASSWORD)
            event = await decisions.create_event(
                session,
                alice.id,
                EventCreate(title=TITLE, description="Demo", vote_threshold=2),
            )
            organizer = await load_access(event.id, await _caller(session, alice.id), session)
            for member in (bob, carol):
                request = await decisions.request_membership(session, event.id, member.id)
                approve = MembershipUpdate(status=MembershipStatus.APPROVED)
                await decisions.update_membership(session, organizer, request.id, approve)
            proposals = [
                await decisions.create_proposal(
                    session, organizer, ProposalCreate(kind=kind, title=title)
                )
                for kind, title in [
                    (ProposalKind.ASSUMPTION, "Most of us can travel in May"),
                    (ProposalKind.CRITERIA, "Reachable by train"),
                    (ProposalKind.CONCLUSION, "Lisbon"),
                ]
            ]
            bob_access = await load_access(event.id, await _caller(session, bob.id), session)
            await decisions.cast_vote(session, bob_access, proposals[0].id)
            await decisions.cast_vote(session, organizer, proposals[0].id)  # reaches 2: accepted
            await decisions.cast_vote(session, bob_access, proposals[2].id)
            await decisions.add_comment(
                session, bob_access, proposals[2].id, "Lisbon in May sounds great."
            )
    finally:
        await engine.dispose()
    return Demo(str(event.id), [e for e, _ in PEOPLE], PASSWORD)
