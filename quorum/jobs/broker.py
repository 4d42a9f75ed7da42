"""The taskiq broker that carries job ids: in-process, or a Redis stream.

Without Redis, taskiq's ``InMemoryBroker`` runs each job as a task of the server's own
event loop: nothing to install. With ``QUORUM_REDIS_URL``, jobs go through a Redis
stream read by a consumer group (``quorum worker`` processes): a message is
acknowledged only once its job has run, and one left unacknowledged longer than
``QUORUM_JOB_REDELIVER_SECONDS`` (its worker died) is claimed by another worker.

``JobStreamBroker`` changes two things of taskiq-redis's stream broker: it looks for
unacknowledged messages on every turn, not only after new ones arrived (a lone job
whose worker died would otherwise wait for the next job), and it rides out a Redis
outage with a backoff instead of failing the worker. It reads one message at a time, so
that a burst of jobs is shared by the workers rather than taken whole by the first one
to read (taskiq's receiver keeps reading while fewer than ``--concurrency`` jobs run).
The message body is JSON (taskiq's
default formatter): whoever can write to Redis can ask for a job, never run code.
"""

import asyncio
import uuid
from collections.abc import AsyncGenerator, Awaitable, Callable
from typing import Any

import structlog
from redis.asyncio import Redis
from redis.exceptions import RedisError, ResponseError
from taskiq import AckableMessage, AsyncBroker, InMemoryBroker
from taskiq_redis import RedisStreamBroker

from quorum.settings import Settings

log = structlog.get_logger(__name__)
TASK_NAME = "quorum.run_job"
GROUP = "quorum-workers"  # every worker of a deployment reads the one group
STREAM_MAXLEN = 100_000  # approximate: acknowledged messages beyond it are trimmed


class JobStreamBroker(RedisStreamBroker):
    async def startup(self) -> None:
        """Declare the consumer group from the stream's start ("0"): jobs sent before
        any worker ever ran are read too. Waits for Redis."""
        delay = 0.2
        while True:
            try:
                async with Redis(connection_pool=self.connection_pool) as redis:
                    await redis.xgroup_create(self.queue_name, GROUP, id="0", mkstream=True)
                return
            except ResponseError:  # BUSYGROUP: another worker made it
                return
            except (RedisError, OSError) as exc:
                log.warning("job_broker_waiting_for_redis", error=repr(exc)[:200])
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)

    async def listen(self) -> AsyncGenerator[AckableMessage, None]:
        delay = 0.2
        while True:
            try:
                async for message in self._turns():
                    yield message
                    delay = 0.2
            except (RedisError, OSError) as exc:
                log.warning("job_broker_redis_error", error=repr(exc)[:200])
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)

    async def _turns(self) -> AsyncGenerator[AckableMessage, None]:
        async with Redis(connection_pool=self.connection_pool) as redis:
            while True:
                fetched: Any = await redis.xreadgroup(
                    GROUP, self.consumer_name, {self.queue_name: ">"}, block=self.block, count=1
                )
                for _, messages in fetched or []:
                    for message_id, fields in messages:
                        yield self._ackable(message_id, fields)
                claimed: Any = await redis.xautoclaim(
                    self.queue_name,
                    GROUP,
                    self.consumer_name,
                    min_idle_time=self.idle_timeout,
                    count=1,
                )
                for message_id, fields in claimed[1]:
                    if fields:  # a message trimmed meanwhile comes back empty
                        yield self._ackable(message_id, fields)

    def _ackable(self, message_id: Any, fields: dict[bytes, bytes]) -> AckableMessage:
        return AckableMessage(
            data=fields[b"data"], ack=self._ack_generator(message_id, self.queue_name)
        )


def create_broker(settings: Settings, run: Callable[[str], Awaitable[None]]) -> AsyncBroker:
    """The broker, with ``run`` (which takes a job id) as its one task."""
    broker: AsyncBroker
    if settings.redis_url:
        broker = JobStreamBroker(
            settings.redis_url,
            queue_name=settings.job_stream,
            consumer_group_name=GROUP,
            idle_timeout=int(settings.job_redeliver_seconds * 1000),
            xread_block=1000,
            maxlen=STREAM_MAXLEN,
            socket_connect_timeout=2,
            socket_timeout=5,
        )
    else:
        broker = InMemoryBroker()

    async def run_job(job_id: str) -> None:  # a function: taskiq renames what it registers
        await run(job_id)

    broker.register_task(run_job, task_name=TASK_NAME)
    return broker


async def send(broker: AsyncBroker, job_id: uuid.UUID) -> None:
    """Hand the job to the broker, keyed by its id; raises if the broker is away (the
    sweeper sends it again)."""
    task = broker.find_task(TASK_NAME)
    if task is None:
        raise RuntimeError(f"{TASK_NAME} is not registered: use create_broker")
    await task.kicker().with_task_id(str(job_id)).kiq(str(job_id))
