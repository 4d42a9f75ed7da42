"""Who keeps an event's streams: the real-time core's ``evicts`` function (whom a
message evicts, quorum/realtime/hub.py) and its ``admit`` function (who may start one,
quorum/realtime/stream.py), given to it by the application.

A ``membership.removed`` takes the event from the person it names, whether removed or
leaving: every stream of theirs on the event ends right after that message, on every
instance. Each subscriber's principal is its user id (quorum/decisions/streams.py).
Only that type's body is parsed; every other message costs one string comparison.

A stream's session is the login session of the token or ticket that opened it: when the
session ends (quorum/accounts/service.py ``end_sessions``) the core ends those streams.

``admit`` is asked by the stream itself once it has subscribed (so that a removal or a
logout committing meanwhile is not missed): the same access query as every request,
in a read-only transaction of its own.
"""

import uuid

import orjson
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from quorum.db.uow import read_only
from quorum.decisions import repository as repo
from quorum.decisions import rules
from quorum.decisions.events import MembershipRemoved
from quorum.realtime.message import Message
from quorum.realtime.stream import Admit


def principal(user_id: uuid.UUID | str) -> str:
    """A stream's principal: the user id as text, as the removal's ``user_id`` is."""
    return str(user_id)


def session_key(session_id: uuid.UUID) -> str:
    """A stream's session, as the accounts feature names an ended one: the id as text."""
    return str(session_id)


def admission(sessionmaker: async_sessionmaker[AsyncSession]) -> Admit:
    """The core's ``admit``: the principal is an approved member of the event (not
    deleted) and the session is live."""

    async def admit(event_id: uuid.UUID, user: str | None, session: str | None) -> bool:
        if user is None or session is None:
            return False
        async with read_only(sessionmaker) as db:
            found = await repo.access(db, event_id, uuid.UUID(user), uuid.UUID(session))
        return found is not None and found.session_live and rules.is_member(found.membership_status)

    return admit


def evicts(message: Message) -> frozenset[str] | None:
    if message.type != MembershipRemoved.TYPE:
        return None
    return frozenset({principal(orjson.loads(message.body)["data"]["user_id"])})
