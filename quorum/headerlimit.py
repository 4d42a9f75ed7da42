"""Bounded request heads for uvicorn's httptools protocol (what ``quorum serve`` runs).

httptools (llhttp) has no limit on a request's head, and uvicorn adds none: a single
100 MB header line was read in full — httptools grows the value by concatenation, so
it took 12 s of the event loop and 370 MB — before the app could answer. Node, which
uses the same parser, counts the bytes itself; so does this subclass:

- the whole head (request line and headers) is capped by ``QUORUM_MAX_HEADER_BYTES``,
  counted per chunk received while the head is incomplete: an addition and a
  comparison per read, nothing per header. A refused head has cost one read past the
  cap, not the whole upload;
- one line by ``QUORUM_MAX_HEADER_LINE_BYTES``: the request target (414 URI Too Long)
  as it arrives, each header (name and value) as httptools hands it over, which the
  total bounds meanwhile.

The answer is 431 Request Header Fields Too Large (or 414) in problem+json, then a
lingering close: our side is shut at once, and what the client still sends is read and
dropped for ``LINGER_SECONDS`` before the socket is closed, since closing a socket with
unread input resets the connection, and the reset can destroy the answer before the
client reads it (nginx's ``lingering_close``).

h11, uvicorn's other parser, has a limit (``h11_max_incomplete_event_size``) but answers
400 and parses in pure Python, several times slower on every request.

This overrides uvicorn internals (``data_received`` and the parser callbacks of
``HttpToolsProtocol``); tests/test_header_limits.py checks the behaviour, WebSocket
upgrades included, against the uvicorn in uv.lock.
"""

import asyncio
from http import HTTPStatus
from typing import Any

import httptools
import orjson
import structlog
from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol
from uvicorn.server import ServerState

from quorum.settings import get_settings

LINGER_SECONDS = 2.0
log = structlog.get_logger(__name__)


class _HeadTooLarge(Exception):
    """Raised in a parser callback: the only way to stop httptools mid-feed."""

    def __init__(self, status: int) -> None:
        super().__init__(status)
        self.status = status


class HeaderLimitProtocol(HttpToolsProtocol):
    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        settings = get_settings()  # cached: read once per process
        self.max_head = settings.max_header_bytes
        self.max_line = settings.max_header_line_bytes
        self.in_head = True  # from a message's end (or the connection's start) to its head's
        self.head_bytes = 0  # received since, in reads that began inside the head
        self.read_began_in_head = True
        self.refused = False

    def data_received(self, data: bytes) -> None:
        if self.refused:
            return  # lingering: dropped
        self.read_began_in_head = self.in_head
        if self.in_head:
            self.head_bytes += len(data)
        self._unset_keepalive_if_required()
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserCallbackError as exc:
            if isinstance(cause := exc.__context__, _HeadTooLarge):
                self._refuse(cause.status)
            else:
                self._invalid()
            return
        except httptools.HttpParserError:
            self._invalid()
            return
        except httptools.HttpParserUpgrade:
            if self._should_upgrade():
                self.handle_websocket_upgrade()
            else:
                self._unsupported_upgrade_warning()
            return
        if self.in_head and self.head_bytes > self.max_head:
            self._refuse(431)

    def _invalid(self) -> None:
        """What uvicorn does with a request it cannot parse."""
        msg = "Invalid HTTP request received."
        self.logger.warning(msg)
        self.send_400_response(msg)

    # Parser callbacks

    def on_url(self, url: bytes) -> None:
        self.url += url  # in pieces, as they arrive
        if len(self.url) > self.max_line:
            raise _HeadTooLarge(414)

    def on_header(self, name: bytes, value: bytes) -> None:
        if len(name) + len(value) > self.max_line:
            raise _HeadTooLarge(431)
        # uvicorn's own, inline: this runs for every header of every request
        name = name.lower()
        if name == b"expect" and value.lower() == b"100-continue":
            self.expect_100_continue = True
        self.headers.append((name, value))

    def on_headers_complete(self) -> None:
        self.in_head = False
        # The read that completed the head may hold body bytes too, and one that began in
        # a previous body holds the end of it: only then is the head measured exactly.
        if (not self.read_began_in_head or self.head_bytes > self.max_head) and (
            self._head_size() > self.max_head
        ):
            raise _HeadTooLarge(431)
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self.in_head = True
        self.head_bytes = 0
        super().on_message_complete()

    def _head_size(self) -> int:
        return len(self.url) + sum(len(name) + len(value) + 4 for name, value in self.headers)

    def _refuse(self, status: int) -> None:
        self.refused = True
        log.warning(
            "request_head_too_large",
            status=status,
            client=self.client[0] if self.client else None,
            max_header_bytes=self.max_head,
            max_header_line_bytes=self.max_line,
        )
        if self.cycle is not None and not self.cycle.response_complete:
            # A pipelined request behind one still being answered: no room for ours.
            self.transport.close()
            return
        self.transport.write(self._response(status))
        if not self.transport.can_write_eof():  # TLS
            self.transport.close()
            return
        self.transport.write_eof()  # after the answer; the client sees it end
        self.loop.call_later(LINGER_SECONDS, self.transport.close)
        # ``eof_received`` (the client done sending) closes the transport before that

    def _response(self, status: int) -> bytes:
        phrase = HTTPStatus(status).phrase
        if status == 414:
            code, detail = "uri_too_long", f"The request target exceeds {self.max_line} bytes."
        else:
            code = "request_headers_too_large"
            detail = (
                f"The request's headers exceed {self.max_head} bytes in all, "
                f"or {self.max_line} bytes in one header."
            )
        body = orjson.dumps(
            {
                "type": f"urn:quorum:problem:{code}",
                "title": phrase,
                "status": status,
                "code": code,
                "detail": detail,
            }
        )
        head = [STATUS_LINE[status]]  # and uvicorn's date and server headers, as in its 400
        head += [b"%s: %s\r\n" % header for header in self.server_state.default_headers]
        head += [
            b"content-type: application/problem+json\r\n",
            b"content-length: %d\r\n" % len(body),
            b"connection: close\r\n\r\n",
        ]
        return b"".join(head) + body
