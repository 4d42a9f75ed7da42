"""The ``quorum`` command: serve, worker, migrate, demo.

``main`` is the entry point: it runs the command, and turns invalid settings into one
line per problem on stderr and exit status 2 (a usage error, as for a bad option),
whichever command read them.
"""

import asyncio
import sys
from typing import Any

import typer
import uvicorn
from rich.console import Console

from quorum import migrate as migrations
from quorum.headerlimit import HeaderLimitProtocol
from quorum.settings import InvalidSettings, Settings, get_settings
from quorum.wsprotocol import LeanWebSocketProtocol

# Streams end at once on SIGTERM (quorum/shutdown.py); this bounds what else may linger.
GRACEFUL_SHUTDOWN_SECONDS = 20

app = typer.Typer(help="Quorum: real-time decisions.", no_args_is_help=True)
console = Console(soft_wrap=True)


def uvicorn_options(settings: Settings, host: str, port: int, workers: int) -> dict[str, Any]:
    """uvicorn's options for ``quorum serve`` (tests/services.py starts uvicorn alike)."""
    return dict(
        factory=True,
        host=host,
        port=port,
        workers=workers,
        http=HeaderLimitProtocol,  # httptools, with a cap on request heads (431)
        log_config=None,  # quorum.logs configures logging, JSON or console
        # The client's address is the peer's, unless the peer is a proxy named in
        # QUORUM_FORWARDED_ALLOW_IPS: uvicorn's default believes X-Forwarded-For from
        # 127.0.0.1, so any local process could pick its address past the per-IP limits.
        proxy_headers=bool(settings.forwarded_allow_ips),
        forwarded_allow_ips=settings.forwarded_allow_ips,
        access_log=False,  # ours, without query strings (they may carry stream tickets)
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS,
        # Longer than a proxy's idle upstream connections (nginx: 60 s), so the proxy never
        # sends a request on a connection we are closing.
        timeout_keep_alive=75,
        backlog=settings.listen_backlog,
        ws=LeanWebSocketProtocol
        if settings.ws_implementation == "websockets-sansio"
        else settings.ws_implementation,
        ws_per_message_deflate=settings.ws_per_message_deflate,
    )


@app.command()
def serve(
    host: str = typer.Option("127.0.0.1", help="Interface to listen on."),
    port: int = typer.Option(8000, help="TCP port."),
    workers: int = typer.Option(1, min=1, help="Worker processes."),
) -> None:
    """Run the API server. On the embedded default (SQLite) the schema is upgraded first."""
    settings = get_settings()
    if settings.is_sqlite:
        migrations.upgrade(settings)
        settings.signing_key()  # created here, once, before the workers start
    console.print(f"Quorum on http://{host}:{port}  (database: {settings.db_url.split('://')[0]})")
    uvicorn.run("quorum.app:create_app", **uvicorn_options(settings, host, port, workers))


@app.command()
def worker(
    concurrency: int = typer.Option(4, min=1, help="Jobs this process runs at once."),
    metrics_port: int = typer.Option(0, min=0, help="Serve /metrics on this port (0: off)."),
) -> None:
    """Run background jobs (reports) from Redis: needs QUORUM_REDIS_URL. Start as many as
    you like; without Redis, `quorum serve` runs the jobs itself."""
    from quorum.jobs.worker import run_worker

    settings = get_settings()
    if not settings.redis_url:
        print("QUORUM_REDIS_URL: required by `quorum worker` (jobs run in `quorum serve` "
              "without it)", file=sys.stderr)  # fmt: skip
        raise typer.Exit(2)
    if metrics_port:
        from prometheus_client import start_http_server

        start_http_server(metrics_port)  # the job metrics of this worker (docs/operations.md)
    asyncio.run(run_worker(settings, concurrency))


@app.command()
def migrate(revision: str = typer.Argument("head", help="Alembic revision to upgrade to.")) -> None:
    """Upgrade the database schema (Alembic)."""
    migrations.upgrade(get_settings(), revision)
    console.print(f"[green]Database upgraded to {revision}.[/green]")


@app.command()
def demo(
    url: str = typer.Option(
        "http://localhost:8000", help="The server's address, as the printed commands use it."
    ),
) -> None:
    """Create a demo event with a few people, proposals and votes (once: a second run reuses
    them), and say how to log in."""
    from quorum.demo import create_demo

    settings = get_settings()
    if settings.is_sqlite:
        migrations.upgrade(settings)
    result = asyncio.run(create_demo(settings))
    base = url.rstrip("/")
    console.print(f"[bold]Demo event[/bold] {result.event_id}")
    console.print(f"Open the board: {base}/#/events/{result.event_id}")
    console.print(f"Users: {', '.join(result.emails)}  (password: {result.password})")
    console.print(
        f"Log in:  curl -s -X POST {base}/api/v1/auth/token "
        f"-d username={result.emails[0]} -d password={result.password}"
    )
    console.print(
        f"Then:    curl -s {base}/api/v1/events/{result.event_id}/proposals "
        "-H 'Authorization: Bearer <access_token>'"
    )


@app.command()
def loadtest(
    url: str = typer.Option("http://127.0.0.1:8000", help="Base URL of a running server."),
    voters: int = typer.Option(50, min=1, help="Concurrent voters."),
    listeners: int = typer.Option(20, min=0, help="SSE listeners on the event."),
    proposals: int = typer.Option(20, min=1, help="Proposals to vote on."),
    duration: float = typer.Option(20.0, min=1, help="Seconds of traffic."),
) -> None:
    """Replay voting traffic with live listeners; report throughput, latency, lost and
    duplicated messages, and re-check the invariants. Exit code 1 if anything is off."""
    from quorum.loadtest import render, run

    report = asyncio.run(run(url, voters, listeners, proposals, duration, console))
    render(report, console)
    raise typer.Exit(0 if report.ok else 1)


def main() -> None:
    try:
        app()
    except InvalidSettings as exc:
        print("\n".join(exc.lines), file=sys.stderr)  # plain: no markup in the messages
        sys.exit(2)


if __name__ == "__main__":
    main()
