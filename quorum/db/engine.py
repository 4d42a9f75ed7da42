"""Engine creation, tuned per backend.

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
        connect_args={"timeout": CONNECT_TIMEOUT_SECONDS},
    )
    _wrap_connect_errors(engine)
    return engine


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

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Connection) -> None:
        read_only = conn.get_execution_options().get(READ_ONLY, False)
        conn.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")


def _unicode_lower(value: Any) -> Any:
    return value.lower() if isinstance(value, str) else value


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)
