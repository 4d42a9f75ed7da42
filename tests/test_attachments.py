"""Attachments over HTTP, on SQLite and PostgreSQL, with the local blob store and with S3
(moto): upload, list, ranged download, delete; the caps, the type check, membership; a
cut upload and an orphan leave nothing behind."""

import asyncio
import socket
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path

import httpx
import pytest

from tests.api import Api, User, problem
from tests.blobs import Blobs, blobs_for, moto_endpoint  # noqa: F401 (a fixture)
from tests.services import Backend, Server, free_port, start_server

MAX_BYTES = 64 * 1024
QUOTA = 200 * 1024
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 40  # 10 KiB that start like a PNG
PDF = b"%PDF-1.4\n" + b"0123456789" * 6000


class Files:
    """A server with small attachment caps, its store, and where to find its objects."""

    def __init__(self, server: Server, blobs: Blobs, data_dir: Path) -> None:
        self.server = server
        self.blobs = blobs
        self.data_dir = data_dir

    async def keys(self, event_id: str = "") -> list[str]:
        return await self.blobs.keys(self.data_dir, f"attachments/{event_id}")


@pytest.fixture(scope="module", params=["local", "s3"])
def files(
    request: pytest.FixtureRequest, backend: Backend, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Files]:
    blobs = blobs_for(request.param, request, f"t-{uuid.uuid4().hex[:8]}")
    data_dir = tmp_path_factory.mktemp("files")
    server = start_server(
        backend,
        tmp_path_factory.mktemp("logs"),
        QUORUM_DATA_DIR=str(data_dir),
        QUORUM_MAX_ATTACHMENT_BYTES=str(MAX_BYTES),
        QUORUM_MAX_EVENT_ATTACHMENT_BYTES=str(QUOTA),
        QUORUM_MAINTENANCE_INTERVAL_SECONDS="0.5",
        QUORUM_ORPHAN_BLOB_MINUTES="0.02",  # 1.2 s
        **blobs.env,
    )
    yield Files(server, blobs, data_dir)
    server.stop()


@pytest.fixture
async def api(files: Files) -> AsyncIterator[Api]:  # this module's server, not the session's
    async with httpx.AsyncClient(base_url=files.server.url, timeout=60) as client:
        yield Api(client)


def attachments_url(event_id: str, proposal_id: str) -> str:
    return f"/api/v1/events/{event_id}/proposals/{proposal_id}/attachments"


async def upload(
    api: Api, user: User, event_id: str, proposal_id: str, data: bytes, name: str = "a.png"
) -> httpx.Response:
    return await api.client.post(
        attachments_url(event_id, proposal_id),
        files={"file": (name, data, "application/octet-stream")},
        headers=user.auth,
    )


async def setup(api: Api) -> tuple[User, User, str, str]:
    owner, member = await api.user("owner"), await api.user("member")
    event = await api.event(owner, members=[member])
    return owner, member, event, await api.proposal(member, event)


async def until(condition: Callable[[], Awaitable[bool]], seconds: float = 10) -> None:
    async with asyncio.timeout(seconds):
        while not await condition():  # noqa: ASYNC110 (polling another process's state)
            await asyncio.sleep(0.1)


async def no_objects(files: Files, event_id: str) -> bool:
    return await files.keys(event_id) == []


async def gone(files: Files, event_id: str, key: str) -> bool:
    return key not in await files.keys(event_id)


async def test_upload_list_download_range_and_delete(api: Api, files: Files) -> None:
    owner, member, event, proposal = await setup(api)

    r = await upload(api, member, event, proposal, PNG, "../dir/Plan ü.png")
    assert r.status_code == 201, r.text
    added = r.json()
    assert added["filename"] == "Plan ü.png"  # the path is dropped
    assert added["content_type"] == "image/png"
    assert added["size"] == len(PNG)
    assert added["author"] == member.person
    listed = await api.client.get(attachments_url(event, proposal), headers=owner.auth)
    assert listed.json()["items"] == [added]

    whole = await api.client.get(added["url"], headers=owner.auth)
    assert whole.status_code == 200
    assert whole.content == PNG
    assert whole.headers["content-type"] == "image/png"
    assert whole.headers["accept-ranges"] == "bytes"
    assert whole.headers["x-content-type-options"] == "nosniff"
    assert "filename*=UTF-8''Plan%20%C3%BC.png" in whole.headers["content-disposition"]
    part = await api.client.get(added["url"], headers={**owner.auth, "Range": "bytes=8-99"})
    assert part.status_code == 206
    assert part.content == PNG[8:100]
    assert part.headers["content-range"] == f"bytes 8-99/{len(PNG)}"
    tail = await api.client.get(added["url"], headers={**owner.auth, "Range": "bytes=-10"})
    assert (tail.status_code, tail.content) == (206, PNG[-10:])
    beyond = await api.client.get(
        added["url"], headers={**owner.auth, "Range": f"bytes={len(PNG)}-"}
    )
    problem(beyond, 416, "range_not_satisfiable")
    assert beyond.headers["content-range"] == f"bytes */{len(PNG)}"
    assert len(await files.keys(event)) == 1

    gone = await api.client.delete(added["url"], headers=member.auth)
    assert gone.status_code == 204
    problem(await api.client.get(added["url"], headers=owner.auth), 404, "attachment_not_found")
    assert (await api.client.get(attachments_url(event, proposal), headers=owner.auth)).json()[
        "items"
    ] == []
    await until(lambda: no_objects(files, event))
    log = [(e["type"], e["data"]) for e in await api.log(owner, event)]
    assert ("attachment.added", added) in log
    removed = {"id": added["id"], "event_id": event, "proposal_id": proposal}
    assert ("attachment.removed", {**removed, "removed_by": member.person}) in log


async def test_a_raw_body_with_a_filename(api: Api, files: Files) -> None:
    _, member, event, proposal = await setup(api)
    text = "Minutes of the meeting: ünïcode is fine.\n".encode() * 100
    url = attachments_url(event, proposal)
    r = await api.client.post(
        url, params={"filename": "notes.txt"}, content=text, headers=member.auth
    )
    assert r.status_code == 201, r.text
    assert (r.json()["content_type"], r.json()["size"]) == ("text/plain", len(text))
    got = await api.client.get(r.json()["url"], headers=member.auth)
    assert got.content == text
    assert got.headers["content-type"] == "text/plain; charset=utf-8"
    nameless = await api.client.post(url, content=text, headers=member.auth)
    problem(nameless, 422, "filename_required")


async def test_the_type_comes_from_the_bytes_not_the_header(api: Api, files: Files) -> None:
    _, member, event, proposal = await setup(api)
    zip_file = b"PK\x03\x04" + bytes(200)
    elf = b"\x7fELF\x02\x01\x01" + bytes(300)
    for data, name in [(zip_file, "a.png"), (elf, "report.pdf")]:
        r = await upload(api, member, event, proposal, data, name)
        problem(r, 415, "unsupported_attachment_type")
    assert await files.keys(event) == []


async def test_oversize_is_413_whether_declared_or_streamed(api: Api, files: Files) -> None:
    _, member, event, proposal = await setup(api)
    big = PDF[:9] + bytes(MAX_BYTES)
    declared = await upload(api, member, event, proposal, big, "big.pdf")
    problem(declared, 413, "attachment_too_large")

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: counted as it comes
        yield big[:20_000]
        yield big[20_000:]

    streamed = await api.client.post(
        attachments_url(event, proposal),
        params={"filename": "big.pdf"},
        content=chunks(),
        headers=member.auth,
    )
    problem(streamed, 413, "attachment_too_large")
    assert await files.keys(event) == []


async def test_the_event_quota(api: Api, files: Files) -> None:
    _, member, event, proposal = await setup(api)
    file = PDF[:60_000]
    for _ in range(3):
        assert (await upload(api, member, event, proposal, file, "x.pdf")).status_code == 201
    over = await upload(api, member, event, proposal, file, "x.pdf")
    problem(over, 409, "attachment_quota_exceeded")
    assert len(await files.keys(event)) == 3


async def test_members_only_and_who_may_delete(api: Api, files: Files) -> None:
    owner, member, event, proposal = await setup(api)
    stranger, other = await api.user("stranger"), await api.user("other")
    await api.join(owner, event, other)
    added = (await upload(api, member, event, proposal, PNG)).json()

    problem(await upload(api, stranger, event, proposal, PNG), 403, "not_a_member")
    listing = await api.client.get(attachments_url(event, proposal), headers=stranger.auth)
    problem(listing, 403, "not_a_member")
    problem(await api.client.get(added["url"], headers=stranger.auth), 403, "not_a_member")
    problem(await api.client.delete(added["url"], headers=stranger.auth), 403, "not_a_member")
    problem(await api.client.delete(added["url"], headers=other.auth), 403, "not_allowed")
    assert (await api.client.delete(added["url"], headers=owner.auth)).status_code == 204
    missing = await upload(api, member, event, str(uuid.uuid4()), PNG)
    problem(missing, 404, "proposal_not_found")


@pytest.mark.parametrize("sent", [100, 25_000], ids=["while_sniffing", "while_storing"])
async def test_a_cut_upload_leaves_nothing_behind(api: Api, files: Files, sent: int) -> None:
    _, member, event, proposal = await setup(api)
    url = files.server.url.removeprefix("http://")
    host, port = url.split(":")
    body = PDF[:50_000]
    head = (
        f"POST {attachments_url(event, proposal)}?filename=cut.pdf HTTP/1.1\r\n"
        f"Host: {url}\r\nAuthorization: Bearer {member.token}\r\n"
        f"Content-Type: application/pdf\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode()
    with socket.create_connection((host, int(port))) as s:
        s.sendall(head + body[:sent])
        await asyncio.sleep(0.5)  # the server has begun reading it
    await asyncio.sleep(1.0)
    listed = await api.client.get(attachments_url(event, proposal), headers=member.auth)
    assert listed.json()["items"] == []
    assert await files.keys(event) == []
    assert await files.blobs.leftovers(files.data_dir, f"attachments/{event}") == []
    assert not [e for e in await api.log(member, event) if e["type"].startswith("attachment")]
    assert "Traceback" not in files.server.log()  # a client going away is no error


async def test_orphans_are_swept_and_attachments_kept(api: Api, files: Files) -> None:
    _, member, event, proposal = await setup(api)
    kept = (await upload(api, member, event, proposal, PNG)).json()
    orphan = f"attachments/{event}/{uuid.uuid4()}"

    async def put_orphan() -> None:
        async def body() -> AsyncIterator[bytes]:
            yield b"left behind"

        await files.blobs.store(files.data_dir).put(orphan, body())

    await put_orphan()
    await until(lambda: gone(files, event, orphan))
    assert await files.keys(event) == [f"attachments/{event}/{kept['id']}"]


async def test_a_store_out_of_reach_is_503(
    backend: Backend, tmp_path_factory: pytest.TempPathFactory
) -> None:
    server = start_server(
        backend,
        tmp_path_factory.mktemp("logs"),
        QUORUM_STORAGE_URL="s3://nowhere/x",
        QUORUM_STORAGE_ENDPOINT=f"http://127.0.0.1:{free_port()}",  # nothing listens
        QUORUM_STORAGE_ACCESS_KEY_ID="testing",
        QUORUM_STORAGE_SECRET_ACCESS_KEY="testing",
    )
    try:
        async with httpx.AsyncClient(base_url=server.url, timeout=120) as client:
            api = Api(client)
            _, member, event, proposal = await setup(api)
            r = await upload(api, member, event, proposal, PNG)
            problem(r, 503, "storage_unavailable")
            listed = await client.get(attachments_url(event, proposal), headers=member.auth)
            assert listed.json()["items"] == []
    finally:
        server.stop()


async def test_a_deleted_events_files_go_with_it(api: Api, files: Files) -> None:
    owner, member, event, proposal = await setup(api)
    added = (await upload(api, member, event, proposal, PNG)).json()
    assert (
        await api.client.delete(f"/api/v1/events/{event}", headers=owner.auth)
    ).status_code == 204
    problem(await api.client.get(added["url"], headers=owner.auth), 404, "attachment_not_found")
    await until(lambda: no_objects(files, event))  # the rows went with the proposals
