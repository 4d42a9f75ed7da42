"""Use every seeded token once (``GET /api/v1/me``), so that no measured phase pays
for first uses that another did not.

A token's first use in a process verifies its signature (PyJWT, about 40 µs); its LRU
then serves every later use, as it does for a real client, which keeps its token for
an hour. The wrk scripts pick one of 10,000 tokens at random, so without this the
first measured phase (mixed) carried most of the first uses and ran about 14 % slower
than an identical second one (bench/RESULTS.md, 2026-11-30).

    python bench/votes/warm_tokens.py http://127.0.0.1:18020 DATA_DIR
"""

import asyncio
import sys
from pathlib import Path

import httpx

CONCURRENCY = 32


async def warm(base: str, tokens: list[str]) -> int:
    """How many tokens were refused (each should be accepted)."""
    queue: asyncio.Queue[str] = asyncio.Queue()
    for token in tokens:
        queue.put_nowait(token)
    refused = 0

    async def worker(client: httpx.AsyncClient) -> None:
        nonlocal refused
        while not queue.empty():
            token = queue.get_nowait()
            response = await client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
            refused += response.status_code != 200

    async with httpx.AsyncClient(base_url=base, timeout=30) as client:
        await asyncio.gather(*(worker(client) for _ in range(CONCURRENCY)))
    return refused


def main() -> None:
    base, data = sys.argv[1], Path(sys.argv[2])
    tokens = [line for line in (data / "tokens.txt").read_text().splitlines() if line]
    refused = asyncio.run(warm(base, tokens))
    print(f"{len(tokens)} tokens used once, {refused} refused", file=sys.stderr)
    sys.exit(1 if refused else 0)


if __name__ == "__main__":
    main()
