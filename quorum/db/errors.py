"""Which database errors mean "the database cannot be reached right now".

Those are answered 503 with Retry-After: the same request may simply be sent again once
the database is back. Any other database error is a bug or a broken invariant (500).

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


def is_unavailable(exc: BaseException) -> bool:
    if isinstance(exc, sa_exc.TimeoutError):  # no pooled connection came free in time
        return True
    if not isinstance(exc, sa_exc.DBAPIError):
        return False
    if exc.connection_invalidated or isinstance(
        exc, sa_exc.OperationalError | sa_exc.InterfaceError
    ):
        return True
    sqlstate = str(getattr(exc.orig, "sqlstate", None) or "")
    return sqlstate[:2] in _UNAVAILABLE_CLASSES or sqlstate in _UNAVAILABLE_CODES
