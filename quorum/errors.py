"""Errors that services raise, each with a stable ``code``.

They know nothing of HTTP: ``quorum.api.errors`` maps each kind to a status. A
subclass per kind keeps call sites short: ``raise Conflict("already_voted", "...")``.
"""


class DomainError(Exception):
    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail


class InvalidInput(DomainError):
    """The request is well-formed but asks for something impossible."""


class Unauthenticated(DomainError):
    """No valid credentials."""


class PermissionDenied(DomainError):
    """Valid credentials, but not allowed to do this."""


class NotFound(DomainError):
    """The thing named does not exist (or is not visible)."""


class Conflict(DomainError):
    """The current state forbids the change."""


class Gone(DomainError):
    """The thing named existed but is no longer usable (an expired or revoked link)."""


class TooLarge(DomainError):
    """The content is over a size limit (an attachment, an event's quota)."""


class UnsupportedType(DomainError):
    """The content is of a kind that is not accepted."""


class Unavailable(DomainError):
    """A dependency (database, Redis) cannot be reached right now."""


class Overloaded(Unavailable):
    """This instance is at a capacity limit (open streams): a later try may succeed."""

    def __init__(self, code: str, detail: str, retry_after: int) -> None:
        super().__init__(code, detail)
        self.retry_after = retry_after


class TooManyRequests(DomainError):
    """A limit on how often or how much (logins, open streams) was reached."""

    def __init__(self, code: str, detail: str, retry_after: int | None = None) -> None:
        super().__init__(code, detail)
        self.retry_after = retry_after
