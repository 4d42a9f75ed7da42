"""Where a job's result lives: one object per job, ``reports/{job_id}.{ext}``, in the
blob store (quorum/storage), so that every server can serve what any worker wrote.

A result is written to a temporary file first (the renderers write text, a page at a
time) and then put into the store, which is all or nothing: a reader never sees half a
result, and two attempts of one job that both finish leave one whole object. The put
happens before the job is recorded as done, so ``job.completed`` means the file is there.
"""

import asyncio
import tempfile
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TextIO

from quorum.storage.store import BlobStore

PREFIX = "reports/"  # the attachments' orphan sweeper lists only ``attachments/``
READ_BYTES = 1024 * 1024


class ResultFiles:
    def __init__(self, store: BlobStore) -> None:
        self.store = store

    def key(self, job_id: uuid.UUID, extension: str) -> str:
        return f"{PREFIX}{job_id}.{extension}"

    @asynccontextmanager
    async def writer(self, job_id: uuid.UUID, extension: str) -> AsyncIterator[TextIO]:
        """A text file to write the result into; it is stored only if the block ends
        without an exception."""
        with tempfile.TemporaryDirectory(prefix="quorum-report-") as scratch:
            path = Path(scratch) / f"{job_id}.{extension}"
            with path.open("w", encoding="utf-8", newline="") as file:
                yield file
            await self.store.put(self.key(job_id, extension), _read(path))

    async def size(self, job_id: uuid.UUID, extension: str) -> int | None:
        return await self.store.size(self.key(job_id, extension))

    async def read(self, job_id: uuid.UUID, extension: str) -> AsyncIterator[bytes]:
        """The result's bytes; ``FileNotFoundError`` if it is not stored."""
        return await self.store.get(self.key(job_id, extension))


async def _read(path: Path) -> AsyncIterator[bytes]:
    with path.open("rb") as file:
        while chunk := await asyncio.to_thread(file.read, READ_BYTES):
            yield chunk
