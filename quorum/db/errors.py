"""Which database errors mean "the database cannot be reached right now", and which
one is a foreign key that points nowhere.

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
        str(getattr(orig, "sqlstate", None) or "") == _FOREIGN_KEY_SQLSTATE
        or getattr(orig, "sqlite_errorname", None) == _SQLITE_FOREIGN_KEY
    )
