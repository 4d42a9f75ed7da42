"""Runtime configuration, read once from ``QUORUM_*`` environment variables.

The embedded default needs no configuration at all: a SQLite file and a secret key
kept in the data directory. PostgreSQL deployments must bring their own secret,
because several instances have to agree on it.

Invalid settings raise ``InvalidSettings``: one line per problem, each naming its
environment variable, which the ``quorum`` command prints instead of a traceback.
"""

import contextlib
import ipaddress
import os
import secrets
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

import limits
from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_core import ErrorDetails
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

_PLACEHOLDER_SECRETS = {"changeme", "secret", "change-me", "changethis"}
ENV_PREFIX = "QUORUM_"


class InvalidSettings(Exception):
    """The settings cannot be used; ``lines`` says why, one problem per line, each starting
    with the environment variable to fix (``QUORUM_X: what is wrong``)."""

    def __init__(self, lines: list[str]) -> None:
        super().__init__("\n".join(lines))
        self.lines = lines

    @classmethod
    def from_validation_error(cls, error: ValidationError) -> "InvalidSettings":
        return cls([_describe(detail) for detail in error.errors(include_url=False)])


class _FieldError(ValueError):
    """A check across several fields that still blames one of them."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def _describe(detail: ErrorDetails) -> str:
    cause = detail.get("ctx", {}).get("error")
    field = None
    if isinstance(cause, _FieldError):
        field = cause.field
    elif detail["loc"]:
        field = str(detail["loc"][0])
    # pydantic prefixes a validator's own message with "Value error, ": ours say enough
    message = str(cause) if isinstance(cause, ValueError) else detail["msg"]
    return f"{ENV_PREFIX}{field.upper()}: {message}" if field else message


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, env_file=".env", extra="ignore")

    data_dir: Path = Path("./data")
    database_url: str = ""
    redis_url: str | None = None
    secret_key: str | None = None

    # No overflow by default: SQLAlchemy closes an overflow connection when it is checked
    # in while the pool is full, which under steady load is every few requests, so a
    # process kept opening new PostgreSQL sessions (250 in a 10 s vote benchmark against
    # 33 with a fixed pool of the same maximum; bench/RESULTS.md, 2026-11-30).
    db_pool_size: int = Field(default=30, ge=1)
    db_max_overflow: int = Field(default=0, ge=0)
    db_pool_timeout: float = Field(default=30.0, gt=0)
    db_pool_pre_ping: bool = False  # see README: one 503 per process after a database restart
    db_pool_recycle: int = Field(default=1800, description="seconds; -1 disables")
    db_connect_retry_max_delay: float = Field(default=30.0, gt=0)
    # PostgreSQL only (quorum/db/engine.py); 0 disables. A lock wait counts as statement time.
    db_statement_timeout_seconds: float = Field(
        default=30.0, ge=0, description="longest statement before PostgreSQL cancels it"
    )
    db_idle_in_transaction_timeout_seconds: float = Field(
        default=60.0, ge=0, description="longest pause inside a transaction before it is ended"
    )

    access_token_ttl_seconds: int = Field(default=3600, ge=60)
    argon2_time_cost: int = Field(default=3, ge=1)
    argon2_memory_cost_kib: int = Field(default=65536, ge=8)
    argon2_parallelism: int = Field(default=4, ge=1)

    sse_retry_ms: int = Field(
        default=3000, ge=100, description="least reconnect delay sent to SSE clients (jittered)"
    )
    heartbeat_interval_seconds: float = Field(default=15.0, gt=0)
    stream_queue_limit: int = Field(
        default=1000, ge=1, description="messages queued per connection"
    )
    log_poll_interval_seconds: float = Field(
        default=0.5, gt=0, description="how often active topics are caught up from the log"
    )
    log_retention_count: int | None = Field(
        default=100_000, ge=1, description="entries kept per event"
    )
    log_retention_seconds: int | None = Field(default=None, ge=60, description="max entry age")
    maintenance_interval_seconds: float = Field(default=300.0, gt=0)
    deadline_sweep_seconds: float = Field(
        default=1.0, gt=0, description="how often due events are closed (their closes_at)"
    )

    # Background jobs (quorum/jobs): in-process without Redis, `quorum worker`s with it.
    job_max_attempts: int = Field(default=3, ge=1, description="runs before a job fails")
    job_redeliver_seconds: float = Field(
        default=60.0, gt=0, description="a running job silent this long is run again"
    )
    job_resend_seconds: float = Field(
        default=10.0, gt=0, description="a queued job not taken this long is sent again"
    )
    job_sweep_seconds: float = Field(default=2.0, gt=0, description="how often jobs are swept")
    job_drain_seconds: float = Field(
        default=30.0, ge=0, description="on SIGTERM, how long a worker lets its jobs finish"
    )
    job_stream: str = Field(
        default="quorum:jobs", description="the Redis stream of jobs (one per deployment)"
    )
    report_page_size: int = Field(default=200, ge=1, description="rows read at once")
    job_step_delay_seconds: float = Field(
        default=0.0, ge=0, description="pause after each page of a job (tests, demos)"
    )

    gc_tuning: bool = True  # quorum/gctuning.py: fewer, cheaper collections with many streams
    log_format: Literal["auto", "json", "console"] = "auto"  # auto: JSON unless on a terminal
    log_level: str = "INFO"
    access_log: bool = True

    max_body_bytes: int = Field(default=1_048_576, ge=1024)
    # quorum/headerlimit.py: request line and headers in all, and one line of them
    max_header_bytes: int = Field(default=65_536, ge=1024)
    max_header_line_bytes: int = Field(default=16_384, ge=256)
    idempotency_ttl_seconds: int = Field(default=24 * 3600, ge=60)

    # Blob store and attachments (quorum/storage, quorum/attachments; docs/operations.md)
    storage_url: str | None = Field(
        default=None, description="s3://bucket/prefix; unset: the data dir's blobs/ directory"
    )
    storage_endpoint: str | None = None  # S3-compatible endpoint (MinIO, moto); unset: AWS
    storage_region: str = "us-east-1"
    storage_access_key_id: str | None = None
    storage_secret_access_key: str | None = None
    max_attachment_bytes: int = Field(default=50 * 1024 * 1024, ge=1024)
    max_event_attachment_bytes: int = Field(default=1024**3, ge=1024, description="per event")
    orphan_blob_minutes: float = Field(
        default=30.0, gt=0, description="an object with no row this old is swept"
    )

    auth_rate_limit: str = Field(
        default="20/minute", description="per client IP (and per username) on /auth; 'off'"
    )
    max_streams_per_user: int = Field(default=10, ge=1, description="per process, SSE + WS")
    # Sized for a reconnect storm (docs/realtime.md): every client of a restarted instance
    # comes back within seconds; past these, a clear 503 / close 1013 with a retry delay.
    max_streams: int = Field(default=20_000, ge=1, description="per process, SSE + WS")
    listen_backlog: int = Field(
        default=4096, ge=1, description="connections the kernel queues before accept()"
    )
    # Off: about 40 KB less per WebSocket and a lower p99 (issue 14); on for slow links.
    ws_per_message_deflate: bool = False
    # uvicorn's WebSocket protocol, named rather than left to its "auto" (which picks by
    # what is installed). websockets' sans-I/O one runs no task per connection, unlike the
    # legacy "websockets" (issue 14: docs/realtime.md has the figures).
    ws_implementation: Literal["websockets-sansio", "websockets"] = "websockets-sansio"
    cors_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="comma-separated; empty: no CORS at all"
    )
    forwarded_allow_ips: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="proxies whose X-Forwarded-For/-Proto are believed (addresses, networks, "
        "'*'); empty: none, the peer is the client",
    )

    @field_validator("secret_key")
    @classmethod
    def _check_secret(cls, value: str | None) -> str | None:
        if value is not None and (value.lower() in _PLACEHOLDER_SECRETS or len(value) < 32):
            raise ValueError("must be a random string of at least 32 characters")
        return value

    @field_validator("storage_url")
    @classmethod
    def _check_storage_url(cls, value: str | None) -> str | None:
        if value and not value.startswith("s3://"):
            raise ValueError("must be s3://bucket[/prefix] (unset: the data directory)")
        return value or None

    @field_validator("auth_rate_limit")
    @classmethod
    def _parse_rate_limit(cls, value: str) -> str:
        value = value.strip()
        if value.lower() != "off":
            limits.parse(value)  # ValueError names the bad notation
        return value

    @field_validator("cors_origins", "forwarded_allow_ips", mode="before")
    @classmethod
    def _split_list(cls, value: object) -> object:
        if isinstance(value, str):
            return [o.strip() for o in value.split(",") if o.strip()]
        return value

    @field_validator("forwarded_allow_ips")
    @classmethod
    def _check_proxies(cls, value: list[str]) -> list[str]:
        """uvicorn would take a typo for a host name and trust nobody, silently."""
        for entry in value:
            if entry != "*":
                try:
                    ipaddress.ip_network(entry)  # an address is a network of one
                except ValueError:
                    raise ValueError(f"not an IP address, network or '*': {entry!r}") from None
        return value

    @model_validator(mode="after")
    def _resolve_defaults(self) -> "Settings":
        if not self.database_url:
            self.database_url = f"sqlite+aiosqlite:///{self.data_dir / 'quorum.db'}"
        if self.secret_key is None and not self.is_sqlite:
            raise _FieldError("secret_key", "required when the database is not SQLite")
        return self

    @property
    def db_url(self) -> str:
        return self.database_url

    @property
    def is_sqlite(self) -> bool:
        return self.db_url.startswith("sqlite")

    def signing_key(self) -> str:
        """The configured secret, or (embedded mode) one generated once and kept on disk."""
        if self.secret_key is not None:
            return self.secret_key
        path = self.data_dir / "secret_key"
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if not path.exists():
            # Written aside, then hard-linked: of several workers starting at once exactly
            # one link succeeds, and nobody can read a half-written key.
            tmp = path.with_name(f".secret_key.{os.getpid()}")
            tmp.write_text(secrets.token_urlsafe(48))
            tmp.chmod(0o600)
            with contextlib.suppress(FileExistsError):
                os.link(tmp, path)
            tmp.unlink()
        self.secret_key = path.read_text().strip()
        return self.secret_key


@lru_cache
def get_settings() -> Settings:
    """The settings of this process; ``InvalidSettings`` if any is wrong."""
    try:
        return Settings()
    except ValidationError as exc:
        raise InvalidSettings.from_validation_error(exc) from None
