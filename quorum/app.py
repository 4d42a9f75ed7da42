"""``create_app()``: the FastAPI application and the lifespan that wires its resources."""

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator
from datetime import timedelta

from fastapi import FastAPI
from fastapi.routing import APIRoute
from starlette.types import ASGIApp, Receive, Scope, Send

from quorum import logs, maintenance
from quorum.accounts.passwords import Passwords
from quorum.accounts.router import router as accounts_router
from quorum.api import docs, errors, guards
from quorum.api.edge import Edge
from quorum.api.front import Front
from quorum.api.health import router as health_router
from quorum.api.metrics import router as metrics_router
from quorum.attachments import sweeper
from quorum.attachments.router import router as attachments_router
from quorum.attachments.router import upload_router as attachments_upload_router
from quorum.db.engine import create_engine, create_sessionmaker
from quorum.db.metrics import observe_pool
from quorum.db.retry import wait_for_database
from quorum.db.uow import UnitOfWork
from quorum.decisions import deadlines
from quorum.decisions.accounts import forget_member
from quorum.decisions.live import create_decisions_realtime
from quorum.decisions.router import router as decisions_router
from quorum.decisions.streams import contract_router, open_stream, stream, stream_router
from quorum.decisions.streams import router as streams_router
from quorum.gctuning import tune_for_server
from quorum.invitations.router import router as invitations_router
from quorum.jobs.router import router as jobs_router
from quorum.jobs.setup import create_jobs
from quorum.realtime.abort import ConnectionAbort
from quorum.settings import Settings, get_settings
from quorum.shutdown import end_streams_on_signal
from quorum.storage.store import create_store
from quorum.web import page

API_PREFIX = "/api/v1"
attachment_uploads = re.compile(rf"{API_PREFIX}/events/[^/]+/proposals/[^/]+/attachments")


class _Quorum(FastAPI):
    front: Front | None = None  # the SSE stream, served ahead of the middleware

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        front = self.front
        if front is not None and front.takes(scope):
            await front(scope, receive, send)
        else:
            await super().__call__(scope, receive, send)

    def build_middleware_stack(self) -> ASGIApp:
        # Outside even Starlette's error middleware, which wraps ``send``: ConnectionAbort
        # must see the server's own.
        return ConnectionAbort(super().build_middleware_stack())


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    logs.configure(settings.log_format, settings.log_level)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = create_engine(settings)
        observe_pool(engine)
        sessionmaker = create_sessionmaker(engine)
        realtime = create_decisions_realtime(settings, sessionmaker)
        uow = UnitOfWork(sessionmaker, publisher=realtime.publish)
        app.state.engine = engine
        app.state.sessionmaker = sessionmaker
        app.state.uow = uow  # TransactionalRoute's transactions
        app.state.passwords = Passwords(settings)
        app.state.account_cleanup = forget_member  # what a deleted account takes with it
        app.state.realtime = realtime
        app.state.sessions_ended = realtime.end_sessions  # ends the streams of ended sessions
        app.state.streams = realtime.streams
        app.state.blobs = create_store(settings)  # attachments, report results (quorum/storage)
        jobs = create_jobs(settings, uow, realtime.publish_transient, app.state.blobs)
        app.state.jobs = jobs
        if jobs.in_process:
            await jobs.broker.startup()  # without Redis, jobs run in this process
        settings.signing_key()  # fail (or create the embedded key) at start, not on first login
        try:
            async with asyncio.TaskGroup() as tasks:
                running = [
                    tasks.create_task(realtime.run()),
                    tasks.create_task(
                        wait_for_database(engine, settings.db_connect_retry_max_delay)
                    ),
                    tasks.create_task(maintenance.run_forever(settings, uow)),
                    tasks.create_task(deadlines.run_forever(settings.deadline_sweep_seconds, uow)),
                    tasks.create_task(jobs.sweep_forever()),
                    tasks.create_task(
                        sweeper.run_forever(
                            app.state.blobs,
                            sessionmaker,
                            settings.maintenance_interval_seconds,
                            timedelta(minutes=settings.orphan_blob_minutes),
                        )
                    ),
                ]
                if settings.gc_tuning:
                    tune_for_server()
                try:
                    with end_streams_on_signal(realtime.hub.end_streams):
                        yield
                finally:
                    for task in running:
                        task.cancel()  # the group waits for them to end
        finally:
            await jobs.broker.shutdown()
            await guards.close(app)
            await engine.dispose()

    # The docs pages are quorum.api.docs's: FastAPI's own load their assets from a CDN.
    app = _Quorum(title="Quorum", version="0.1.0", lifespan=lifespan, docs_url=None, redoc_url=None)
    app.state.settings = settings
    errors.install(app)
    guards.install(app, settings)

    # Outside CORS, so that its preflight answers carry the request id and headers too.
    # Attachment uploads have their own, larger cap, counted as they stream.
    def edge(inner: ASGIApp) -> Edge:
        return Edge(
            inner,
            max_body_bytes=settings.max_body_bytes,
            body_cap_exempt=attachment_uploads,
            access_log=settings.access_log,
        )

    app.add_middleware(edge)
    app.include_router(health_router)
    app.include_router(health_router, prefix=API_PREFIX, include_in_schema=False)
    app.include_router(accounts_router, prefix=API_PREFIX)
    app.include_router(decisions_router, prefix=API_PREFIX)
    app.include_router(invitations_router, prefix=API_PREFIX)
    app.include_router(jobs_router, prefix=API_PREFIX)
    app.include_router(attachments_upload_router, prefix=API_PREFIX)
    app.include_router(attachments_router, prefix=API_PREFIX)
    app.include_router(streams_router, prefix=API_PREFIX)
    app.include_router(stream_router, prefix=API_PREFIX)
    app.include_router(contract_router)
    app.include_router(metrics_router)
    docs.install(app)
    page.install(app)  # the live board at /
    if not settings.cors_origins:  # CORS's middleware would add its headers to streams
        # An idle stream then holds a few frames, not the whole stack (quorum/api/front.py).
        routes = stream_router.routes
        route = next(r for r in routes if isinstance(r, APIRoute) and r.endpoint is stream)
        app.front = Front(app, API_PREFIX, route, open_stream, edge(app))
    return app
