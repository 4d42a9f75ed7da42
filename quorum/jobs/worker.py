"""``quorum worker``: a process that runs jobs from the Redis stream.

It has what a job needs and nothing of the HTTP side: the database, the unit of work
whose commits publish (``job.completed`` reaches every server's streams through the
real-time broker), the transient publisher for progress, and taskiq's receiver, which
runs up to ``concurrency`` jobs at once and acknowledges each message once its job has
run (a killed worker's messages are redelivered: quorum/jobs/broker.py).

SIGTERM or SIGINT (a deploy, a scale-down, Ctrl-C) drains the worker: it takes no new
message and lets the jobs it runs finish, for up to ``QUORUM_JOB_DRAIN_SECONDS``. A job
still running then is abandoned unacknowledged, as if the worker had been killed: another
worker runs it again once its lease runs out. A second signal stops at once.
"""

import asyncio
import signal
from concurrent.futures import ThreadPoolExecutor

import structlog
from taskiq.acks import AcknowledgeType
from taskiq.receiver import Receiver

from quorum import logs
from quorum.db.engine import create_engine, create_sessionmaker
from quorum.db.uow import UnitOfWork
from quorum.decisions.live import create_decisions_realtime
from quorum.jobs.setup import create_jobs
from quorum.settings import Settings
from quorum.storage.store import create_store

log = structlog.get_logger(__name__)
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


async def run_worker(settings: Settings, concurrency: int) -> None:
    logs.configure(settings.log_format, settings.log_level)
    engine = create_engine(settings)
    sessionmaker = create_sessionmaker(engine)
    realtime = create_decisions_realtime(settings, sessionmaker)
    uow = UnitOfWork(sessionmaker, publisher=realtime.publish)
    jobs = create_jobs(settings, uow, realtime.publish_transient, create_store(settings))
    jobs.broker.is_worker_process = True
    await jobs.broker.startup()
    draining = asyncio.Event()
    _drain_on_signal(draining)
    log.info("worker_started", concurrency=concurrency)
    try:
        # The executor runs synchronous tasks only; every Quorum job is async.
        with ThreadPoolExecutor(max_workers=1) as executor:
            receiver = Receiver(
                jobs.broker,
                executor,
                max_async_tasks=concurrency,
                ack_type=AcknowledgeType.WHEN_EXECUTED,
                run_startup=False,  # started above
                wait_tasks_timeout=settings.job_drain_seconds,
            )
            async with asyncio.TaskGroup() as tasks:
                live = tasks.create_task(realtime.run())  # job.completed reaches the streams
                await receiver.listen(draining)  # returns once drained
                live.cancel()
        log.info("worker_stopped")
    finally:
        await jobs.broker.shutdown()
        await engine.dispose()


def _drain_on_signal(draining: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()

    def on_signal(sig: signal.Signals) -> None:
        if draining.is_set():
            raise KeyboardInterrupt  # the second signal: stop now
        log.info("worker_draining", signal=sig.name)
        draining.set()

    for sig in STOP_SIGNALS:
        loop.add_signal_handler(sig, on_signal, sig)
