"""WebSocket per-message compression: off by default (it costs about 40 KB per connection
and a higher p99, issue 14), on with ``QUORUM_WS_PER_MESSAGE_DEFLATE=true`` for slow links.
The client offers ``permessage-deflate`` (the websockets client does by default); the
handshake's answer says whether the server took it."""

from collections.abc import Iterator

import httpx
import pytest
from websockets.asyncio.client import connect as ws_connect

from tests.api import Api
from tests.services import Backend, Server, start_server

EXTENSIONS = "Sec-WebSocket-Extensions"


async def negotiated_extensions(api: Api, server: Server) -> str | None:
    owner = await api.user()
    event = await api.event(owner)
    url = server.url.replace("http", "ws", 1) + f"/api/v1/events/{event}/ws"
    async with ws_connect(url, additional_headers=owner.auth, compression="deflate") as ws:
        assert ws.request is not None and ws.response is not None
        assert "permessage-deflate" in ws.request.headers[EXTENSIONS]  # offered
        return ws.response.headers.get(EXTENSIONS)


async def test_per_message_deflate_is_off_by_default(api: Api, server: Server) -> None:
    assert await negotiated_extensions(api, server) is None


@pytest.fixture(scope="module")
def deflating_server(
    backend: Backend, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    """``quorum serve`` itself, so that the setting is shown to reach uvicorn from there."""
    server = start_server(
        backend,
        tmp_path_factory.mktemp("deflate"),
        cli_args=["serve"],
        QUORUM_WS_PER_MESSAGE_DEFLATE="true",
    )
    yield server
    server.stop()


async def test_setting_turns_per_message_deflate_on(deflating_server: Server) -> None:
    async with httpx.AsyncClient(base_url=deflating_server.url, timeout=30) as client:
        extensions = await negotiated_extensions(Api(client), deflating_server)
    assert extensions is not None and extensions.startswith("permessage-deflate")


async def test_quorum_serve_leaves_it_off_by_default(
    backend: Backend, tmp_path_factory: pytest.TempPathFactory
) -> None:
    server = start_server(backend, tmp_path_factory.mktemp("serve"), cli_args=["serve"])
    try:
        async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
            assert await negotiated_extensions(Api(client), server) is None
    finally:
        server.stop()
