"""The decision rules, in one place: who may do what, which status may follow which, when
votes count and when they accept a proposal, and what a closed event still takes.

Where the database enforces a rule inside a statement (the conditional UPDATEs of
quorum/decisions/repository.py), the condition is built here as well, from the columns
the repository passes in, so that each rule is written once:

- votable, ``votable_sql(status)``: the vote counter's UPDATE counts only while the
  proposal is PENDING, and so do the threshold's acceptances and their row locks;
- the threshold, ``reaches_threshold_sql(count, threshold)``: the same UPDATE accepts the
  proposal when the count reaches it, as ``reaches_threshold`` says in Python;
- an open event, ``accepts_changes_sql(status)``: the event log's counter numbers an
  entry only while the event is OPEN, in the UPDATE that locks the event row, so no
  change slips into an event closed in the meantime (``event_closed`` when it refuses);
- a member, ``is_member_sql(status)``: the list of a user's events (by default: see
  ``listed_sql``);
- a current member, ``holds_membership_sql(...)``: the guard of every write a member
  makes (a vote, a comment, a proposal), read in the write's own transaction.

A vote counts when all of it holds: the caller is an approved member (``member_role``,
in the ``EventMember`` dependency of every event-scoped route, before anything else,
and again in the write's transaction: ``holds_membership_sql``), the proposal is
votable (the counter's UPDATE) and the event open (the log's counter, in the same
transaction).
"""

from collections.abc import Collection
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, SQLColumnExpression, and_, true

from quorum.decisions.models import EventStatus, MembershipStatus, ProposalStatus, Role
from quorum.errors import Conflict, InvalidInput, PermissionDenied

# -- who may ---------------------------------------------------------------------------

ADMIN_ROLES = frozenset({Role.ORGANIZER, Role.ADMIN})


def is_member(membership_status: str | None) -> bool:
    """Only an approved membership lets its holder see or change the event; a pending or
    rejected request does not."""
    return membership_status == MembershipStatus.APPROVED


def is_member_sql(membership_status: SQLColumnExpression[str]) -> ColumnElement[bool]:
    """``is_member`` as SQL, for the lists of a member's events."""
    return membership_status == MembershipStatus.APPROVED.value


def holds_membership_sql(
    membership_event: SQLColumnExpression[Any],
    membership_user: SQLColumnExpression[Any],
    membership_status: SQLColumnExpression[str],
    event_id: object,
    user_id: object,
) -> ColumnElement[bool]:
    """The writer still holds an approved membership of the event: the condition on the
    membership row that a member's write locks (FOR SHARE on PostgreSQL, until it
    commits) or could test in an ``INSERT ... SELECT ... WHERE EXISTS``. The route's
    access check ran earlier, maybe before a removal committed; this one runs in the
    write's transaction, so a write and a removal are ordered: the removal waits for the
    write (and then withdraws its vote), or the write sees the removal and is refused.
    On SQLite every writing transaction holds the database's write lock from its
    ``BEGIN IMMEDIATE``, so the access check is already ordered with the removal."""
    return and_(
        membership_event == event_id,
        membership_user == user_id,
        is_member_sql(membership_status),
    )


def not_a_member() -> PermissionDenied:
    return PermissionDenied("not_a_member", "You are not an approved member of this event.")


def listed_sql(membership_status: SQLColumnExpression[str], which: str) -> ColumnElement[bool]:
    """Which of a user's events their list shows: ``approved`` (the events they are a
    member of), ``pending`` (those they asked to join) or ``all`` (rejected included)."""
    if which == "approved":
        return is_member_sql(membership_status)
    if which == "pending":
        return membership_status == MembershipStatus.PENDING.value
    return true()


def member_role(role: str | None, membership_status: str | None) -> Role:
    """The caller's role in the event, which only an approved membership gives."""
    if role is None or not is_member(membership_status):
        raise not_a_member()
    return Role(role)


def check_admin(role: Role) -> None:
    """Organizers and admins decide on memberships and change the event."""
    if role not in ADMIN_ROLES:
        raise PermissionDenied(
            "admin_required", "Only the event's organizer or an admin may do this."
        )


AUTHOR_TARGETS = frozenset({ProposalStatus.DELETED, ProposalStatus.WITHDRAWN})


def check_organizer(role: Role) -> None:
    """Only the organizer deletes the event."""
    if role != Role.ORGANIZER:
        raise PermissionDenied("organizer_required", "Only the event's organizer may do this.")


def check_may_decide(role: Role, is_author: bool, target: ProposalStatus) -> None:
    """Organizers and admins accept, reject or delete a proposal; its author may delete
    or withdraw it, and only its author withdraws it."""
    if target == ProposalStatus.WITHDRAWN:
        allowed = is_author
    else:
        allowed = role in ADMIN_ROLES or (is_author and target in AUTHOR_TARGETS)
    if not allowed:
        raise PermissionDenied(
            "not_allowed", "Only an organizer or admin (or the author, to delete) may."
        )


def check_author(is_author: bool) -> None:
    """What someone wrote is edited by them alone."""
    if not is_author:
        raise PermissionDenied("not_author", "Only its author may edit this.")


def check_may_delete_comment(role: Role, is_author: bool) -> None:
    """A comment is deleted by its author, or by an organizer or admin (moderation)."""
    if not is_author and role not in ADMIN_ROLES:
        raise PermissionDenied(
            "not_allowed", "Only its author, an organizer or an admin may delete a comment."
        )


def check_editable(status: str, vote_count: int, allow_edits_with_votes: bool) -> None:
    """A proposal is edited while PENDING, and only before its first vote unless the event
    allows edits with votes: a voter must not find they voted for other words. The caller
    holds the proposal's row lock, which every vote takes first, so ``vote_count`` is
    final for the edit."""
    if status != ProposalStatus.PENDING:
        raise Conflict("proposal_not_pending", f"The proposal is {status}: it cannot be edited.")
    if vote_count > 0 and not allow_edits_with_votes:
        raise Conflict("proposal_has_votes", "The proposal has votes: it can no longer be edited.")


def check_membership_change(role: str) -> None:
    """The organizer's membership is fixed: nobody demotes, rejects or removes the event's
    owner. Admins are peers otherwise: an admin may demote or remove another admin, as
    the organizer may (only the organizer is beyond every admin's reach)."""
    if role == Role.ORGANIZER:
        raise PermissionDenied(
            "organizer_membership_fixed", "The organizer's membership cannot change."
        )


def check_may_leave(role: str) -> None:
    """An event always has its organizer: they cannot leave it."""
    if role == Role.ORGANIZER:
        raise Conflict(
            "organizer_cannot_leave", "The organizer cannot leave the event they organize."
        )


# -- transitions -----------------------------------------------------------------------

PROPOSAL_TRANSITIONS: dict[ProposalStatus, frozenset[ProposalStatus]] = {
    ProposalStatus.PENDING: frozenset(
        {
            ProposalStatus.ACCEPTED,
            ProposalStatus.REJECTED,
            ProposalStatus.DELETED,
            ProposalStatus.WITHDRAWN,
        }
    ),
}
MEMBERSHIP_TRANSITIONS: dict[MembershipStatus, frozenset[MembershipStatus]] = {
    MembershipStatus.PENDING: frozenset({MembershipStatus.APPROVED, MembershipStatus.REJECTED}),
}


def check_proposal_transition(current: str, target: str) -> None:
    if ProposalStatus(target) not in PROPOSAL_TRANSITIONS.get(ProposalStatus(current), frozenset()):
        raise Conflict("invalid_transition", f"A proposal cannot go from {current} to {target}.")


def check_membership_transition(current: str, target: str) -> None:
    allowed = MEMBERSHIP_TRANSITIONS.get(MembershipStatus(current), frozenset())
    if MembershipStatus(target) not in allowed:
        raise Conflict(
            "membership_already_decided",
            f"A membership request cannot go from {current} to {target}.",
        )


# -- votes and the threshold -------------------------------------------------------------

# Votes are cast and withdrawn only while the proposal is still undecided.
VOTABLE = ProposalStatus.PENDING


def votable_sql(status: SQLColumnExpression[str]) -> ColumnElement[bool]:
    """``VOTABLE`` as SQL, for the statements that count votes or accept proposals."""
    return status == VOTABLE.value


def not_votable(status: str, *, withdrawal: bool = False) -> Conflict:
    """A vote cast on, or withdrawn from, a proposal that is no longer ``VOTABLE``."""
    why = "votes are final" if withdrawal else "votes count only while PENDING"
    return Conflict("proposal_not_pending", f"The proposal is {status}: {why}.")


def already_voted() -> Conflict:
    """A second vote of the same member for the same proposal (the vote's key refused it)."""
    return Conflict("already_voted", "You have already voted for this proposal.")


def reaches_threshold(vote_count: int, threshold: int | None) -> bool:
    """A proposal whose votes reach the event's threshold is accepted (``decided_by:
    "auto"``); an event without a threshold decides by hand only."""
    return threshold is not None and vote_count >= threshold


def reaches_threshold_sql(
    vote_count: SQLColumnExpression[int], threshold: SQLColumnExpression[int] | int
) -> ColumnElement[bool]:
    """``reaches_threshold`` as SQL, for a threshold that is set."""
    return vote_count >= threshold


def threshold_change_accepts(new_threshold: int | None, new_status: str | None) -> bool:
    """A new threshold accepts at once the pending proposals whose votes already reach it,
    unless the same change closes the event."""
    return new_threshold is not None and new_status != EventStatus.CLOSED


def takes_comments_sql(status: SQLColumnExpression[str]) -> ColumnElement[bool]:
    """A proposal takes comments unless it was deleted (``proposal_deleted``)."""
    return status != ProposalStatus.DELETED.value


def proposal_deleted() -> Conflict:
    return Conflict("proposal_deleted", "The proposal was deleted: it takes no comments.")


# -- voting options ---------------------------------------------------------------------


def tally_hidden(hidden_tallies: bool, event_status: str) -> bool:
    """An event that hides its tallies hides them from members while it is open; once
    closed, every count is for everyone."""
    return hidden_tallies and event_status == EventStatus.OPEN


def tally_hidden_sql(
    hidden_tallies: SQLColumnExpression[bool], event_status: SQLColumnExpression[str]
) -> ColumnElement[bool]:
    """``tally_hidden`` as SQL, for the payloads a one-statement write builds."""
    return and_(hidden_tallies, event_status == EventStatus.OPEN.value)


def sees_tallies(role: Role) -> bool:
    """Organizers and admins see the counts even while they are hidden from members."""
    return role in ADMIN_ROLES


def check_order_by_votes(tally_hidden: bool, role: Role) -> None:
    """Ordering by votes tells who leads: not for whom the event hides its counts."""
    if tally_hidden and not sees_tallies(role):
        raise PermissionDenied(
            "tallies_hidden",
            "This event hides its vote counts until it closes: no sort=most_votes for members.",
        )


def check_votes_named(anonymous_votes: bool) -> None:
    """An anonymous event never names its voters (docs/decisions.md)."""
    if anonymous_votes:
        raise PermissionDenied(
            "votes_anonymous", "Votes in this event are anonymous: voters are not shown."
        )


def check_options_unchanged(changes: dict[str, object]) -> None:
    """Voting options are chosen at creation: turning them on later could not hide what
    was already shown, turning them off would show what was promised hidden."""
    fixed = sorted(changes.keys() & {"anonymous_votes", "hidden_tallies"})
    if fixed:
        raise InvalidInput(
            "option_fixed", f"{', '.join(fixed)} is chosen when the event is created."
        )


# -- a closed event ---------------------------------------------------------------------


def accepts_changes_sql(status: SQLColumnExpression[str]) -> ColumnElement[bool]:
    """The guard of the event log's counter: only an OPEN event takes changes. The event's
    own update is the one change that goes past it (``check_event_change`` instead)."""
    return status == EventStatus.OPEN.value


def event_closed() -> Conflict:
    """What a change gets when the counter's guard refused it."""
    return Conflict("event_closed", "The event is closed: it accepts no changes.")


# What a closed event still takes without being reopened: the statement of its outcome,
# which is often written once the decision is made.
CLOSED_EVENT_FIELDS = frozenset({"outcome"})


def check_event_change(current: str, new_status: str | None, fields: Collection[str] = ()) -> None:
    """A closed event changes only by being reopened (in that same change, the rest may
    change as well), or in ``CLOSED_EVENT_FIELDS`` alone."""
    if current != EventStatus.CLOSED or new_status == EventStatus.OPEN:
        return
    if not fields or not CLOSED_EVENT_FIELDS.issuperset(fields):
        raise Conflict("event_closed", "The event is closed: reopen it (status OPEN) to change it.")


def closes_by_deadline_sql(
    status: SQLColumnExpression[str],
    closes_at: SQLColumnExpression[datetime | None],
    now: datetime,
) -> ColumnElement[bool]:
    """An OPEN event whose deadline has come: the sweeper's conditional UPDATE closes it,
    and only while this holds, so of several instances one closes it, once."""
    return and_(status == EventStatus.OPEN.value, closes_at <= now)
