"""Blob stores for the attachment tests: the local directory, and S3 through moto's
standalone server, started here on 127.0.0.1 (no network, nothing to install). Where moto
cannot start, the S3 half is skipped with the reason; under CI=true it fails instead."""

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from quorum.settings import Settings
from quorum.storage.store import BlobStore, create_store
from tests.services import free_port, service_unreachable

BUCKET = "quorum-test"


@dataclass
class Blobs:
    """One store as the server sees it (``env``) and as the test reads it (``keys``)."""

    kind: str
    env: dict[str, str] = field(default_factory=dict)
    data_dir: Path | None = None

    def store(self, data_dir: Path) -> BlobStore:
        settings = {k.removeprefix("QUORUM_").lower(): v for k, v in self.env.items()}
        return create_store(Settings(data_dir=data_dir, **settings))

    async def leftovers(self, data_dir: Path, prefix: str) -> list[str]:
        """What a failed put could leave besides objects: staging files on disk, or
        multipart uploads begun and never completed nor aborted on S3."""
        if self.kind == "local":
            root = data_dir / "blobs" / prefix
            return [str(p) for p in root.rglob("*") if p.is_file()] if root.exists() else []
        bucket_prefix = self.env["QUORUM_STORAGE_URL"].removeprefix(f"s3://{BUCKET}/")
        async with httpx.AsyncClient(base_url=self.env["QUORUM_STORAGE_ENDPOINT"]) as s3:
            r = await s3.get(
                f"/{BUCKET}", params={"uploads": "", "prefix": f"{bucket_prefix}/{prefix}"}
            )
        r.raise_for_status()
        return re.findall(r"<Key>(.*?)</Key>", r.text)

    async def keys(self, data_dir: Path, prefix: str = "attachments/") -> list[str]:
        """Every object under ``prefix``, read straight from the store."""
        return [o.key async for o in self.store(data_dir).list(prefix)]


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    try:
        from moto.server import ThreadedMotoServer

        port = free_port()
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
        server.start()
        endpoint = f"http://127.0.0.1:{port}"
        httpx.put(f"{endpoint}/{BUCKET}", timeout=10).raise_for_status()
    except Exception as exc:  # ImportError, a port taken, a moto that fails to start
        service_unreachable("moto's S3 server", repr(exc))
    yield endpoint
    server.stop()


def blobs_for(kind: str, request: pytest.FixtureRequest, prefix: str) -> Blobs:
    if kind == "local":
        return Blobs("local")
    endpoint = request.getfixturevalue("moto_endpoint")
    return Blobs(
        "s3",
        {
            "QUORUM_STORAGE_URL": f"s3://{BUCKET}/{prefix}",
            "QUORUM_STORAGE_ENDPOINT": endpoint,
            "QUORUM_STORAGE_ACCESS_KEY_ID": "testing",
            "QUORUM_STORAGE_SECRET_ACCESS_KEY": "testing",
        },
    )
