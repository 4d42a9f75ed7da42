"""Logging: structlog's console output, with plain tracebacks.

structlog's default renders an exception with rich, showing every frame's locals: tens
of thousands of lines for one 500 in a FastAPI stack, seconds during which the event
loop serves no one, and every local in the log, the request's bearer token and a
password being hashed included. Here tracebacks are the standard library's: the frames,
no values.
"""

import structlog


def configure() -> None:
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.StackInfoRenderer(),
            structlog.dev.set_exc_info,
            structlog.processors.TimeStamper(fmt="%Y-%m-%d %H:%M:%S", utc=False),
            structlog.dev.ConsoleRenderer(exception_formatter=structlog.dev.plain_traceback),
        ]
    )
