"""The decisions domain's tables as Core tables, and the SQL that both of its write paths
build on: the transactional one (quorum/decisions/repository.py) and the one-statement
writes (quorum/decisions/at_once.py). The access check, the author's name column, the
event log's counter and the bind parameters they share are named here, once, so that a
statement made of pieces of both agrees on them."""

from dataclasses import replace
from typing import Any, cast

from sqlalchemy import ColumnElement, FromClause, Join, Table, and_, bindparam, select

from quorum.accounts.models import LoginSession, User
from quorum.decisions import rules
from quorum.decisions.models import Event, Membership, Proposal, Vote
from quorum.realtime import log

EVENTS = cast(Table, Event.__table__)
MEMBERSHIPS = cast(Table, Membership.__table__)
PROPOSALS = cast(Table, Proposal.__table__)
USERS = cast(Table, User.__table__)
SESSIONS = cast(Table, LoginSession.__table__)
VOTES = cast(Table, Vote.__table__)

# The parameters of the access check and of every member's write.
P_EVENT = bindparam("p_event", type_=PROPOSALS.c.event_id.type)
P_PROPOSAL = bindparam("p_proposal", type_=PROPOSALS.c.id.type)
P_USER = bindparam("p_user", type_=VOTES.c.user_id.type)
P_SID = bindparam("p_sid", type_=SESSIONS.c.id.type)  # the caller's login session
P_NOW = bindparam("now", type_=VOTES.c.created_at.type)

# The event, the caller's membership of it, their name, and whether their login session
# is live: ``repository.access`` runs it alone, the one-statement writes as their first
# CTE, and a batch of votes for each of its voters (``access_joins`` with their columns).
ACCESS_COLUMNS = (
    EVENTS.c.status.label("event_status"),
    EVENTS.c.vote_threshold.label("event_threshold"),
    EVENTS.c.anonymous_votes,
    EVENTS.c.hidden_tallies,
    MEMBERSHIPS.c.role,
    MEMBERSHIPS.c.status.label("membership_status"),
    USERS.c.display_name,
    SESSIONS.c.id.label("live_session"),
)
THE_EVENT = and_(EVENTS.c.id == P_EVENT, EVENTS.c.deleted_at.is_(None))


def access_joins(base: FromClause, user: ColumnElement[Any], sid: ColumnElement[Any]) -> Join:
    """``base`` (which holds the events table) and the membership, name and live login
    session ``sid`` of ``user``, for ``ACCESS_COLUMNS``."""
    return (
        base.outerjoin(
            MEMBERSHIPS,
            and_(MEMBERSHIPS.c.event_id == EVENTS.c.id, MEMBERSHIPS.c.user_id == user),
        )
        .outerjoin(USERS, USERS.c.id == MEMBERSHIPS.c.user_id)
        .outerjoin(
            SESSIONS,
            and_(SESSIONS.c.id == sid, SESSIONS.c.user_id == user, SESSIONS.c.expires_at > P_NOW),
        )
    )


ACCESS = select(*ACCESS_COLUMNS).select_from(access_joins(EVENTS, P_USER, P_SID)).where(THE_EVENT)

# The proposal ``P_PROPOSAL`` of ``P_EVENT``, while votes count on it.
VOTABLE = and_(
    PROPOSALS.c.id == P_PROPOSAL,
    PROPOSALS.c.event_id == P_EVENT,
    rules.votable_sql(PROPOSALS.c.status),
)

# A proposal's author's name as a column of the statement that changed it: the vote's
# hot path reads no other row to answer.
AUTHOR_NAME = (
    select(USERS.c.display_name)
    .where(USERS.c.id == PROPOSALS.c.author_id)
    .scalar_subquery()
    .label("author_name")
)

# The event log's counter (quorum/realtime/log.py): the event row's ``last_seq``. It also
# returns the threshold, read under the event row's lock (``repository.Counted``).
COUNTER = log.Counter(
    EVENTS, key=EVENTS.c.id, seq=EVENTS.c.last_seq, returning=(EVENTS.c.vote_threshold,)
)
COUNTER_IF_OPEN = replace(COUNTER, guard=rules.accepts_changes_sql(EVENTS.c.status))
