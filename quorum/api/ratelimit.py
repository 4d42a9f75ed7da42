"""Rate limits on login and registration: a brake on password guessing and account spam.

A moving window (the ``limits`` library): at most N attempts in *any* window of the
configured length, so there is no burst of 2N across a clock-minute boundary. Both
routes are limited per client IP; the login is limited per username as well, so that
guesses at one account spread over many addresses still meet a limit. The routes that
check a logged-in user's password (changing it, deleting the account) share that brake,
per user: a stolen token must not become a way to guess the password.

The counters live in memory (per process) by default, and in Redis when
``QUORUM_REDIS_URL`` is set, shared by every instance. **If that Redis cannot be
reached, the limiter fails open**: the attempt is allowed and the outage logged. Being
able to log in matters more than the brake, and a Redis outage must not become an
outage of logins.

The client IP is the connection's peer as the ASGI server reports it. ``quorum serve``
believes X-Forwarded-For only from the proxies in ``QUORUM_FORWARDED_ALLOW_IPS`` (none by
default): trusted from anyone, it would let a client choose its address, and its budget.
"""

import math
import time
from typing import Annotated

import redis.asyncio
import structlog
from fastapi import Depends, Request
from fastapi.security import OAuth2PasswordRequestForm
from limits import RateLimitItem, parse
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import MovingWindowRateLimiter
from limits.errors import StorageError
from redis.exceptions import RedisError

from quorum.api.deps import TokenCaller
from quorum.errors import TooManyRequests
from quorum.settings import Settings

log = structlog.get_logger(__name__)
REDIS_TIMEOUT_SECONDS = 0.5  # a login waits at most this long for an unreachable Redis
_STORAGE_ERRORS = (StorageError, RedisError, OSError)


class AuthLimiter:
    def __init__(
        self,
        item: RateLimitItem | None,
        storage: Storage,
        pool: redis.asyncio.ConnectionPool | None = None,
    ) -> None:
        self.item = item
        self.storage = storage
        self.limiter = MovingWindowRateLimiter(storage)
        self.pool = pool  # ours to close
        self._failing = False

    @classmethod
    def from_settings(cls, settings: Settings) -> "AuthLimiter":
        off = settings.auth_rate_limit.lower() == "off"
        item = None if off else parse(settings.auth_rate_limit)
        if not settings.redis_url or off:
            return cls(item, MemoryStorage())
        pool = redis.asyncio.ConnectionPool.from_url(
            settings.redis_url,
            socket_connect_timeout=REDIS_TIMEOUT_SECONDS,
            socket_timeout=REDIS_TIMEOUT_SECONDS,
        )
        storage = RedisStorage(
            f"async+{settings.redis_url}",
            implementation="redispy",
            wrap_exceptions=True,
            key_prefix="quorum:ratelimit",
            connection_pool=pool,  # type: ignore[arg-type]  # passed on to redis-py as is
        )
        return cls(item, storage, pool)

    async def check(self, *keys: tuple[str, ...]) -> None:
        """Count one attempt under each key; ``TooManyRequests`` at the first one spent."""
        if self.item is None:
            return
        for key in keys:
            try:
                if await self.limiter.hit(self.item, *key):
                    continue
                stats = await self.limiter.get_window_stats(self.item, *key)
            except _STORAGE_ERRORS as exc:
                self._fail_open(exc)
                return
            self._recovered()
            retry_after = max(1, math.ceil(stats.reset_time - time.time()))
            raise TooManyRequests(
                "rate_limited",
                f"Too many attempts; retry in {retry_after} s.",
                retry_after=retry_after,
            )
        self._recovered()

    def _fail_open(self, exc: Exception) -> None:
        if not self._failing:  # once per outage, not once per login
            log.warning("rate_limit_storage_unavailable", error=repr(exc)[:200])
        self._failing = True

    def _recovered(self) -> None:
        if self._failing:
            log.info("rate_limit_storage_recovered")
        self._failing = False

    async def close(self) -> None:
        if isinstance(self.storage, MemoryStorage) and self.storage.timer is not None:
            self.storage.timer.cancel()
        if self.pool is not None:
            await self.pool.aclose()


def _limiter(request: Request) -> AuthLimiter:
    limiter: AuthLimiter = request.app.state.auth_limiter
    return limiter


def _client_ip(request: Request) -> str:
    return request.client.host if request.client else "unknown"


async def limit_register(request: Request) -> None:
    await _limiter(request).check(("register", _client_ip(request)))


async def limit_login(
    request: Request, form: Annotated[OAuth2PasswordRequestForm, Depends()]
) -> None:
    """The form is the route's own (FastAPI parses it once per request)."""
    await limit_login_attempt(request, form.username)


async def limit_login_attempt(request: Request, username: str) -> None:
    """One login, by form (``/auth/token``) or JSON (``/auth/session``): the two share
    their budgets, or each would double the guesses allowed."""
    username = username.strip().lower()
    await _limiter(request).check(("token", _client_ip(request)), ("token-user", username))


async def limit_password_check(request: Request, caller: TokenCaller) -> None:
    await _limiter(request).check(("password-user", str(caller.user_id)))
