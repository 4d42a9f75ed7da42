"""Who keeps an event's streams: the real-time core's ``evicts`` function (whom a
message evicts, quorum/realtime/hub.py) and its ``admit`` function (who may start one,
and as which audience: quorum/realtime/stream.py), given to it by the application.

A ``membership.removed`` takes the event from the person it names, whether removed or
leaving: every stream of theirs on the event ends right after that message, on every
instance. Each subscriber's principal is its user id (quorum/decisions/streams.py).
Only that type's body is parsed; every other message costs one string comparison.

A stream's session is the login session of the token or ticket that opened it: when the
session ends (quorum/accounts/service.py ``end_sessions``) the core ends those streams.

``admit`` is asked once the stream has subscribed, before its response starts: it is
both the route's answer (401/403/404, exactly as ``access.load_access`` refuses any other
event request) and the stream's admission (a removal or a logout committing after it
reaches the subscriber as a message). Handshakes that arrive together share one query
(``repo.access_many`` through a ``Batcher``): a reconnect storm of thousands of streams
costs a few dozen round trips, not one each. A refusal asks, in a transaction of its
own, why (``require_session``), as every other request does.
"""

import uuid
from collections.abc import Sequence

import orjson
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from quorum.accounts.service import require_session
from quorum.accounts.tokens import Caller
from quorum.db.batch import Batcher
from quorum.db.uow import read_only
from quorum.decisions import projection
from quorum.decisions import repository as repo
from quorum.decisions.access import event_access, grants
from quorum.decisions.events import MembershipRemoved
from quorum.realtime.message import Message
from quorum.realtime.stream import Admit

ADMISSION_BATCH = 500  # triples per query: 1,500 parameters, under every driver's limit


def principal(user_id: uuid.UUID | str) -> str:
    """A stream's principal: the user id as text, as the removal's ``user_id`` is."""
    return str(user_id)


def session_key(session_id: uuid.UUID) -> str:
    """A stream's session, as the accounts feature names an ended one: the id as text."""
    return str(session_id)


def admission(sessionmaker: async_sessionmaker[AsyncSession]) -> Admit:
    """The core's ``admit``: the principal is an approved member of the event (not
    deleted) under a live session; the audience is their role's."""

    async def load(asked: Sequence[repo.AccessKey]) -> list[repo.Access | None]:
        async with read_only(sessionmaker) as db:
            return await repo.access_many(db, asked)

    batcher: Batcher[repo.AccessKey, repo.Access | None] = Batcher(
        "stream_admission", load, ADMISSION_BATCH
    )

    async def admit(event_id: uuid.UUID, user: str | None, session: str | None) -> str:
        if user is None or session is None:
            raise ValueError("a Quorum stream always has a principal and a session")
        caller = Caller(uuid.UUID(user), uuid.UUID(session))
        found = await batcher((event_id, caller.user_id, caller.session_id))
        if not grants(found):
            async with read_only(sessionmaker) as db:
                await require_session(db, caller)
        return projection.audience(event_access(found, event_id, caller.user_id).role)

    return admit


def evicts(message: Message) -> frozenset[str] | None:
    if message.type != MembershipRemoved.TYPE:
        return None
    return frozenset({principal(orjson.loads(message.body)["data"]["user_id"])})
