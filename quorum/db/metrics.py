"""Database metrics: the pool (read when Prometheus scrapes) and rolled-back units of work."""

from prometheus_client import Counter, Gauge
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.pool import QueuePool

POOL_IN_USE = Gauge("quorum_db_pool_connections_in_use", "Pooled connections checked out now.")
POOL_OVERFLOW = Gauge("quorum_db_pool_overflow", "Connections open beyond the pool size now.")
ROLLBACKS = Counter(
    "quorum_db_rollbacks_total", "Units of work rolled back (an error, a refused change)."
)


def observe_pool(engine: AsyncEngine) -> None:
    pool = engine.sync_engine.pool
    if isinstance(pool, QueuePool):
        POOL_IN_USE.set_function(pool.checkedout)
        POOL_OVERFLOW.set_function(lambda: max(pool.overflow(), 0))


BATCH_QUERIES = Counter(
    "quorum_batch_queries_total", "Queries run by a batcher (quorum/db/batch.py).", ["name"]
)
BATCHED_LOOKUPS = Counter(
    "quorum_batched_lookups_total", "Lookups those queries answered, all together.", ["name"]
)
