"""Text that every backend can store.

PostgreSQL refuses the NUL character in text columns and parameters (SQLite stores it),
so a request string holding one would be a 500 on one backend and saved on the other.
It is refused at the edge instead: a 422 naming the field, on both.
"""

from pydantic import AfterValidator


def _refuse_nul(value: str) -> str:
    if "\x00" in value:
        raise ValueError("must not contain the NUL character (\\u0000)")
    return value


NoNul = AfterValidator(_refuse_nul)
