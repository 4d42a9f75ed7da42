"""Logging: structlog for our lines and the standard library's (uvicorn, SQLAlchemy) alike.

JSON lines in production, readable lines on a terminal (``QUORUM_LOG_FORMAT``: auto, json,
console). Every line carries the request id bound by ``quorum.api.edge``.

Secrets stay out, in two layers. Values under secret-looking keys are replaced; and
every string value of every line — our messages, the standard library's records
(uvicorn logs a WebSocket handshake's whole URL, ``?ticket=`` included), rendered
tracebacks; not strings nested in lists or dicts — has its secret-looking parts
replaced: ``ticket=``/``token=``/``password=``-style parameters, the browser
session's cookies (``quorum_session=``, ``quorum_csrf=``),
``Bearer``/``Basic`` credentials, credential headers, anything shaped like a JWT, and
the token of an invitation link's path (``/invitations/<token>``). The
access log is written by us without the query string, and uvicorn's own is off.
Tracebacks are the standard library's — frames, no values: structlog's rich renderer
would print every local of every frame, a bearer token or a password being hashed
included, and take seconds doing it.
"""

import io
import logging
import re
import sys
from typing import Any, Literal, TextIO

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
        "set_cookie",
        "quorum_session",
        "quorum_csrf",
        "csrf",
        "csrf_token",
    }
)
LogFormat = Literal["auto", "json", "console"]
REDACTED = "[redacted]"

# A name that says its value is a secret (access_token, csrf_token, Authorization ...),
# matched atomically: found once from the start of a run of name characters, never
# retried — the access log's path is the client's, and a pattern that backtracked over
# ``tokentoken...`` would take quadratic time.
# The browser session's cookies (quorum/accounts/browser.py) by name: ``quorum_session=``
# and anything CSRF (``quorum_csrf=``, ``X-CSRF-Token``).
_KEYWORDS = (
    r"password|passwd|token|ticket|secret|api[_-]?key|authorization|cookie|csrf|quorum_session"
)
_NAME = rf"(?>[\w-]*?(?:{_KEYWORDS})[\w-]*+)"
_SECRET_TEXT = re.compile(
    # ``name=value``: a URL or form parameter, a key=value log field
    rf"(?P<param>(?<![\w-]){_NAME}=)[^\s&;,'\"<>]++"
    # a quoted key in a repr or JSON: ``'password': 'x'``
    rf"|(?P<quoted>(?P<q>['\"]){_NAME}(?P=q)\s*:\s*)(?P<v>['\"])(?:(?!(?P=v)).)*+(?P=v)"
    # a header line as HTTP libraries dump it: the rest of the line
    r"|(?P<header>\b(?:proxy-)?(?:authorization|cookie|set-cookie|x-api-key|x-csrf-token)\s*:\s*)"
    r"[^\r\n]++"
    # credentials after their scheme (8 characters at least: "basic checks" stays)
    r"|(?P<scheme>\b(?:bearer|basic)\s+)[\w.~+/=-]{8,}+"
    # a JWT (every token and ticket of ours): three base64url segments, '{"' first
    r"|(?<![\w-])(?-i:eyJ)[\w-]+\.[\w-]+\.[\w-]*+"
    # an invitation link's token in a path (43 base64url characters; not a 36-long UUID)
    r"|(?P<invite>/invitations/)[\w-]{40,}+",
    re.IGNORECASE,
)
# Values that structlog sets itself, never secrets.
_OWN_KEYS = frozenset({"timestamp", "level", "logger"})


def _replace(match: re.Match[str]) -> str:
    kept = match["param"] or match["quoted"] or match["header"] or match["scheme"]
    return (kept or match["invite"] or "") + REDACTED


def redact_text(text: str) -> str:
    """``text`` with its secret-looking parts replaced; the names and the rest stay."""
    if not _may_hold_secret(text):
        return text
    return _SECRET_TEXT.sub(_replace, text)


def _may_hold_secret(text: str) -> bool:
    """What every match of ``_SECRET_TEXT`` contains, found by a few substring scans: a
    tenth of the cost of the pattern, and most strings (paths, plain messages) have none.
    """
    if "=" in text or ":" in text or "eyJ" in text or "/invitations/" in text:
        return True
    lowered = text.lower()
    return "bearer" in lowered or "basic" in lowered


def _redact(_logger: Any, _method: str, event: EventDict) -> EventDict:
    for key in event.keys() & SECRET_KEYS:
        event[key] = REDACTED
    return event


def _redact_strings(_logger: Any, _method: str, event: EventDict) -> EventDict:
    """Every string value, the message first: a library's record arrives as one
    preformatted message (``record.getMessage()``), with no keys to go by."""
    for key, value in event.items():
        if isinstance(value, str) and key not in _OWN_KEYS and not key.startswith("_"):
            event[key] = redact_text(value)
    return event


def _plain_redacted_traceback(sio: TextIO, exc_info: Any) -> None:
    """The console renderer's traceback, redacted like the rest (exception messages carry
    URLs, DSNs...)."""
    buffer = io.StringIO()
    structlog.dev.plain_traceback(buffer, exc_info)
    sio.write(redact_text(buffer.getvalue()))


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
        shared.append(structlog.processors.format_exc_info)  # a string, redacted next
        renderer = structlog.processors.JSONRenderer(
            serializer=lambda obj, **_: orjson.dumps(obj).decode()
        )
    else:
        renderer = structlog.dev.ConsoleRenderer(exception_formatter=_plain_redacted_traceback)
    shared.append(_redact_strings)
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
