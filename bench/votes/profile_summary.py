"""Summarise a py-spy profile of the server: where its CPU goes, by library and by call site.

    uv run --group bench py-spy record --pid SERVER_PID --nonblocking --rate 250 \\
        --duration 20 --format raw -o bench/out/server.raw      # while wrk runs
    uv run python bench/votes/profile_summary.py bench/out/server.raw

py-spy samples only threads that are running (not waiting in epoll or on a lock). Each
sample is charged to the innermost frame that belongs to a known library, so a
SQLAlchemy call made by Quorum's code counts as SQLAlchemy. C code (uvloop, asyncpg's
protocol, httptools) has no Python frame of its own: it is charged to the Python frame
that called it, which for work started by the event loop is ``Runner.run``. Frames that
SQLAlchemy runs in a greenlet appear as separate stacks, rooted at ``Session.*``.
"""

import collections
import re
import sys

# (substring of a frame, category); the first match from the innermost frame out wins.
CATEGORIES = [
    ("asyncpg/", "asyncpg (driver, socket writes)"),
    ("sqlalchemy/orm", "SQLAlchemy ORM"),
    ("sqlalchemy/pool", "SQLAlchemy pool"),
    ("sqlalchemy/util/concurrency", "SQLAlchemy greenlet glue"),
    ("sqlalchemy/", "SQLAlchemy core (statements, compile cache, execution)"),
    ("pydantic", "pydantic (validation, serialisation)"),
    ("jwt/", "PyJWT"),
    ("structlog", "logging (structlog)"),
    ("prometheus_client", "metrics (prometheus_client)"),
    ("anyio/", "thread pool (anyio)"),
    ("threading.py", "thread pool (anyio)"),
    ("queue.py", "thread pool (anyio)"),
    ("fastapi/dependencies", "FastAPI dependency solving"),
    ("fastapi/", "FastAPI / Starlette (routing, middleware, responses)"),
    ("starlette/", "FastAPI / Starlette (routing, middleware, responses)"),
    ("uvicorn/", "uvicorn (HTTP protocol)"),
    ("quorum/", "Quorum's own code"),
    ("Runner.run (asyncio", "event loop and C code (uvloop, asyncpg protocol, httptools)"),
]
# Which of Quorum's operations the samples under a quorum frame belong to.
SITES = re.compile(r"^(\w+) \((quorum/[\w/]+\.py)")


def category(frames: list[str]) -> str:
    for frame in reversed(frames):
        for needle, name in CATEGORIES:
            if needle in frame:
                return name
    return "other (interpreter, stdlib)"


def main() -> None:
    total = 0
    by_category: collections.Counter[str] = collections.Counter()
    by_site: collections.Counter[str] = collections.Counter()
    for line in open(sys.argv[1]):
        stack, _, count = line.rstrip("\n").rpartition(" ")
        if not stack or "importlib._bootstrap" in stack:
            continue  # imports at start-up
        n = int(count)
        total += n
        frames = stack.split(";")
        by_category[category(frames)] += n
        sites = [m.group(0) for f in frames if (m := SITES.match(f))]
        by_site[sites[-1] + ")" if sites else "(no Quorum frame on the stack)"] += n
    print(f"{total} samples\n\nBy library (innermost known frame):")
    for name, n in by_category.most_common():
        print(f"  {100 * n / total:5.1f} %  {name}")
    print("\nBy Quorum call site (innermost Quorum frame; the rest is framework and driver):")
    for name, n in by_site.most_common(15):
        print(f"  {100 * n / total:5.1f} %  {name}")


if __name__ == "__main__":
    main()
