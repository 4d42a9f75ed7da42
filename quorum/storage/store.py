"""``BlobStore``: put a stream, get a stream (optionally a byte range), delete, size, list.

Built on obstore, for the local directory and for S3 alike: one async client, written in
Rust (no botocore, no aiohttp), whose ``put`` takes an async iterator and uploads it as a
multipart upload, and whose ``get`` returns an async stream of chunks, with ranges. A
put is atomic: the object appears only once complete (a staging file renamed into place
on disk, a completed multipart upload on S3) and a failed put leaves none behind, so a
cut upload needs no cleanup. Memory stays bounded by ``PART_BYTES`` times
``PUT_CONCURRENCY`` on the way in and by ``READ_CHUNK_BYTES`` on the way out.

A store that cannot be reached is 503 ``storage_unavailable`` (``Unavailable``), as the
database is; a missing object is ``FileNotFoundError`` from either store. Whatever the
caller's chunks raise (a cap, a client gone) comes out of ``put`` unchanged.

Keys are the caller's: attachments live under ``attachments/`` (and only that prefix is
swept for orphans); other features (reports) take a prefix of their own and reach the
store as ``app.state.blobs`` in the server, or ``create_store(settings)`` elsewhere.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import obstore
import structlog
from obstore.exceptions import BaseError, NotFoundError
from obstore.store import LocalStore, ObjectStore, S3Store

from quorum.errors import Unavailable
from quorum.settings import Settings

if TYPE_CHECKING:
    from obstore.store import S3Config  # a TypedDict of the stubs only

PART_BYTES = 5 * 1024 * 1024  # S3's smallest multipart part
PUT_CONCURRENCY = 2
READ_CHUNK_BYTES = 256 * 1024
log = structlog.get_logger(__name__)


@contextmanager
def _reachable() -> Iterator[None]:
    try:
        yield
    except NotFoundError as exc:
        raise FileNotFoundError(str(exc)) from exc
    except BaseError as exc:
        log.warning("storage_error", error=str(exc))
        raise Unavailable(
            "storage_unavailable", "The file store cannot be reached right now; retry shortly."
        ) from exc


@dataclass(frozen=True)
class StoredObject:
    key: str
    size: int
    last_modified: datetime


class BlobStore:
    """Objects by key (``a/b/c``), in whichever store ``create_store`` configured."""

    def __init__(self, store: ObjectStore) -> None:
        self._store = store

    async def put(self, key: str, chunks: AsyncIterable[bytes]) -> None:
        """Write ``chunks`` as the object ``key``, all or nothing."""
        with _reachable():
            await obstore.put_async(
                self._store,
                key,
                chunks,
                use_multipart=True,
                chunk_size=PART_BYTES,
                max_concurrency=PUT_CONCURRENCY,
            )

    async def get(self, key: str, start: int = 0, end: int | None = None) -> AsyncIterator[bytes]:
        """The object's bytes from ``start`` up to ``end`` (exclusive; None: to the end).
        Raises ``FileNotFoundError`` here, before the first chunk, if there is no such
        object: a response can still become a 404 then."""
        options: obstore.GetOptions = (
            {"range": {"offset": start}} if end is None else {"range": (start, end)}
        )
        with _reachable():
            result = await obstore.get_async(self._store, key, options=options)
        return _chunks(result)

    async def delete(self, key: str) -> None:
        """Remove the object; an absent one is no error."""
        try:
            with _reachable():
                await obstore.delete_async(self._store, key)
        except FileNotFoundError:
            pass

    async def size(self, key: str) -> int | None:
        """The object's size in bytes, None if it does not exist."""
        try:
            with _reachable():
                meta = await obstore.head_async(self._store, key)
        except FileNotFoundError:
            return None
        return int(meta["size"])

    async def list(self, prefix: str) -> AsyncIterator[StoredObject]:
        """Every object under ``prefix``, a page at a time."""
        with _reachable():
            async for batch in obstore.list(self._store, prefix=prefix, chunk_size=500):
                for meta in batch:
                    yield StoredObject(meta["path"], int(meta["size"]), meta["last_modified"])


async def _chunks(result: obstore.GetResult) -> AsyncIterator[bytes]:
    with _reachable():  # too late for a 503 once the body has begun: the response breaks off
        async for chunk in result.stream(min_chunk_size=READ_CHUNK_BYTES):
            yield bytes(chunk)


def create_store(settings: Settings) -> BlobStore:
    """The configured store: S3 for an ``s3://`` storage URL, else ``data_dir/blobs``."""
    if settings.storage_url is None:
        root = settings.data_dir / "blobs"
        root.mkdir(parents=True, exist_ok=True)
        return BlobStore(LocalStore(root.resolve(), mkdir=True))
    bucket, _, prefix = settings.storage_url.removeprefix("s3://").partition("/")
    endpoint = settings.storage_endpoint
    config: S3Config = {"region": settings.storage_region}
    if endpoint:
        config["endpoint"] = endpoint
    if settings.storage_access_key_id and settings.storage_secret_access_key:
        config["access_key_id"] = settings.storage_access_key_id
        config["secret_access_key"] = settings.storage_secret_access_key
    s3 = S3Store(
        bucket,
        prefix=prefix.strip("/") or None,
        config=config,
        client_options={"allow_http": bool(endpoint and endpoint.startswith("http://"))},
        # A store that is away answers 503 within seconds, not after minutes of retries.
        retry_config={"max_retries": 3, "retry_timeout": timedelta(seconds=10)},
    )
    return BlobStore(s3)
