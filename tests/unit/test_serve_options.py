"""``quorum serve`` names uvicorn's WebSocket protocol rather than leaving it to "auto"."""

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol

from quorum.cli import uvicorn_options
from quorum.settings import Settings
from quorum.wsprotocol import LeanWebSocketProtocol


def test_serve_runs_the_sans_io_websocket_protocol() -> None:
    options = uvicorn_options(Settings(), "127.0.0.1", 8000, 1)
    assert options["ws"] is LeanWebSocketProtocol
    assert issubclass(options["ws"], WebSocketsSansIOProtocol)


def test_the_websocket_protocol_is_a_setting() -> None:
    options = uvicorn_options(Settings(ws_implementation="websockets"), "127.0.0.1", 8000, 1)
    assert options["ws"] == "websockets"
