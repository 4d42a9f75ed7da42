"""A 200 MB attachment up and down: the server's memory grows by less than 50 MB, on the
local store and on S3 (moto). The server's memory does not depend on the database, so
this runs on SQLite alone."""

import hashlib
import threading
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from tests.api import Api
from tests.blobs import blobs_for, moto_endpoint  # noqa: F401 (a fixture)
from tests.services import Server, create_backend, start_server

SIZE = 200 * 1024 * 1024
CHUNK = 1024 * 1024
LIMIT = 50 * 1024 * 1024


def _status_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    raise LookupError(field)


class PeakRss:
    """The process's peak resident memory from now on: the kernel's own high-water mark,
    reset here (clear_refs), and samples every 20 ms in case it cannot be reset."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.start = _status_kib(pid, "VmRSS") * 1024
        try:
            Path(f"/proc/{pid}/clear_refs").write_text("5")
            self.hwm_reset = True
        except OSError:
            self.hwm_reset = False
        self.sampled = self.start
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        while not self._done.wait(0.02):
            self.sampled = max(self.sampled, _status_kib(self.pid, "VmRSS") * 1024)

    def growth(self) -> int:
        self._done.set()
        self._thread.join()
        peak = self.sampled
        if self.hwm_reset:
            peak = max(peak, _status_kib(self.pid, "VmHWM") * 1024)
        return peak - self.start


@pytest.fixture(scope="module", params=["local", "s3"])
def big_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    blobs = blobs_for(request.param, request, f"m-{uuid.uuid4().hex[:8]}")
    backend = create_backend("sqlite", tmp_path_factory.mktemp("sqlite-memory"))
    server = start_server(
        backend,
        tmp_path_factory.mktemp("logs"),
        QUORUM_MAX_ATTACHMENT_BYTES=str(SIZE),
        QUORUM_MAX_EVENT_ATTACHMENT_BYTES=str(2 * SIZE),
        **blobs.env,
    )
    yield server
    server.stop()


async def _file(digest: "hashlib._Hash") -> AsyncIterator[bytes]:
    head = b"%PDF-1.7\n" + bytes(CHUNK - 9)
    for index in range(SIZE // CHUNK):
        chunk = head if index == 0 else index.to_bytes(4) * (CHUNK // 4)
        digest.update(chunk)
        yield chunk


async def _form(digest: "hashlib._Hash") -> AsyncIterator[bytes]:
    """The same file as one part of a multipart form, written out by hand so that it
    streams (httpx reads ``files=`` whole unless they are on disk)."""
    yield (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="big.pdf"\r\n'
        "Content-Type: application/pdf\r\n\r\n"
    ).encode()
    async for chunk in _file(digest):
        yield chunk
    yield f"\r\n--{BOUNDARY}--\r\n".encode()


BOUNDARY = "quorum-test-boundary-7f3a"


@pytest.mark.slow
@pytest.mark.timeout(900)
@pytest.mark.parametrize("form", ["raw", "multipart"])
async def test_200_mb_up_and_down_in_bounded_memory(big_server: Server, form: str) -> None:
    async with httpx.AsyncClient(base_url=big_server.url, timeout=300) as client:
        api = Api(client)
        owner = await api.user("owner")
        event = await api.event(owner)
        proposal = await api.proposal(owner, event)
        url = f"/api/v1/events/{event}/proposals/{proposal}/attachments"
        warm = await client.post(
            url, params={"filename": "warm.txt"}, content=b"warm up\n", headers=owner.auth
        )
        assert warm.status_code == 201, warm.text
        assert (await client.get(warm.json()["url"], headers=owner.auth)).content == b"warm up\n"

        memory = PeakRss(big_server.process.pid)
        sent = hashlib.sha256()
        if form == "raw":
            r = await client.post(
                url, params={"filename": "big.pdf"}, content=_file(sent), headers=owner.auth
            )
        else:
            multipart = {"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"}
            r = await client.post(url, content=_form(sent), headers=owner.auth | multipart)
        assert r.status_code == 201, r.text
        assert r.json()["size"] == SIZE
        received = hashlib.sha256()
        count = 0
        async with client.stream("GET", r.json()["url"], headers=owner.auth) as download:
            assert download.status_code == 200
            async for chunk in download.aiter_raw():
                received.update(chunk)
                count += len(chunk)
        growth = memory.growth()

    assert count == SIZE
    assert received.hexdigest() == sent.hexdigest()
    assert growth < LIMIT, f"the server grew by {growth / 2**20:.1f} MiB"
