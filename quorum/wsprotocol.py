"""uvicorn's sans-I/O WebSocket protocol, without the handshake kept for the socket's life.

uvicorn's ``WebSocketsSansIOProtocol`` keeps the handshake's request and response
(websockets ``Request``/``Response`` objects and their headers) as attributes for as
long as the connection lives, though nothing reads them once the response has been
sent: about 5 KB of every idle WebSocket, in tracemalloc snapshots of 100 idle
connections (issue 14). This subclass drops both once the handshake is answered.

This overrides uvicorn internals (``send`` and the two attributes); the WebSocket tests
run against the uvicorn in uv.lock.
"""

from uvicorn._types import ASGISendEvent
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol


class LeanWebSocketProtocol(WebSocketsSansIOProtocol):
    async def send(self, message: ASGISendEvent) -> None:
        await super().send(message)
        if self.handshake_complete and hasattr(self, "response"):
            del self.request, self.response  # read only until the handshake is answered
