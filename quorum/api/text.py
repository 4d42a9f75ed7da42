"""Text that every backend can store, and that the OpenAPI describes truthfully.

PostgreSQL refuses the NUL character in text columns and parameters (SQLite stores it),
so a request string holding one would be a 500 on one backend and saved on the other.
It is refused at the edge instead: a 422 naming the field, on both.

Names, titles and comments are stored without surrounding whitespace and may not be
blank. Their length limit applies to the string as sent, before it is stripped, so
that the ``maxLength`` the OpenAPI shows is the one enforced (a limit checked after
stripping let 201 characters through where the schema says 200).
"""

from pydantic import AfterValidator

NONBLANK = r"\S"  # JSON Schema and pydantic patterns are unanchored: "has a non-space"


def _refuse_nul(value: str) -> str:
    if "\x00" in value:
        raise ValueError("must not contain the NUL character (\\u0000)")
    return value


def _strip(value: str) -> str:
    value = value.strip()
    if not value:
        raise ValueError("must not be blank")
    return value


NoNul = AfterValidator(_refuse_nul)
Stripped = AfterValidator(_strip)
