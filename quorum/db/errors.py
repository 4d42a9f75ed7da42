"""Which database errors mean "the database cannot be reached right now", and which "the
database gave up on this statement or transaction" (a timeout).

Both are answered 503 with Retry-After (``database_unavailable``, ``database_timeout``):
the transaction was rolled back, and the same request may simply be sent again. Any
other database error is a bug or a broken invariant (500).

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


def _sqlstate(exc: sa_exc.DBAPIError) -> str:
    return str(getattr(exc.orig, "sqlstate", None) or "")
