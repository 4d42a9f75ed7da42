"""``python -m examples.store_orders [migrate | serve] [--host H] [--port P]``.

Without a command: migrate, then serve (the one command on SQLite). Several instances
(PostgreSQL + Redis) migrate once, then each serves.
"""

import argparse
from pathlib import Path

import uvicorn
from alembic import command
from alembic.config import Config

from examples.store_orders.settings import load_settings

MIGRATIONS = Path(__file__).with_name("migrations")


def migrate() -> None:
    settings = load_settings()
    if settings.is_sqlite:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("path_separator", "os")
    config.set_main_option("sqlalchemy.url", settings.db_url.replace("%", "%%"))
    command.upgrade(config, "head")


def serve(host: str, port: int) -> None:
    app = "examples.store_orders.app:create_app"
    uvicorn.run(app, factory=True, host=host, port=port, timeout_graceful_shutdown=5)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m examples.store_orders")
    parser.add_argument("command", nargs="?", choices=["migrate", "serve"])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8001)
    args = parser.parse_args()
    if args.command in (None, "migrate"):
        migrate()
    if args.command in (None, "serve"):
        serve(args.host, args.port)


main()
