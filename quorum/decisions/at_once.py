"""A member's vote (and its withdrawal), comment and new proposal on PostgreSQL, each as
ONE statement, built here once, at import, from quorum/decisions/rules.py.

The route runs it autocommitted (``run``): no BEGIN before it, no COMMIT after it, so
the rows it locks (the membership FOR SHARE, the proposal, the event row that numbers
the log) are released when it ends, and no client round trip ever falls inside that
window. It also reads what the route's access check read (quorum/decisions/access.py:
the event, the caller's membership and name, whether their login session is live), so
a member's vote costs one round trip in all. A request with an Idempotency-Key, whose
record holds the rendered response and commits with the write, runs the same statement
inside the request's transaction (``run_in``).

Each data-modifying CTE feeds the next, and that chain is the order in which they run
and lock, the order of every change:
  access   the route's access check (``tables.ACCESS``), in the statement's snapshot;
  member   the caller's approved membership, FOR SHARE (``rules.holds_membership_sql``);
  voted    INSERT the vote ... ON CONFLICT DO NOTHING, only if every check the snapshot
           can make holds (a live session, an approved membership, an OPEN event, a
           votable proposal);
  counted  the proposal's conditional UPDATE (``rules.votable_sql``), only for a vote
           inserted: +1, and accepted (``decided_by: auto``) when the count reaches the
           event's threshold (``rules.reaches_threshold_sql``);
  counter  the event log's counter (``rules.accepts_changes_sql``), only if counted: one
           number, two when the vote accepted the proposal;
  logged   the ``vote.cast`` entry, and the accepting vote's ``proposal.updated``, their
           payloads built here as the service builds them in Python.
A withdrawal has the same chain with a DELETE, and never accepts.

It refuses as a whole. What only the later steps can see (READ COMMITTED: a decision or
a close that committed after the snapshot, which the proposal's and the event row's
UPDATEs find when they get the row) makes the outer SELECT call ``quorum_refuse``
(installed by migration 3f7b1c9d2e64): the statement raises and nothing it wrote
survives. So does a threshold that changed after the snapshot (the counter reads the
latest committed one under the event row's lock) if it would decide otherwise than the
one the proposal's UPDATE used: the vote runs again, on a snapshot that sees it.

The route's statements run on asyncpg's own connection (``run``), which prepares each
once per pooled connection. No ORM session, no SQLAlchemy execution runs them.
"""

import functools
import json
import uuid
from types import SimpleNamespace
from typing import Any, NamedTuple, cast

import asyncpg
from sqlalchemy import (
    CTE,
    ColumnElement,
    Select,
    Table,
    and_,
    bindparam,
    case,
    delete,
    exists,
    false,
    func,
    insert,
    literal,
    literal_column,
    not_,
    null,
    or_,
    select,
    true,
    union_all,
    update,
)
from sqlalchemy import exc as sa_exc
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.dialects.postgresql import asyncpg as asyncpg_dialect
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from quorum.db.base import utcnow
from quorum.decisions import rules, tables
from quorum.decisions.events import (
    CommentCreated,
    ProposalCreated,
    ProposalUpdated,
    VoteCast,
    VoteWithdrawn,
)
from quorum.decisions.models import Comment, ProposalStatus
from quorum.decisions.schemas import DecidedAutomatically
from quorum.decisions.tables import P_EVENT, P_NOW, P_PROPOSAL, P_SID, P_USER

REFUSED_SQLSTATE = "QR001"  # quorum_refuse's
THRESHOLD_CHANGED = "threshold_changed"  # a refusal that is no answer: run the vote again

_proposals, _votes = tables.PROPOSALS, tables.VOTES
_access = tables.ACCESS.cte("access")
_member = (
    select(tables.MEMBERSHIPS.c.id)
    .where(
        rules.holds_membership_sql(
            tables.MEMBERSHIPS.c.event_id,
            tables.MEMBERSHIPS.c.user_id,
            tables.MEMBERSHIPS.c.status,
            P_EVENT,
            P_USER,
        )
    )
    .with_for_update(read=True)
    .cte("member")
)
_step = select(literal(1).label("one")).subquery("step")

# Every check the snapshot can make, before anything is written. Without a login session
# (``p_sid`` NULL) the caller's access was checked in the same transaction (``run_in``).
_may_write_snapshot = exists(
    select(_access.c.event_status).where(
        or_(_access.c.live_session.is_not(None), P_SID.is_(None)),
        rules.accepts_changes_sql(_access.c.event_status),
    )
)
_may_write = and_(_may_write_snapshot, exists(select(_member.c.id)), exists().where(tables.VOTABLE))
_had_vote = exists().where(_votes.c.proposal_id == P_PROPOSAL, _votes.c.user_id == P_USER)
_tally_hidden = rules.tally_hidden_sql(_access.c.hidden_tallies, _access.c.event_status)


def vote_payload(
    proposal: ColumnElement[Any],
    user: ColumnElement[Any],
    access: CTE,
    vote_count: ColumnElement[Any],
) -> ColumnElement[Any]:
    """A ``vote.cast`` or ``vote.withdrawn`` payload, as ``service.voter`` and
    ``rules.tally_hidden`` make it in Python: no voter on an anonymous event. ``access``
    holds the access check's columns (``tables.ACCESS_COLUMNS``) for ``user``."""
    voter = case(
        (access.c.anonymous_votes, null()),
        else_=func.jsonb_build_object(
            literal_column("'id'"),
            user,
            literal_column("'display_name'"),
            access.c.display_name,
        ),
    )
    return func.jsonb_build_object(
        literal_column("'proposal_id'"),
        proposal,
        literal_column("'user'"),
        voter,
        literal_column("'vote_count'"),
        vote_count,
        literal_column("'tally_hidden'"),
        rules.tally_hidden_sql(access.c.hidden_tallies, access.c.event_status),
        type_=JSONB,
    )


def _payload(counted: CTE) -> ColumnElement[Any]:
    return vote_payload(P_PROPOSAL, P_USER, _access, counted.c.vote_count)


def _json_time(value: ColumnElement[Any]) -> ColumnElement[Any]:
    """A timestamp as pydantic writes it to JSON: UTC, ``Z``, microseconds only when not
    zero (``2026-11-30T03:04:05Z``, ``2026-11-30T03:04:05.120000Z``); NULL stays NULL."""
    utc = func.timezone(literal_column("'UTC'"), value)
    fraction = case(
        (func.date_trunc(literal_column("'second'"), utc) == utc, literal_column("''")),
        else_=func.to_char(utc, literal_column("'.US'")),
    )
    seconds = func.to_char(utc, literal_column("'YYYY-MM-DD\"T\"HH24:MI:SS'"))
    return seconds.op("||")(fraction).op("||")(literal_column("'Z'"))


_AUTO = DecidedAutomatically().model_dump(mode="json")


def _accepted_payload(counted: CTE) -> ColumnElement[Any]:
    """The ``proposal.updated`` payload of the proposal a vote accepted, as
    ``views.proposal`` makes it from the same row (``service._updated``)."""
    fields: dict[str, ColumnElement[Any]] = {
        "id": counted.c.id,
        "event_id": counted.c.event_id,
        "kind": counted.c.kind,
        "title": counted.c.title,
        "body": counted.c.body,
        "author": func.jsonb_build_object(
            literal_column("'id'"),
            counted.c.author_id,
            literal_column("'display_name'"),
            counted.c.author_name,
        ),
        "status": counted.c.status,
        "vote_count": counted.c.vote_count,
        "tally_hidden": _tally_hidden,
        "decided_by": literal_column(f"'{json.dumps(_AUTO)}'::jsonb"),
        "decided_at": _json_time(counted.c.decided_at),
        "created_at": _json_time(counted.c.created_at),
        "edited_at": _json_time(counted.c.edited_at),
    }
    if fields.keys() != ProposalUpdated.model_fields.keys():
        raise AssertionError("the acceptance payload must have ProposalUpdated's fields")
    pairs = [part for key, value in fields.items() for part in (literal_column(f"'{key}'"), value)]
    return func.jsonb_build_object(*pairs, type_=JSONB)


class _Entry(NamedTuple):
    """An entry a statement logs: its type and payload, and, for one after the first,
    the condition on which it is written (it takes a number only then)."""

    type: str
    data: ColumnElement[Any]
    when: ColumnElement[bool] | None = None


def _count_and_log(changed: CTE, first: _Entry, then: _Entry | None = None) -> tuple[CTE, CTE]:
    """The ``counter`` and ``logged`` steps after ``changed`` (the row a write changed):
    the event log's counter (``tables.COUNTER_IF_OPEN``, so ``rules.accepts_changes_sql``)
    takes one number, only if ``changed`` has a row, and one more for ``then`` when its
    condition holds; each entry is written with its number, its payload reading the rows
    of ``changed`` and of the access check."""
    step = tables.COUNTER_IF_OPEN
    guard = [] if step.guard is None else [step.guard]
    extra: ColumnElement[Any] = literal(0)
    if then is not None and then.when is not None:
        extra = case((then.when, 1), else_=0)
    counter = (
        update(step.table)
        .where(step.key == P_EVENT, *guard, exists(select(changed.c.id)))
        .values({step.seq: step.seq + 1 + select(extra).scalar_subquery()})
        .returning(step.seq, *step.returning)
        .cte("counter")
    )
    last = counter.c[step.seq.name]
    log_table = step.log
    sources = counter.join(changed, true()).join(_access, true())

    def row(entry: _Entry, seq: ColumnElement[Any]) -> Select[Any]:
        chosen = select(
            P_EVENT,
            seq,
            literal(entry.type, log_table.c.type.type),
            entry.data,
            P_NOW,
        ).select_from(sources)
        return chosen if entry.when is None else chosen.where(entry.when)

    rows = [row(first, last - extra)] + ([] if then is None else [row(then, last)])
    logged = (
        insert(log_table)
        .from_select(
            ["topic_id", "seq", "type", "data", "created_at"],
            union_all(*rows) if len(rows) > 1 else rows[0],
        )
        .cte("logged")
    )
    return counter, logged


def refuse(code: str) -> ColumnElement[Any]:
    """``quorum_refuse(code)``: the statement raises, and nothing it wrote survives."""
    return func.quorum_refuse(literal_column(f"'{code}'"))


def _statement(
    changed: CTE, label: str, counted: CTE, counter: CTE, logged: CTE, *refusals: Any
) -> Select[Any]:
    """The one row the statement returns: the access check's columns, what each step
    did, and the refusals that must undo what was written (``quorum_refuse``)."""
    changed_rows = select(func.count()).select_from(changed).scalar_subquery()
    wrote = changed_rows > 0
    refused = case(
        (and_(wrote, counted.c.id.is_(None)), refuse("proposal_not_pending")),
        (and_(wrote, counter.c.last_seq.is_(None)), refuse("event_closed")),
        *refusals,
        else_=literal(0),
    )
    snapshot_status = (
        select(_proposals.c.status)
        .where(_proposals.c.id == P_PROPOSAL, _proposals.c.event_id == P_EVENT)
        .scalar_subquery()
    )
    return (
        select(
            _access.c.event_status.is_not(None).label("found"),
            *_access.c,
            select(func.count()).select_from(_member).scalar_subquery().label("is_member"),
            snapshot_status.label("snapshot_status"),
            _had_vote.label("had_vote"),
            changed_rows.label(label),
            *counted.c,
            *counter.c,
            refused.label("refused"),
        )
        .select_from(
            _step.outerjoin(_access, true()).outerjoin(counted, true()).outerjoin(counter, true())
        )
        .add_cte(logged)
    )


# -- the vote ----------------------------------------------------------------------------
_voted = (
    postgresql.insert(_votes)
    .from_select(
        ["proposal_id", "user_id", "created_at"],
        select(P_PROPOSAL, P_USER, P_NOW).where(_may_write),
    )
    .on_conflict_do_nothing()
    .returning(_votes.c.proposal_id)
    .cte("voted")
)
# The threshold in the statement's snapshot: the counter checks it against the latest.
_reaches_now = rules.reaches_threshold_sql(
    _proposals.c.vote_count + 1, select(_access.c.event_threshold).scalar_subquery()
)
_counted = (
    update(_proposals)
    .where(
        _proposals.c.id == select(_voted.c.proposal_id).scalar_subquery(),
        _proposals.c.event_id == P_EVENT,
        rules.votable_sql(_proposals.c.status),
    )
    .values(
        vote_count=_proposals.c.vote_count + 1,
        status=case(
            (_reaches_now, literal(ProposalStatus.ACCEPTED.value)), else_=_proposals.c.status
        ),
        decided_automatically=case(
            (_reaches_now, true()), else_=_proposals.c.decided_automatically
        ),
        decided_at=case(
            (_reaches_now, bindparam("now", type_=_proposals.c.decided_at.type)),
            else_=_proposals.c.decided_at,
        ),
    )
    .returning(*_proposals.c, tables.AUTHOR_NAME)
    .cte("counted")
)
_accepted = _counted.c.status == ProposalStatus.ACCEPTED.value
_counter, _logged = _count_and_log(
    _counted,
    _Entry(VoteCast.TYPE, _payload(_counted)),
    _Entry(ProposalUpdated.TYPE, _accepted_payload(_counted), _accepted),
)
# The threshold the counter read under the event row's lock is the latest committed.
_reaches_latest = and_(
    _counter.c.vote_threshold.is_not(None),
    rules.reaches_threshold_sql(_counted.c.vote_count, _counter.c.vote_threshold),
)
VOTE = _statement(
    _voted,
    "inserted",
    _counted,
    _counter,
    _logged,
    (
        and_(
            _counter.c.last_seq.is_not(None),
            or_(and_(_accepted, not_(_reaches_latest)), and_(not_(_accepted), _reaches_latest)),
        ),
        refuse(THRESHOLD_CHANGED),
    ),
)

# -- the withdrawal ----------------------------------------------------------------------
_withdrawn = (
    delete(_votes)
    .where(_votes.c.proposal_id == P_PROPOSAL, _votes.c.user_id == P_USER, _may_write)
    .returning(_votes.c.proposal_id)
    .cte("withdrawn")
)
_uncounted = (
    update(_proposals)
    .where(
        _proposals.c.id == select(_withdrawn.c.proposal_id).scalar_subquery(),
        _proposals.c.event_id == P_EVENT,
        rules.votable_sql(_proposals.c.status),
    )
    .values(vote_count=_proposals.c.vote_count - 1)
    .returning(_proposals.c.id, _proposals.c.vote_count)
    .cte("counted")
)
_w_counter, _w_logged = _count_and_log(_uncounted, _Entry(VoteWithdrawn.TYPE, _payload(_uncounted)))
WITHDRAW = _statement(_withdrawn, "deleted", _uncounted, _w_counter, _w_logged)


def parameters(
    event_id: uuid.UUID,
    proposal_id: uuid.UUID,
    user_id: uuid.UUID,
    session_id: uuid.UUID | None,
) -> dict[str, Any]:
    """The parameters of ``VOTE`` and ``WITHDRAW``; ``session_id`` None: see ``run_in``."""
    return {
        "p_sid": session_id,
        "p_event": event_id,
        "p_proposal": proposal_id,
        "p_user": user_id,
        "now": utcnow(),
    }


# -- an insert: a comment, a proposal -----------------------------------------------------
# A write that adds one row and logs one entry has one shape: the row is INSERTed only if
# every check holds, the counter numbers its entry, whose payload (built by the service,
# with the row's id and time chosen in Python) gets here what only the statement reads:
# the author's name, and for a proposal whether the event hides its tallies.


def completed(data: ColumnElement[Any], path: str, value: ColumnElement[Any]) -> ColumnElement[Any]:
    """``data`` with ``value`` set at ``path`` (a jsonb path, e.g. ``{author,display_name}``)."""
    return func.jsonb_set(data, literal_column(f"'{path}'::text[]"), func.to_jsonb(value))


_ENTRY_DATA = bindparam("entry_data", type_=JSONB)
_named = completed(_ENTRY_DATA, "{author,display_name}", _access.c.display_name)


def _inserting(inserted: CTE, entry_type: str, data: ColumnElement[Any], *more: Any) -> Select[Any]:
    """The statement around ``inserted`` (its one row's INSERT, gated on every check):
    the counter and the ``entry_type`` entry with payload ``data``, and the one row it
    returns: the access check's columns, whether the caller holds a membership, ``more``
    columns, whether the row went in, the number taken, and the refusal that undoes the
    INSERT when the counter found the event closed after the snapshot."""
    counter, logged = _count_and_log(inserted, _Entry(entry_type, data))
    inserted_rows = select(func.count()).select_from(inserted).scalar_subquery()
    return (
        select(
            _access.c.event_status.is_not(None).label("found"),
            *_access.c,
            select(func.count()).select_from(_member).scalar_subquery().label("is_member"),
            *more,
            inserted_rows.label("inserted"),
            counter.c.last_seq,
            case(
                (and_(inserted_rows > 0, counter.c.last_seq.is_(None)), refuse("event_closed")),
                else_=literal(0),
            ).label("refused"),
        )
        .select_from(_step.outerjoin(_access, true()).outerjoin(counter, true()))
        .add_cte(logged)
    )


# A comment: the proposal is held FOR SHARE after the membership (its status stays still
# until the comment is in: a deletion waits); a deleted one takes no comment.
_comments = cast(Table, Comment.__table__)
_target = (
    select(_proposals.c.status)
    .where(_proposals.c.id == P_PROPOSAL, _proposals.c.event_id == P_EVENT)
    .with_for_update(read=True)
    .cte("target")
)
_commented = (
    insert(_comments)
    .from_select(
        ["id", "proposal_id", "author_id", "body", "created_at"],
        select(
            bindparam("p_comment", type_=_comments.c.id.type),
            P_PROPOSAL,
            P_USER,
            bindparam("p_body", type_=_comments.c.body.type),
            bindparam("now", type_=_comments.c.created_at.type),
        ).where(
            _may_write_snapshot,
            exists(select(_member.c.id)),
            exists(select(_target.c.status).where(rules.takes_comments_sql(_target.c.status))),
        ),
    )
    .returning(_comments.c.id)
    .cte("commented")
)
COMMENT = _inserting(
    _commented,
    CommentCreated.TYPE,
    _named,
    select(_target.c.status).scalar_subquery().label("snapshot_status"),
)

# A proposal: ``p_proposal`` is the new one's id. Every column is given (none of the
# model's Python defaults, which the statement compiled once would freeze), as
# ``service.new_proposal`` sets them. The lock order is the comment's: membership, then
# the event row (the counter; the foreign keys' checks, KEY SHARE, come at the end).
_proposed = (
    insert(_proposals)
    .from_select(
        [
            "id",
            "event_id",
            "kind",
            "title",
            "body",
            "author_id",
            "status",
            "vote_count",
            "decided_automatically",
            "created_at",
        ],
        select(
            P_PROPOSAL,
            P_EVENT,
            bindparam("p_kind", type_=_proposals.c.kind.type),
            bindparam("p_title", type_=_proposals.c.title.type),
            bindparam("p_body", type_=_proposals.c.body.type),
            P_USER,
            literal(ProposalStatus.PENDING.value, _proposals.c.status.type),
            literal(0, _proposals.c.vote_count.type),
            false(),
            bindparam("now", type_=_proposals.c.created_at.type),
        ).where(_may_write_snapshot, exists(select(_member.c.id))),
    )
    .returning(_proposals.c.id)
    .cte("proposed")
)
PROPOSE = _inserting(
    _proposed,
    ProposalCreated.TYPE,
    completed(
        _named,
        "{tally_hidden}",
        rules.tally_hidden_sql(_access.c.hidden_tallies, _access.c.event_status),
    ),
)


class Refused(NamedTuple):
    """The statement raised ``quorum_refuse(code)``: it wrote nothing."""

    code: str


class _Prepared(NamedTuple):
    """A statement compiled once, for asyncpg: its SQL, the order of its parameters, and
    the values of those the statement fixes (its literals)."""

    sql: str
    order: tuple[str, ...]
    fixed: dict[str, Any]


# The parameters a caller gives (``parameters``, the comment's and the proposal's, and a
# batch's: quorum/decisions/batched.py).
_GIVEN = (
    "p_sid",
    "p_event",
    "p_proposal",
    "p_user",
    "now",
    "p_comment",
    "p_body",
    "p_kind",
    "p_title",
    "entry_data",
    "p_proposals",
    "p_users",
    "p_sessions",
    "p_comments",
    "p_bodies",
    "p_times",
    "p_entries",
)


@functools.cache
def prepared(statement: Select[Any]) -> _Prepared:
    """``statement`` compiled for asyncpg, once per process."""
    compiled = statement.compile(dialect=asyncpg_dialect.dialect())  # type: ignore[no-untyped-call]
    fixed = compiled.construct_params(dict.fromkeys(_GIVEN))
    return _Prepared(str(compiled), tuple(compiled.positiontup or ()), dict(fixed))


async def run(
    session: AsyncSession,
    statement: Select[Any],
    event_id: uuid.UUID,
    proposal_id: uuid.UUID,
    user_id: uuid.UUID,
    session_id: uuid.UUID,
    **more: Any,
) -> Any:
    """Run ``statement`` (``VOTE``, ``WITHDRAW``, or ``COMMENT`` with ``more``) alone, as
    ``fetch`` does. The session itself stays unused: it has no transaction to commit.
    The row (its columns as attributes), or the ``Refused`` code."""
    params = parameters(event_id, proposal_id, user_id, session_id) | more
    if "entry_data" in params:
        params["entry_data"] = json.dumps(params["entry_data"])  # the pool's jsonb codec
    rows = await fetch(cast(AsyncEngine, session.bind), statement, params)
    return rows if isinstance(rows, Refused) else rows[0]


async def fetch(
    engine: AsyncEngine, statement: Select[Any], params: dict[str, Any]
) -> list[SimpleNamespace] | Refused:
    """Run ``statement`` alone on a pooled connection of ``engine``, through asyncpg
    itself: asyncpg runs a statement outside any transaction as its own (autocommit),
    and prepares it once per connection (its statement cache: the SQL text is constant).
    SQLAlchemy's execution layer, about 0.5 ms of CPU per call on the vote, is skipped;
    its pool is kept. The rows (their columns as attributes), or the ``Refused`` code."""
    compiled = prepared(statement)
    args = [params[name] if name in params else compiled.fixed[name] for name in compiled.order]
    async with engine.connect() as connection:
        raw = await connection.get_raw_connection()
        driver: asyncpg.Connection = raw.driver_connection
        try:
            records = await driver.fetch(compiled.sql, *args)
        except asyncpg.PostgresError as exc:
            if exc.sqlstate == REFUSED_SQLSTATE:
                return Refused(str(getattr(exc, "message", "")))
            raise _translated(raw.dbapi_connection, engine, compiled.sql, args, exc) from exc
        except (asyncpg.InterfaceError, OSError) as exc:
            # The connection is gone (the database restarted, the network cut it): out of
            # the pool with it, as SQLAlchemy's own execute would do, and 503 for the caller.
            await connection.invalidate(exc)
            error = _translated(raw.dbapi_connection, engine, compiled.sql, args, exc)
            if isinstance(error, sa_exc.DBAPIError):
                error.connection_invalidated = True
                raise error from exc
            raise sa_exc.DBAPIError(compiled.sql, args, exc, connection_invalidated=True) from exc
    return [SimpleNamespace(**dict(record)) for record in records]


async def run_in(
    session: AsyncSession,
    statement: Select[Any],
    event_id: uuid.UUID,
    proposal_id: uuid.UUID,
    user_id: uuid.UUID,
) -> Any:
    """Run ``statement`` (``VOTE`` or ``WITHDRAW``) in ``session``'s transaction, where
    the caller's access was checked already (``load_access``; so no login session is
    checked here). Inside a savepoint: a refusal undoes the statement alone, and the
    transaction can still read why. The row, or the ``Refused`` code."""
    params = parameters(event_id, proposal_id, user_id, None)
    try:
        async with session.begin_nested():
            connection = await session.connection()
            return (await connection.execute(statement, params)).one()
    except sa_exc.DBAPIError as exc:
        if getattr(exc.orig, "sqlstate", None) != REFUSED_SQLSTATE:
            raise
        return Refused(str(getattr(getattr(exc.orig, "__cause__", None), "message", "")))


def _translated(
    adapted: Any, engine: AsyncEngine, sql: str, args: list[Any], exc: Exception
) -> Exception:
    """The SQLAlchemy exception that ``exc`` would have been through SQLAlchemy's execute
    (an ``IntegrityError`` for a foreign key violation, which the route inspects; an
    ``InterfaceError`` for a closed connection)."""
    try:
        adapted._handle_exception(exc)
    except Exception as dbapi_error:
        dbapi_base = engine.dialect.loaded_dbapi.Error
        return sa_exc.DBAPIError.instance(sql, args, dbapi_error, dbapi_base)
    return exc


for _prepared_at_start in (VOTE, WITHDRAW, COMMENT, PROPOSE):
    prepared(_prepared_at_start)  # compiled at start-up, not by the first request
