"""``python -m examples.store_orders [migrate | serve] [--host H] [--port P]``.

Without a command: migrate, then serve (the one command on SQLite). Several instances
(PostgreSQL + Redis) migrate once, then each serves.
"""

import argparse

import uvicorn

from examples.store_orders import migrate


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m examples.store_orders")
    parser.add_argument("command", nargs="?", choices=["migrate", "serve"])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8001)
    args = parser.parse_args()
    if args.command in (None, "migrate"):
        migrate.upgrade()
    if args.command in (None, "serve"):
        app = "examples.store_orders.app:create_app"
        # Open streams end on SIGTERM (end_streams_on_signal); the rest gets 5 s.
        uvicorn.run(app, factory=True, host=args.host, port=args.port, timeout_graceful_shutdown=5)


if __name__ == "__main__":
    main()
