"""The votes (and the comments) that reach one event together, written by one statement
(PostgreSQL).

Every vote and comment takes a number from its event's row (the log's counter), so the
writes to one event are made one after another however many arrive at once. Sent as one
statement each, they queued in PostgreSQL for that row, and waiting is not free (the
lock manager, the wake-ups, the rechecks): the database spent 1.5 ms of CPU per vote
with 30 sent at a time. So this process sends at most one vote statement per event at
a time (``quorum.db.batch.Batcher``, one per event and kind): the votes that arrive
while it runs wait for the next one, which casts them all (``BATCH``): one statement,
one number range, one commit, 0.11 ms of database CPU per vote in batches of 20
(``bash bench/votes/statement.sh``; bench/RESULTS.md). Comments do the same
(``COMMENT_BATCH``), in their own batches.

``BATCH`` does what ``at_once.VOTE`` does, for each vote of the batch, in the order they
arrived, and returns one row per vote with ``VOTE``'s columns, so the service reads
either the same way (``COMMENT_BATCH`` likewise for ``at_once.COMMENT``). What it does
not do is accept a proposal: a batch in which a vote would reach the threshold, or that
finds (under the row locks, after its snapshot) a proposal decided, the event closed or
the threshold lowered, refuses as a whole (``quorum_refuse``, nothing written), and its
votes are then cast one by one with ``VOTE``, which answers each of those cases
exactly. So does a batch that fails on a foreign key (an account deleted meanwhile) or
a deadlock: only the request concerned sees its error.

A batch of one is ``VOTE`` itself: when writes come one at a time, nothing changes.
"""

import json
import uuid
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, NamedTuple, cast

from sqlalchemy import (
    CTE,
    ColumnElement,
    Select,
    Table,
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
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from sqlalchemy.sql.elements import BindParameter, Grouping
from sqlalchemy.types import Integer, TypeEngine

from quorum.db.base import utcnow
from quorum.db.batch import Batcher, Batchers
from quorum.db.errors import is_deadlock
from quorum.decisions import at_once, rules, tables
from quorum.decisions.events import CommentCreated, VoteCast
from quorum.decisions.models import Comment
from quorum.decisions.tables import EVENTS, MEMBERSHIPS, P_EVENT, P_NOW, PROPOSALS, VOTES

MAX_BATCH = 50  # writes per statement: longer ones hold the event row longer
COMMENTS = cast(Table, Comment.__table__)
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


def _of(cte: CTE, rows: CTE) -> Any:
    """The join condition of a per-row CTE with its batch's ``rows``: the row's number."""
    return cte.c.n == rows.c.n


def _access_of(rows: CTE) -> CTE:
    """Each writer's access (``tables.ACCESS`` for each): their membership, name, and
    whether their login session is live."""
    return (
        select(rows.c.n, *tables.ACCESS_COLUMNS)
        .select_from(
            tables.access_joins(
                rows.join(EVENTS, tables.THE_EVENT), rows.c.user_id, rows.c.session_id
            )
        )
        .cte("access")
    )


def _member_of(rows: CTE) -> CTE:
    """Each writer's approved membership, held FOR SHARE (``at_once``'s ``member``)."""
    return (
        select(rows.c.n, MEMBERSHIPS.c.id)
        .select_from(
            rows.join(
                MEMBERSHIPS,
                rules.holds_membership_sql(
                    MEMBERSHIPS.c.event_id,
                    MEMBERSHIPS.c.user_id,
                    MEMBERSHIPS.c.status,
                    P_EVENT,
                    rows.c.user_id,
                ),
            )
        )
        .with_for_update(read=True, of=MEMBERSHIPS)
        .cte("member")
    )


def _access_columns(access: CTE) -> list[Any]:
    """The access check's columns of a row's answer, as the one-statement writes'."""
    found = access.c.event_status.is_not(None).label("found")
    return [found, *[c for c in access.c if c.name != "n"]]


def _is_member(member: CTE, rows: CTE) -> Any:
    return select(func.count()).select_from(member).where(_of(member, rows)).scalar_subquery()


def _allowed(
    chosen: Select[Any], rows: CTE, checks: tuple[CTE, CTE, CTE], proposal_ok: Any
) -> Select[Any]:
    """``chosen`` from the batch's ``rows`` that every check of the snapshot allows, as
    the one-statement writes gate theirs: ``checks`` are the rows' access, held
    membership and proposal CTEs; a live login session, an OPEN event, and
    ``proposal_ok`` of the proposal."""
    access, member, proposal = checks
    return chosen.select_from(
        rows.join(access, _of(access, rows))
        .join(member, _of(member, rows))
        .join(proposal, _of(proposal, rows))
    ).where(
        access.c.live_session.is_not(None),
        rules.accepts_changes_sql(access.c.event_status),
        proposal_ok,
    )


_step = tables.COUNTER_IF_OPEN


def _counter_of(written: CTE, numbers: ColumnElement[Any]) -> CTE:
    """The log's counter (``tables.COUNTER_IF_OPEN``), if ``written`` has a row:
    ``numbers`` more. ``numbers`` must read ``written`` to its end: a data-modifying CTE
    runs as its rows are read, so a counter that read only its first row would lock the
    event row before the other writes took their proposals' locks, and a comment holding
    one of those (FOR SHARE) while waiting for the event row would deadlock with it."""
    return (
        update(_step.table)
        .where(
            _step.key == P_EVENT,
            *([] if _step.guard is None else [_step.guard]),
            exists(select(literal(1)).select_from(written)),
        )
        .values({_step.seq: _step.seq + numbers})
        .returning(_step.seq, *_step.returning)
        .cte("counter")
    )


def _logged_of(
    entries: CTE,
    rows: CTE,
    access: CTE,
    entry_type: str,
    data: ColumnElement[Any],
    created_at: ColumnElement[Any],
) -> CTE:
    """The log's INSERT of ``entries`` (each row's number ``n`` and its ``seq``): type,
    payload ``data`` and time, read from the batch's ``rows`` and ``access``."""
    return (
        insert(_step.log)
        .from_select(
            ["topic_id", "seq", "type", "data", "created_at"],
            select(
                P_EVENT, entries.c.seq, literal(entry_type, _step.log.c.type.type), data, created_at
            ).select_from(entries.join(rows, _of(entries, rows)).join(access, _of(access, rows))),
        )
        .cte("logged")
    )


# -- the votes ---------------------------------------------------------------------------
_access = _access_of(_ballots)
_member = _member_of(_ballots)
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
        _allowed(
            select(_ballots.c.proposal_id, _ballots.c.user_id, P_NOW),
            _ballots,
            (_access, _member, _snapshot),
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
_counter = _counter_of(_counted, select(func.sum(_counted.c.batch_votes)).scalar_subquery())
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
_logged = _logged_of(
    _entries,
    _ballots,
    _access,
    VoteCast.TYPE,
    at_once.vote_payload(
        _ballots.c.proposal_id, _ballots.c.user_id, _access, _entries.c.vote_count
    ),
    P_NOW,
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
        *_access_columns(_access),
        _is_member(_member, _ballots).label("is_member"),
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
        _ballots.outerjoin(_access, _of(_access, _ballots))
        .outerjoin(_snapshot, _of(_snapshot, _ballots))
        .outerjoin(_entries, _of(_entries, _ballots))
        .outerjoin(_counted, and_(_written, _counted.c.id == _ballots.c.proposal_id))
        .outerjoin(_counter, _written)
    )
    .add_cte(_logged)
    .order_by(_ballots.c.n)
)


# -- the comments ------------------------------------------------------------------------
_notes = _rows(
    "notes",
    comment_id=_array("p_comments", COMMENTS.c.id.type),
    proposal_id=_array("p_proposals", PROPOSALS.c.id.type),
    user_id=_array("p_users", COMMENTS.c.author_id.type),
    session_id=_array("p_sessions", tables.SESSIONS.c.id.type),
    body=_array("p_bodies", COMMENTS.c.body.type),
    created_at=_array("p_times", COMMENTS.c.created_at.type),
    entry=_array("p_entries", JSONB()),
)
_n_access = _access_of(_notes)
_n_member = _member_of(_notes)
# Each comment's proposal, held FOR SHARE (``at_once``'s ``target``), in the order of
# their ids, as a batch of votes updates them: no deadlock between the two.
_target = (
    select(_notes.c.n, PROPOSALS.c.status)
    .select_from(
        _notes.join(
            PROPOSALS,
            and_(PROPOSALS.c.id == _notes.c.proposal_id, PROPOSALS.c.event_id == P_EVENT),
        )
    )
    .order_by(PROPOSALS.c.id)
    .with_for_update(read=True, of=PROPOSALS)
    .cte("target")
)
_commented = (
    insert(COMMENTS)
    .from_select(
        ["id", "proposal_id", "author_id", "body", "created_at"],
        _allowed(
            select(
                _notes.c.comment_id,
                _notes.c.proposal_id,
                _notes.c.user_id,
                _notes.c.body,
                _notes.c.created_at,
            ),
            _notes,
            (_n_access, _n_member, _target),
            rules.takes_comments_sql(_target.c.status),
        ),
    )
    .returning(COMMENTS.c.id)
    .cte("commented")
)
_n_counter = _counter_of(_commented, select(func.count()).select_from(_commented).scalar_subquery())
_n_entries = (
    select(
        _notes.c.n,
        (
            _n_counter.c.last_seq
            - func.count().over()
            + func.row_number().over(order_by=_notes.c.n)
        ).label("seq"),
    )
    .select_from(
        _notes.join(_commented, _commented.c.id == _notes.c.comment_id).join(_n_counter, true())
    )
    .cte("entries")
)
_n_logged = _logged_of(
    _n_entries,
    _notes,
    _n_access,
    CommentCreated.TYPE,
    at_once.completed(_notes.c.entry, "{author,display_name}", _n_access.c.display_name),
    _notes.c.created_at,
)
COMMENT_BATCH: Select[Any] = (
    select(
        *_access_columns(_n_access),
        _is_member(_n_member, _notes).label("is_member"),
        _target.c.status.label("snapshot_status"),
        case((_n_entries.c.n.is_not(None), 1), else_=0).label("inserted"),
        _n_entries.c.seq.label("last_seq"),
        case(
            (
                and_(exists(select(_commented.c.id)), not_(exists(select(_n_counter.c.last_seq)))),
                at_once.refuse(BATCH_REFUSED),  # closed after the snapshot
            ),
            else_=literal(0),
        ).label("refused"),
    )
    .select_from(
        _notes.outerjoin(_n_access, _of(_n_access, _notes))
        .outerjoin(_target, _of(_target, _notes))
        .outerjoin(_n_entries, _of(_n_entries, _notes))
    )
    .add_cte(_n_logged)
    .order_by(_notes.c.n)
)
for _prepared_at_start in (BATCH, COMMENT_BATCH):
    at_once.prepared(_prepared_at_start)  # compiled at start-up, not by the first batch


# -- writing -----------------------------------------------------------------------------
class Ballot(NamedTuple):
    proposal_id: uuid.UUID
    user_id: uuid.UUID
    session_id: uuid.UUID


class Note(NamedTuple):
    """A comment to write: its id and time, chosen in Python, and its entry's payload
    (``CommentCreated`` as JSON), which the statement completes with the author's name."""

    comment_id: uuid.UUID
    proposal_id: uuid.UUID
    user_id: uuid.UUID
    session_id: uuid.UUID
    body: str
    created_at: datetime
    entry: dict[str, Any]


class _Kind(NamedTuple):
    """A kind of write that batches: its statements, alone and together, and the
    parameters of each for the event and its items."""

    name: str
    alone: Select[Any]
    together: Select[Any]
    alone_params: Callable[[uuid.UUID, Any], dict[str, Any]]
    together_params: Callable[[uuid.UUID, Sequence[Any]], dict[str, Any]]


def _ballot_params(event_id: uuid.UUID, ballot: Ballot) -> dict[str, Any]:
    return at_once.parameters(event_id, *ballot)


def _ballots_params(event_id: uuid.UUID, ballots: Sequence[Ballot]) -> dict[str, Any]:
    return {
        "p_event": event_id,
        "now": utcnow(),
        "p_proposals": [b.proposal_id for b in ballots],
        "p_users": [b.user_id for b in ballots],
        "p_sessions": [b.session_id for b in ballots],
    }


def _note_params(event_id: uuid.UUID, note: Note) -> dict[str, Any]:
    return at_once.parameters(event_id, note.proposal_id, note.user_id, note.session_id) | {
        "p_comment": note.comment_id,
        "p_body": note.body,
        "now": note.created_at,
        "entry_data": json.dumps(note.entry),  # the pool's jsonb codec takes text
    }


def _notes_params(event_id: uuid.UUID, notes: Sequence[Note]) -> dict[str, Any]:
    writers = [Ballot(n.proposal_id, n.user_id, n.session_id) for n in notes]
    return _ballots_params(event_id, writers) | {
        "p_comments": [n.comment_id for n in notes],
        "p_bodies": [n.body for n in notes],
        "p_times": [n.created_at for n in notes],
        "p_entries": [json.dumps(n.entry) for n in notes],
    }


VOTES_KIND = _Kind("votes", at_once.VOTE, BATCH, _ballot_params, _ballots_params)
COMMENTS_KIND = _Kind("comments", at_once.COMMENT, COMMENT_BATCH, _note_params, _notes_params)


async def cast_vote(
    session: AsyncSession, batches: Batchers | None, event_id: uuid.UUID, ballot: Ballot
) -> Any:
    """``at_once.VOTE``'s row (or its ``Refused``) for ``ballot``, cast with the other
    votes on ``event_id`` that reach ``batches`` (the database's, from its session
    factory) while another statement for that event runs; without ``batches``, alone."""
    return await _write(session, batches, VOTES_KIND, event_id, ballot)


async def add_comment(
    session: AsyncSession, batches: Batchers | None, event_id: uuid.UUID, note: Note
) -> Any:
    """``at_once.COMMENT``'s row (or its ``Refused``) for ``note``, as ``cast_vote``."""
    return await _write(session, batches, COMMENTS_KIND, event_id, note)


async def _write(
    session: AsyncSession, batches: Batchers | None, kind: _Kind, event_id: uuid.UUID, item: Any
) -> Any:
    engine = cast(AsyncEngine, session.bind)
    if batches is None:
        answer = (await write_many(engine, kind, event_id, [item]))[0]
    else:
        answer = await batches.submit(
            (kind.name, event_id),
            item,
            lambda: Batcher(
                kind.name,
                lambda items: write_many(engine, kind, event_id, items),
                MAX_BATCH,
                linger=0,
            ),
        )
    if isinstance(answer, Exception):
        raise answer  # this write's own error, written alone after the batch refused
    return answer


async def write_many(
    engine: AsyncEngine, kind: _Kind, event_id: uuid.UUID, items: Sequence[Any]
) -> list[Any]:
    """One row (or ``Refused``) per item: the batch statement for several, the one
    alone for each when there is one, or when the batch refused (see the module's
    docstring); written alone, an item's error is its answer, not its batch's."""
    if len(items) > 1:
        try:
            rows = await at_once.fetch(engine, kind.together, kind.together_params(event_id, items))
        except sa_exc.DBAPIError as exc:
            if not (isinstance(exc, sa_exc.IntegrityError) or is_deadlock(exc)):
                raise
            rows = at_once.Refused(BATCH_REFUSED)
        if not isinstance(rows, at_once.Refused):
            return rows
    if len(items) == 1:
        return [await _write_alone(engine, kind, event_id, items[0])]
    answers: list[Any] = []
    for item in items:
        try:
            answers.append(await _write_alone(engine, kind, event_id, item))
        except Exception as exc:
            answers.append(exc)
    return answers


async def _write_alone(engine: AsyncEngine, kind: _Kind, event_id: uuid.UUID, item: Any) -> Any:
    rows = await at_once.fetch(engine, kind.alone, kind.alone_params(event_id, item))
    return rows if isinstance(rows, at_once.Refused) else rows[0]
