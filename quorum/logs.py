"""Logging: structlog for our lines and the standard library's (uvicorn, SQLAlchemy) alike.

JSON lines in production, readable lines on a terminal (``QUORUM_LOG_FORMAT``: auto, json,
console). Every line carries the request id bound by ``quorum.api.request_context``.

Secrets stay out: values under secret-looking keys are replaced, the access log is
written by us without the query string (a stream ticket travels there), and uvicorn's
own access log is off. Tracebacks are the standard library's — frames, no values:
structlog's rich renderer would print every local of every frame, a bearer token or a
password being hashed included, and take seconds doing it.
"""

import logging
import sys
from typing import Any, Literal

import orjson
import structlog
from structlog.typing import EventDict, Processor

SECRET_KEYS = frozenset(
    {
        "password",
        "token",
        "access_token",
        "ticket",
        "authorization",
        "secret",
        "secret_key",
        "cookie",
    }
)
LogFormat = Literal["auto", "json", "console"]


def _redact(_logger: Any, _method: str, event: EventDict) -> EventDict:
    for key in event.keys() & SECRET_KEYS:
        event[key] = "[redacted]"
    return event


def configure(log_format: LogFormat = "auto", level: str = "INFO") -> None:
    as_json = log_format == "json" or (log_format == "auto" and not sys.stderr.isatty())
    shared: list[Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        _redact,
        structlog.processors.StackInfoRenderer(),
    ]
    renderer: Processor
    if as_json:
        shared.append(structlog.processors.format_exc_info)
        renderer = structlog.processors.JSONRenderer(
            serializer=lambda obj, **_: orjson.dumps(obj).decode()
        )
    else:
        renderer = structlog.dev.ConsoleRenderer(exception_formatter=structlog.dev.plain_traceback)
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler()
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared,
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
        )
    )
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        uvicorn_logger = logging.getLogger(name)
        uvicorn_logger.handlers = []
        uvicorn_logger.propagate = True
    logging.getLogger("uvicorn.access").disabled = True  # ours omits query strings
