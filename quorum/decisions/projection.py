"""What each audience of an event sees: hidden tallies.

An event with ``hidden_tallies`` hides vote counts from its members (not from organizers
and admins) while it is open. The counts are still *stored* in the log, marked
``tally_hidden: true`` on every payload that carries one (a proposal, a vote change;
the snapshot's proposals), so that the projection is a pure function of the message:
it runs on every instance, live, on catch-up and on replay, and needs no knowledge of
the event's options. For the ``member`` audience it sets the marked counts to null.

The stream's hub calls ``project`` once per message per audience
(quorum/realtime/message.py); the REST reads apply ``hide`` and ``proposal_for`` by the
caller's role, so the log endpoint, the proposals and the snapshot all say the same.

Once the event closes, new entries carry no mark; what members received before
still says null, and the close's ``event.updated`` (status CLOSED) tells the board to
read a fresh snapshot, which shows every count.
"""

from typing import Any, TypeVar

import orjson

from quorum.decisions import rules
from quorum.decisions.models import Role
from quorum.decisions.schemas import ProposalOut
from quorum.realtime.message import Message

ADMIN = "admin"
MEMBER = "member"
MARK = "tally_hidden"
# How the mark looks in an envelope serialised by orjson (compact): a cheap test that
# spares parsing the messages without it, which are nearly all of them.
_MARK_BYTES = b'"tally_hidden":true'

P = TypeVar("P", bound=ProposalOut)


def audience(role: Role) -> str:
    return ADMIN if rules.sees_tallies(role) else MEMBER


def hide(type_: str, data: dict[str, Any]) -> dict[str, Any] | None:
    """A member's copy of a payload whose counts are hidden, or None if it has none."""
    if type_ == "snapshot":
        proposals = data.get("proposals", [])
        if not any(p.get(MARK) for p in proposals):
            return None
        return data | {"proposals": [_hidden(p) if p.get(MARK) else p for p in proposals]}
    return _hidden(data) if data.get(MARK) else None


def _hidden(data: dict[str, Any]) -> dict[str, Any]:
    return data | {"vote_count": None}


def project(message: Message, audience: str) -> Message | None:
    """The hub's projection: members get the marked counts as null, admins everything."""
    if audience == ADMIN or _MARK_BYTES not in message.body:
        return message
    envelope = orjson.loads(message.body)
    data = hide(message.type, envelope["data"])
    if data is None:  # the bytes were in a title or a comment, not a mark
        return message
    body = orjson.dumps(envelope | {"data": data})
    return Message.from_body(message.topic, message.seq, message.type, body, message.committed_at)


def for_role(type_: str, data: dict[str, Any], role: Role) -> dict[str, Any]:
    """A log entry's data as the caller may see it (the /log endpoint)."""
    if rules.sees_tallies(role):
        return data
    hidden = hide(type_, data)
    return data if hidden is None else hidden


def proposal_for(proposal: P, role: Role) -> P:
    """A proposal as the caller may see it (the REST reads and answers)."""
    if proposal.tally_hidden and not rules.sees_tallies(role):
        return proposal.model_copy(update={"vote_count": None})
    return proposal
