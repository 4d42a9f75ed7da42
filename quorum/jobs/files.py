"""Where a job's result lives: one file per job under ``<data dir>/reports``.

Small on purpose (open a writer, find the file): when the blob store (quorum/storage)
arrives, a ``ResultFiles`` on top of it replaces this one and nothing else changes. A
result is written aside and renamed into place, so a reader never sees half a file,
and two attempts of one job that both finish leave one whole file.
"""

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO


class ResultFiles:
    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, job_id: uuid.UUID, extension: str) -> Path:
        return self.root / f"{job_id}.{extension}"

    @contextmanager
    def writer(self, job_id: uuid.UUID, extension: str) -> Iterator[TextIO]:
        """A text file to write the result into; it takes its place only if the block
        ends without an exception."""
        self.root.mkdir(parents=True, exist_ok=True)
        final = self.path(job_id, extension)
        aside = final.with_name(f".{final.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}")
        try:
            with aside.open("w", encoding="utf-8", newline="") as file:
                yield file
            aside.replace(final)
        finally:
            aside.unlink(missing_ok=True)
