"""The hidden tallies' projection (quorum/decisions/projection.py): a pure function of
the message and the audience. Members get marked counts as null; admins, and unmarked
messages, are passed through as the very same object."""

import orjson

from quorum.decisions import projection
from quorum.decisions.models import Role
from quorum.realtime.message import Message
from tests.unit.fakes import TOPIC

PROPOSAL = {"id": "p", "title": "T", "vote_count": 3, "status": "PENDING"}


def build(type_: str, data: dict[str, object], *, live: bool = True) -> Message:
    return Message.build(TOPIC, 7, type_, data, 123.5, live=live)


def data_of(message: Message | None) -> dict[str, object]:
    assert message is not None
    parsed: dict[str, object] = orjson.loads(message.body)["data"]
    return parsed


def test_members_get_null_counts_in_marked_vote_changes() -> None:
    marked = build("vote.cast", {"proposal_id": "p", "vote_count": 2, "tally_hidden": True})

    member = projection.project(marked, projection.MEMBER)

    assert data_of(member) == {"proposal_id": "p", "vote_count": None, "tally_hidden": True}
    assert member is not None
    assert (member.seq, member.type, member.committed_at) == (7, "vote.cast", 123.5)
    assert member.sse.startswith(b"id: 7\nevent: vote.cast\ndata: ")
    assert orjson.loads(member.body)["t"] == 123.5


def test_admins_get_the_message_itself() -> None:
    marked = build("proposal.updated", PROPOSAL | {"tally_hidden": True})
    assert projection.project(marked, projection.ADMIN) is marked


def test_unmarked_messages_are_passed_through_untouched() -> None:
    for message in (
        build("vote.cast", {"proposal_id": "p", "vote_count": 2, "tally_hidden": False}),
        build("comment.created", {"body": '"tally_hidden":true'}),  # the bytes, not a mark
        build("proposal.created", PROPOSAL | {"title": '"tally_hidden":true'}),
    ):
        assert projection.project(message, projection.MEMBER) is message


def test_a_snapshot_hides_the_counts_of_its_marked_proposals() -> None:
    snapshot = build(
        "snapshot",
        {"event": {}, "memberships": [], "proposals": [PROPOSAL | {"tally_hidden": True}]},
        live=False,
    )

    member = projection.project(snapshot, projection.MEMBER)

    assert data_of(member)["proposals"] == [PROPOSAL | {"vote_count": None, "tally_hidden": True}]
    assert member is not None and member.committed_at == 0.0
    assert projection.project(snapshot, projection.ADMIN) is snapshot


def test_the_log_endpoint_applies_the_same_rule_by_role() -> None:
    marked = {"proposal_id": "p", "vote_count": 2, "tally_hidden": True}
    assert projection.for_role("vote.cast", marked, Role.MEMBER)["vote_count"] is None
    for role in (Role.ADMIN, Role.ORGANIZER):
        assert projection.for_role("vote.cast", marked, role) is marked
    unmarked = {"proposal_id": "p", "vote_count": 2, "tally_hidden": False}
    assert projection.for_role("vote.withdrawn", unmarked, Role.MEMBER) is unmarked


def test_the_audience_follows_the_role() -> None:
    assert projection.audience(Role.MEMBER) == projection.MEMBER
    assert projection.audience(Role.ADMIN) == projection.audience(Role.ORGANIZER) == "admin"
