"""Whom a message of the event's stream evicts: the real-time core's ``evicts`` function
(quorum/realtime/hub.py), given to the hub by the application.

A ``membership.removed`` takes the event from the person it names, whether removed or
leaving: every stream of theirs on the event ends right after that message, on every
instance. Each subscriber's principal is its user id (quorum/decisions/streams.py).
Only that type's body is parsed; every other message costs one string comparison.
"""

import uuid

import orjson

from quorum.decisions.events import MembershipRemoved
from quorum.realtime.message import Message


def principal(user_id: uuid.UUID | str) -> str:
    """A stream's principal: the user id as text, as the removal's ``user_id`` is."""
    return str(user_id)


def evicts(message: Message) -> frozenset[str] | None:
    if message.type != MembershipRemoved.TYPE:
        return None
    return frozenset({principal(orjson.loads(message.body)["data"]["user_id"])})
