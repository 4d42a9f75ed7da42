"""Argon2id password hashing, off the event loop.

A hash costs tens of milliseconds of CPU by design; running it in a worker thread keeps
every other request (and every stream) moving while someone logs in.
"""

from anyio import to_thread
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from quorum.settings import Settings


class Passwords:
    def __init__(self, settings: Settings) -> None:
        self._hasher = PasswordHasher(
            time_cost=settings.argon2_time_cost,
            memory_cost=settings.argon2_memory_cost_kib,
            parallelism=settings.argon2_parallelism,
        )
        # Verified against when the email is unknown, so that a login attempt takes as
        # long whether or not the account exists.
        self._dummy_hash = self._hasher.hash("quorum-dummy-password")

    async def hash(self, password: str) -> str:
        return await to_thread.run_sync(self._hasher.hash, password)

    async def verify(self, password_hash: str | None, password: str) -> bool:
        def check() -> bool:
            try:
                return self._hasher.verify(password_hash or self._dummy_hash, password)
            except (VerificationError, InvalidHashError):
                return False

        ok = await to_thread.run_sync(check)
        return ok and bool(password_hash)  # the dummy hash admits nobody
