"""The votes that reach one event together, cast by one statement (PostgreSQL).

Every vote takes a number from its event's row (the log's counter), so the votes on one
event are written one after another however many arrive at once. Sent as one statement
each, they queued in PostgreSQL for that row: 30 backends waiting on one row lock spent
more CPU on the waiting (the lock manager, the wake-ups, the rechecks) than on the votes,
and the database did 934 votes/s where the same statements, two at a time, did 1,851
(pgbench on this machine, bench/RESULTS.md). So this process sends at most one vote
statement per event at a time (``quorum.db.batch.Batcher``): the votes that arrive while
it runs wait for the next one, which casts them all (``BATCH``): one statement, one
number range, one commit, about a fifth of a single vote's database CPU per vote at 20.

``BATCH`` does what ``at_once.VOTE`` does, for each vote of the batch, in the order they
arrived, and returns one row per vote with ``VOTE``'s columns, so the service reads
either the same way. What it does not do is accept a proposal: a batch in which a vote
would reach the threshold, or that finds (under the row locks, after its snapshot) a
proposal decided or the event closed, refuses as a whole (``quorum_refuse``, nothing
written), and its votes are then cast one by one with ``VOTE``, which answers each of
those cases exactly. So does a batch that fails on a foreign key (an account deleted
meanwhile): only that vote's request sees the error.

A batch of one is ``VOTE`` itself: when votes come one at a time, nothing changes.
"""

import uuid
from collections.abc import Sequence
from typing import Any, NamedTuple, cast

from sqlalchemy import (
    CTE,
    ColumnElement,
    Select,
    and_,
    bindparam,
    case,
    column,
    distinct,
    exists,
    false,
    func,
    insert,
    literal,
    not_,
    select,
    true,
    update,
)
from sqlalchemy import exc as sa_exc
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from sqlalchemy.sql.elements import BindParameter, Grouping
from sqlalchemy.types import Integer, TypeEngine

from quorum.db.base import utcnow
from quorum.db.batch import Batcher, Batchers
from quorum.db.errors import is_deadlock
from quorum.decisions import at_once, rules, tables
from quorum.decisions.events import VoteCast
from quorum.decisions.tables import EVENTS, MEMBERSHIPS, P_EVENT, P_NOW, PROPOSALS, VOTES

MAX_BATCH = 50  # votes per statement: longer ones hold the event row longer
BATCH_REFUSED = "batch_refused"

# -- the statements ---------------------------------------------------------------------


def _rows(name: str, **arrays: ColumnElement[Any]) -> CTE:
    """A batch's rows: its number ``n`` (1, 2, ...) and, per column, the element ``n``
    of the array parameter given for it. quorum_batch (migration 8a2d5c1e9f30) is
    generate_series with one row estimate for every batch."""
    first = next(iter(arrays.values()))
    numbers = func.quorum_batch(func.cardinality(first)).table_valued(column("n", Integer))
    columns = [Grouping(array)[numbers.c.n].label(key) for key, array in arrays.items()]
    return select(numbers.c.n, *columns).cte(name)


def _array(name: str, item: TypeEngine[Any]) -> BindParameter[Any]:
    return bindparam(name, type_=postgresql.ARRAY(item))


_ballots = _rows(
    "ballots",
    proposal_id=_array("p_proposals", PROPOSALS.c.id.type),
    user_id=_array("p_users", VOTES.c.user_id.type),
    session_id=_array("p_sessions", tables.SESSIONS.c.id.type),
)


def _of(cte: CTE) -> Any:
    """The join condition of a per-vote CTE with ``ballots``: the vote's number."""
    return cte.c.n == _ballots.c.n


# Each voter's access (``tables.ACCESS`` for each): their membership, name, live session.
_access = (
    select(_ballots.c.n, *tables.ACCESS_COLUMNS)
    .select_from(
        tables.access_joins(
            _ballots.join(EVENTS, tables.THE_EVENT), _ballots.c.user_id, _ballots.c.session_id
        )
    )
    .cte("access")
)
# Each voter's approved membership, held FOR SHARE (``at_once``'s ``member``).
_member = (
    select(_ballots.c.n, MEMBERSHIPS.c.id)
    .select_from(
        _ballots.join(
            MEMBERSHIPS,
            rules.holds_membership_sql(
                MEMBERSHIPS.c.event_id,
                MEMBERSHIPS.c.user_id,
                MEMBERSHIPS.c.status,
                P_EVENT,
                _ballots.c.user_id,
            ),
        )
    )
    .with_for_update(read=True, of=MEMBERSHIPS)
    .cte("member")
)
# Each vote's proposal in the snapshot, and whether the voter had voted on it already.
_snapshot = (
    select(
        _ballots.c.n,
        PROPOSALS.c.status.label("snapshot_status"),
        exists()
        .where(VOTES.c.proposal_id == _ballots.c.proposal_id, VOTES.c.user_id == _ballots.c.user_id)
        .label("had_vote"),
    )
    .select_from(
        _ballots.outerjoin(
            PROPOSALS,
            and_(PROPOSALS.c.id == _ballots.c.proposal_id, PROPOSALS.c.event_id == P_EVENT),
        )
    )
    .cte("snapshot")
)
# The votes every check of the snapshot allows; a second one of the same voter for the
# same proposal is skipped by the key, as a second request would be.
_voted = (
    postgresql.insert(VOTES)
    .from_select(
        ["proposal_id", "user_id", "created_at"],
        select(_ballots.c.proposal_id, _ballots.c.user_id, P_NOW)
        .select_from(
            _ballots.join(_access, _of(_access))
            .join(_member, _of(_member))
            .join(_snapshot, _of(_snapshot))
        )
        .where(
            _access.c.live_session.is_not(None),
            rules.accepts_changes_sql(_access.c.event_status),
            rules.votable_sql(_snapshot.c.snapshot_status),
        ),
    )
    .on_conflict_do_nothing()
    .returning(VOTES.c.proposal_id, VOTES.c.user_id)
    .cte("voted")
)
# The votes written, each with its place among them (k) and among its proposal's (r).
_won = (
    select(func.min(_ballots.c.n).label("n"), _voted.c.proposal_id)
    .select_from(
        _voted.join(
            _ballots,
            and_(
                _ballots.c.proposal_id == _voted.c.proposal_id,
                _ballots.c.user_id == _voted.c.user_id,
            ),
        )
    )
    .group_by(_voted.c.proposal_id, _voted.c.user_id)
    .subquery("won")
)
_ranked = select(
    _won.c.n,
    _won.c.proposal_id,
    func.row_number().over(order_by=_won.c.n).label("k"),
    func.row_number().over(partition_by=_won.c.proposal_id, order_by=_won.c.n).label("r"),
    func.count().over(partition_by=_won.c.proposal_id).label("votes"),
    func.count().over().label("total"),
).cte("ranked")
# Each proposal's count, by its votes in the batch, while votable and short of the
# threshold (in the snapshot: the counter checks it against the latest).
# In the order of their ids, as two batches (of two processes) lock them: no deadlock.
_per_proposal = (
    select(_ranked.c.proposal_id, _ranked.c.votes)
    .distinct()
    .order_by(_ranked.c.proposal_id)
    .subquery("per_proposal")
)
_threshold = select(_access.c.event_threshold).limit(1).scalar_subquery()
_counted = (
    update(PROPOSALS)
    .where(
        PROPOSALS.c.id == _per_proposal.c.proposal_id,
        PROPOSALS.c.event_id == P_EVENT,
        rules.votable_sql(PROPOSALS.c.status),
        not_(
            func.coalesce(
                rules.reaches_threshold_sql(
                    PROPOSALS.c.vote_count + _per_proposal.c.votes, _threshold
                ),
                false(),
            )
        ),
    )
    .values(vote_count=PROPOSALS.c.vote_count + _per_proposal.c.votes)
    .returning(*PROPOSALS.c, tables.AUTHOR_NAME, _per_proposal.c.votes.label("batch_votes"))
    .cte("counted")
)
# The log's counter (``tables.COUNTER_IF_OPEN``): one number per vote counted. The sum
# reads ``counted`` to its end before the event row is locked: a data-modifying CTE
# runs as its rows are read, so the counter would otherwise lock the event row after
# the first proposal's UPDATE and before the others', and a comment holding one of
# those (FOR SHARE) while waiting for the event row would deadlock with it.
_step = tables.COUNTER_IF_OPEN
_counter = (
    update(_step.table)
    .where(
        _step.key == P_EVENT,
        *([] if _step.guard is None else [_step.guard]),
        exists(select(_counted.c.id)),
    )
    .values({_step.seq: _step.seq + select(func.sum(_counted.c.batch_votes)).scalar_subquery()})
    .returning(_step.seq, *_step.returning)
    .cte("counter")
)
# Each vote's entry: its number and the count its vote made.
_entries = (
    select(
        _ranked.c.n,
        (_counter.c.last_seq - _ranked.c.total + _ranked.c.k).label("seq"),
        (_counted.c.vote_count - _counted.c.batch_votes + _ranked.c.r).label("vote_count"),
    )
    .select_from(
        _ranked.join(_counted, _counted.c.id == _ranked.c.proposal_id).join(_counter, true())
    )
    .cte("entries")
)
_logged = (
    insert(_step.log)
    .from_select(
        ["topic_id", "seq", "type", "data", "created_at"],
        select(
            P_EVENT,
            _entries.c.seq,
            literal(VoteCast.TYPE, _step.log.c.type.type),
            at_once.vote_payload(
                _ballots.c.proposal_id, _ballots.c.user_id, _access, _entries.c.vote_count
            ),
            P_NOW,
        ).select_from(_entries.join(_ballots, _of(_entries)).join(_access, _of(_access))),
    )
    .cte("logged")
)
_written = _entries.c.n.is_not(None)
_refused = case(
    (
        select(func.count()).select_from(_counted).scalar_subquery()
        != select(func.count(distinct(_ranked.c.proposal_id))).scalar_subquery(),
        at_once.refuse(BATCH_REFUSED),  # decided after the snapshot, or now at the threshold
    ),
    (
        and_(exists(select(_ranked.c.n)), not_(exists(select(_counter.c.last_seq)))),
        at_once.refuse(BATCH_REFUSED),  # closed after the snapshot
    ),
    (
        exists(
            select(_counted.c.id)
            .select_from(_counted.join(_counter, true()))
            .where(rules.reaches_threshold_sql(_counted.c.vote_count, _counter.c.vote_threshold))
        ),
        at_once.refuse(BATCH_REFUSED),  # the threshold was lowered after the snapshot
    ),
    else_=literal(0),
)
_proposal_columns = [
    _entries.c.vote_count if c.name == "vote_count" else _counted.c[c.name] for c in PROPOSALS.c
]
BATCH: Select[Any] = (
    select(
        _access.c.event_status.is_not(None).label("found"),
        *[c for c in _access.c if c.name != "n"],
        select(func.count())
        .select_from(_member)
        .where(_of(_member))
        .scalar_subquery()
        .label("is_member"),
        _snapshot.c.snapshot_status,
        _snapshot.c.had_vote,
        case((_written, 1), else_=0).label("inserted"),
        *_proposal_columns,
        _counted.c.author_name,
        _entries.c.seq.label("last_seq"),
        _counter.c.vote_threshold,
        _refused.label("refused"),
    )
    .select_from(
        _ballots.outerjoin(_access, _of(_access))
        .outerjoin(_snapshot, _of(_snapshot))
        .outerjoin(_entries, _of(_entries))
        .outerjoin(_counted, and_(_written, _counted.c.id == _ballots.c.proposal_id))
        .outerjoin(_counter, _written)
    )
    .add_cte(_logged)
    .order_by(_ballots.c.n)
)
at_once.prepared(BATCH)  # compiled at start-up, not by the first batch


# -- casting ----------------------------------------------------------------------------
class Ballot(NamedTuple):
    proposal_id: uuid.UUID
    user_id: uuid.UUID
    session_id: uuid.UUID


async def cast_vote(
    session: AsyncSession,
    batches: Batchers | None,
    event_id: uuid.UUID,
    ballot: Ballot,
) -> Any:
    """``at_once.VOTE``'s row (or its ``Refused``) for ``ballot``, cast with the other
    votes on ``event_id`` that reach ``batches`` (the database's, from its session
    factory) while another statement for that event runs; without ``batches``, alone."""
    engine = cast(AsyncEngine, session.bind)
    if batches is None:
        answer = (await _cast_many(engine, event_id, [ballot]))[0]
    else:
        answer = await batches.submit(
            ("votes", event_id),
            ballot,
            lambda: Batcher(
                "votes",
                lambda ballots: _cast_many(engine, event_id, ballots),
                MAX_BATCH,
                linger=0,
            ),
        )
    if isinstance(answer, Exception):
        raise answer  # this vote's own error, cast alone after the batch refused
    return answer


async def _cast_many(
    engine: AsyncEngine, event_id: uuid.UUID, ballots: Sequence[Ballot]
) -> list[Any]:
    """One row (or ``Refused``) per ballot: ``BATCH`` for several, ``VOTE`` for each
    when there is one, or when the batch refused (see the module's docstring); cast
    alone, a vote's error is its answer, not its batch's."""
    now = utcnow()
    if len(ballots) > 1:
        try:
            rows = await at_once.fetch(
                engine,
                BATCH,
                {
                    "p_event": event_id,
                    "now": now,
                    "p_proposals": [b.proposal_id for b in ballots],
                    "p_users": [b.user_id for b in ballots],
                    "p_sessions": [b.session_id for b in ballots],
                },
            )
        except sa_exc.DBAPIError as exc:
            if not (isinstance(exc, sa_exc.IntegrityError) or is_deadlock(exc)):
                raise
            rows = at_once.Refused(BATCH_REFUSED)
        if not isinstance(rows, at_once.Refused):
            return rows
    if len(ballots) == 1:
        return [await _cast_alone(engine, event_id, ballots[0])]
    answers: list[Any] = []
    for ballot in ballots:
        try:
            answers.append(await _cast_alone(engine, event_id, ballot))
        except Exception as exc:
            answers.append(exc)
    return answers


async def _cast_alone(engine: AsyncEngine, event_id: uuid.UUID, ballot: Ballot) -> Any:
    rows = await at_once.fetch(engine, at_once.VOTE, at_once.parameters(event_id, *ballot))
    return rows if isinstance(rows, at_once.Refused) else rows[0]
