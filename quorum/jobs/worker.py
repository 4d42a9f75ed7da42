"""``quorum worker``: a process that runs jobs from the Redis stream.

It has what a job needs and nothing of the HTTP side: the database, the unit of work
whose commits publish (``job.completed`` reaches every server's streams through the
real-time broker), the transient publisher for progress, and taskiq's receiver, which
runs up to ``concurrency`` jobs at once and acknowledges each message once its job has
run (a killed worker's messages are redelivered: quorum/jobs/broker.py).
"""

import asyncio

import structlog
from taskiq.acks import AcknowledgeType
from taskiq.api import run_receiver_task

from quorum import logs
from quorum.db.engine import create_engine, create_sessionmaker
from quorum.db.uow import UnitOfWork
from quorum.decisions.live import create_decisions_realtime
from quorum.jobs.setup import create_jobs
from quorum.settings import Settings
from quorum.storage.store import create_store

log = structlog.get_logger(__name__)


async def run_worker(settings: Settings, concurrency: int) -> None:
    logs.configure(settings.log_format, settings.log_level)
    engine = create_engine(settings)
    sessionmaker = create_sessionmaker(engine)
    realtime = create_decisions_realtime(settings, sessionmaker)
    uow = UnitOfWork(sessionmaker, publisher=realtime.publish)
    jobs = create_jobs(settings, uow, realtime.publish_transient, create_store(settings))
    jobs.broker.is_worker_process = True
    await jobs.broker.startup()
    log.info("worker_started", concurrency=concurrency)
    try:
        async with asyncio.TaskGroup() as tasks:
            tasks.create_task(realtime.run())
            tasks.create_task(
                run_receiver_task(
                    jobs.broker,
                    max_async_tasks=concurrency,
                    ack_time=AcknowledgeType.WHEN_EXECUTED,
                )
            )
    finally:
        await jobs.broker.shutdown()
        await engine.dispose()
