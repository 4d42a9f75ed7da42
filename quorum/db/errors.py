"""Which database errors mean "the database cannot be reached right now", which "the
database gave up on this statement or transaction" (a timeout), and which one is a
foreign key that points nowhere.

The first two are answered 503 with Retry-After (``database_unavailable``,
``database_timeout``): the transaction was rolled back, and the same request may simply
be sent again. Any other database error is a bug or a broken invariant (500).

The type alone does not tell: asyncpg reports a login refused while PostgreSQL restarts
(SQLSTATE 57P03) and a connection lost in the middle of a query (08003) as a plain
``DBAPIError``, neither ``OperationalError`` nor a disconnect in SQLAlchemy's eyes, so the
SQLSTATE decides as well.
"""

from sqlalchemy import exc as sa_exc

# PostgreSQL SQLSTATE classes: 08 connection exception, 53 insufficient resources
# (too many connections, out of memory, disk full).
_UNAVAILABLE_CLASSES = frozenset({"08", "53"})
# 57P01 admin shutdown, 57P02 crash shutdown, 57P03 cannot connect now (starting up).
_UNAVAILABLE_CODES = frozenset({"57P01", "57P02", "57P03"})
# 57014 query_canceled: statement_timeout (waiting for a lock included) or a cancel request;
# 55P03 lock_not_available: lock_timeout; 25P03 idle_in_transaction_session_timeout, when
# the server's notice arrives before the connection is seen closed (else: unavailable).
_TIMEOUT_CODES = frozenset({"57014", "55P03", "25P03"})


def is_timeout(exc: BaseException) -> bool:
    return isinstance(exc, sa_exc.DBAPIError) and _sqlstate(exc) in _TIMEOUT_CODES


def is_unavailable(exc: BaseException) -> bool:
    if isinstance(exc, sa_exc.TimeoutError):  # no pooled connection came free in time
        return True
    if not isinstance(exc, sa_exc.DBAPIError):
        return False
    if exc.connection_invalidated or isinstance(
        exc, sa_exc.OperationalError | sa_exc.InterfaceError
    ):
        return True
    sqlstate = _sqlstate(exc)
    return sqlstate[:2] in _UNAVAILABLE_CLASSES or sqlstate in _UNAVAILABLE_CODES


# 40P01 deadlock_detected: PostgreSQL ended one of two transactions that waited for each
# other; the other went on.
_DEADLOCK_SQLSTATE = "40P01"


def is_deadlock(exc: BaseException) -> bool:
    return isinstance(exc, sa_exc.DBAPIError) and _sqlstate(exc) == _DEADLOCK_SQLSTATE


def _sqlstate(exc: sa_exc.DBAPIError) -> str:
    return str(getattr(exc.orig, "sqlstate", None) or "")


# SQLSTATE 23503 foreign_key_violation; SQLite names the same failure by its extended code.
_FOREIGN_KEY_SQLSTATE = "23503"
_SQLITE_FOREIGN_KEY = "SQLITE_CONSTRAINT_FOREIGNKEY"


def is_foreign_key_violation(exc: BaseException) -> bool:
    """A row was written with a reference to a row that does not exist (any more).

    SQLite does not say which constraint failed, so callers that care which row is
    missing must ask the database, as ``quorum.api.routing`` does for the caller's user.
    """
    if not isinstance(exc, sa_exc.IntegrityError):
        return False
    orig = exc.orig
    return (
        _sqlstate(exc) == _FOREIGN_KEY_SQLSTATE
        or getattr(orig, "sqlite_errorname", None) == _SQLITE_FOREIGN_KEY
    )
