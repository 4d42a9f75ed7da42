"""Idempotency-Key for every mutating request (IETF draft, the way Stripe does it).

The key is scoped to the user. The first successful response (status, body) is stored
in the same transaction as the change it reports, so either both exist or neither
does; a retry with the same key within the TTL gets that response again. A key sent
with another method, path or body is 422 ``idempotency_key_reused``.

A retry that arrives while the first request still runs gets 409
``idempotency_in_progress``. On PostgreSQL the first request holds a transaction-level
advisory lock on (user, key) that the retry fails to take; the lock is released only
after commit, when the stored response is already visible. SQLite serialises writing
transactions (BEGIN IMMEDIATE), so there the retry simply waits and then replays.

The table and its queries are quorum/idempotency/; this module is the HTTP side: the
header, the fingerprint of the request, the replayed response.

Error responses are not stored: the transaction that would have stored them rolled
back, and the client may retry with the same key.
"""

import hashlib
import uuid
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Header, Request
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.responses import Response

from quorum.accounts.service import require_session
from quorum.api.deps import TokenCaller
from quorum.errors import Conflict, InvalidInput
from quorum.idempotency import repository
from quorum.idempotency.models import KEY_MAX, IdempotencyRecord
from quorum.settings import Settings

HEADER = "Idempotency-Key"
_SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}


class IdempotentReplay(Exception):  # noqa: N818 - a control-flow signal, not an error
    """Raised by ``claim`` to short-circuit the request with the stored response."""

    def __init__(self, record: IdempotencyRecord) -> None:
        self.response = Response(
            record.body,
            record.status_code,
            headers={"Idempotent-Replayed": "true"},
            media_type=record.content_type,
        )


@dataclass(frozen=True)
class ClaimedKey:
    user_id: uuid.UUID
    key: str
    fingerprint: str
    replaces_expired: bool


async def _fingerprint(request: Request) -> str:
    digest = hashlib.sha256()
    for part in (request.method, request.url.path, request.url.query):
        digest.update(part.encode())
        digest.update(b"\0")
    digest.update(await request.body())
    return digest.hexdigest()


async def claim(
    request: Request,
    caller: TokenCaller,
    key: Annotated[str | None, Header(alias=HEADER, include_in_schema=False)] = None,
) -> None:
    """Replay, refuse, or let the request run and remember that its response must be kept.
    The route checks the caller's session when it runs; a replay, which runs no route,
    checks it here, so a revoked token replays nothing.

    The session and settings are read from the request rather than depended on: this
    runs on every mutating request, most of which send no key, and each dependency costs
    FastAPI a solving pass (quorum/api/deps.py)."""
    user_id = caller.user_id
    if key is None or request.method in _SAFE_METHODS:
        return
    session: AsyncSession = request.state.session  # TransactionalRoute's
    settings: Settings = request.app.state.settings
    if not 1 <= len(key) <= KEY_MAX or not key.isprintable():
        raise InvalidInput(
            "invalid_idempotency_key", f"{HEADER} must be 1-{KEY_MAX} printable characters."
        )
    if not settings.is_sqlite and not await repository.try_lock(session, user_id, key):
        raise Conflict("idempotency_in_progress", "A request with this key is still in progress.")
    fingerprint = await _fingerprint(request)
    record = await repository.find(session, user_id, key)
    expired = record is not None and record.created_at < repository.expired_before(
        settings.idempotency_ttl_seconds
    )
    if record is not None and not expired:
        if record.fingerprint != fingerprint:
            raise InvalidInput(
                "idempotency_key_reused", f"This {HEADER} was used for another request."
            )
        await require_session(session, caller)
        raise IdempotentReplay(record)
    request.state.idempotency = ClaimedKey(user_id, key, fingerprint, replaces_expired=expired)


async def store(session: AsyncSession, claimed: ClaimedKey, response: Response) -> None:
    """Keep ``response`` as the answer to every retry of the claimed key."""
    record = IdempotencyRecord(
        user_id=claimed.user_id,
        key=claimed.key,
        fingerprint=claimed.fingerprint,
        status_code=response.status_code,
        content_type=response.headers.get("content-type"),
        body=bytes(response.body),
    )
    await repository.save(session, record, replaces_expired=claimed.replaces_expired)


IdempotencyDep = Depends(claim)
