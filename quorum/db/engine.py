"""Engine creation, tuned per backend.

On PostgreSQL every session carries ``statement_timeout`` and
``idle_in_transaction_session_timeout``: the server cancels a statement that runs or
waits too long (a lock wait counts as statement time), so a request stuck behind a lock
gets an answer, and it ends a transaction left idle, releasing its row locks, so a
client that went silent mid-transaction holds no lock forever. Both are enforced by the
server: they cannot interrupt a wait on a network that drops every packet without a
reset. The settings travel in the startup packet (asyncpg's ``server_settings``).
PgBouncer refuses startup parameters it does not know: behind it, set both to 0 and put
the timeouts on the database role instead (``ALTER ROLE quorum SET statement_timeout``).

SQLite allows one writer at a time and fails a transaction that tries to upgrade a read
lock to a write lock while another writer holds it (SQLITE_BUSY, which busy_timeout
cannot wait out). Every transaction therefore starts with ``BEGIN IMMEDIATE``: writers
queue on the busy timeout instead of failing, and WAL keeps readers of other
connections unblocked.
"""

from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlalchemy.ext.asyncio import AsyncSession as AsyncSession

from quorum.db import trigrams
from quorum.db.batch import BATCHES, Batchers
from quorum.db.uow import READ_ONLY
from quorum.settings import Settings

SQLITE_BUSY_TIMEOUT_MS = 30_000
CONNECT_TIMEOUT_SECONDS = 5  # asyncpg waits 60 s by default: too long to answer 503 promptly


def create_engine(settings: Settings) -> AsyncEngine:
    if settings.is_sqlite:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(
            settings.db_url,
            pool_size=settings.db_pool_size,
            max_overflow=settings.db_max_overflow,
            pool_timeout=settings.db_pool_timeout,
            connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000},
        )
        _configure_sqlite(engine)
        return engine
    engine = create_async_engine(
        settings.db_url,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
        pool_timeout=settings.db_pool_timeout,
        pool_pre_ping=settings.db_pool_pre_ping,
        pool_recycle=settings.db_pool_recycle,
        connect_args={
            "timeout": CONNECT_TIMEOUT_SECONDS,
            "server_settings": server_settings(settings),
        },
    )
    _wrap_connect_errors(engine)
    return engine


def server_settings(settings: Settings) -> dict[str, str]:
    """The PostgreSQL session settings of every connection (milliseconds, 0: none)."""
    return {
        "statement_timeout": _milliseconds(settings.db_statement_timeout_seconds),
        "idle_in_transaction_session_timeout": _milliseconds(
            settings.db_idle_in_transaction_timeout_seconds
        ),
    }


def _milliseconds(seconds: float) -> str:
    return str(max(1, round(seconds * 1000)) if seconds > 0 else 0)


def _wrap_connect_errors(engine: AsyncEngine) -> None:
    """A refused, reset, unresolvable or timed-out connect leaves asyncpg as a bare
    ``OSError``, which SQLAlchemy lets through as it is. Raised as the driver's
    ``OperationalError`` it becomes ``sqlalchemy.exc.OperationalError``, like every other
    sign of an unreachable database, and the API need not take any ``OSError`` (a full
    disk, a missing file) for a database outage."""

    @event.listens_for(engine.sync_engine, "do_connect")
    def _connect(dialect: Dialect, _record: Any, cargs: Any, cparams: Any) -> Any:
        try:
            return dialect.connect(*cargs, **cparams)
        except OSError as exc:  # TimeoutError included
            raise dialect.loaded_dbapi.OperationalError(f"cannot connect: {exc!r}") from exc


def _configure_sqlite(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we emit BEGIN ourselves, below
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.close()
        # SQLite's lower() folds ASCII only; PostgreSQL's folds every script. Case-
        # insensitive search must match "École" for "école" on both.
        dbapi_connection.create_function("lower", 1, _unicode_lower, deterministic=True)
        # pg_trgm's similarity(), so that one query ranks similar proposals on both.
        dbapi_connection.create_function("similarity", 2, trigrams.similarity, deterministic=True)

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Connection) -> None:
        read_only = conn.get_execution_options().get(READ_ONLY, False)
        conn.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")


def _unicode_lower(value: Any) -> Any:
    return value.lower() if isinstance(value, str) else value


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions of ``engine``; each carries the database's write batchers in its
    ``info`` (quorum.db.batch.batches_of), shared by all of them."""
    return async_sessionmaker(
        engine, expire_on_commit=False, autoflush=False, info={BATCHES: Batchers()}
    )
