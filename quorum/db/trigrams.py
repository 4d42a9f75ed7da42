"""Trigram similarity as PostgreSQL's pg_trgm computes it, for SQLite.

pg_trgm lowercases the text, splits it into words (runs of letters and digits: Hangul
syllables are letters), pads each word with two spaces in front and one behind, and
takes every three consecutive characters: "예산" gives "  예", " 예산", "예산 ". The
similarity of two texts is the share of their distinct trigrams they have in common
(shared / all), from 0 to 1. The padding is what lets a one- or two-character word
count: Korean words are often two syllables long.

SQLite gets the same numbers from ``similarity`` registered as an SQL function on each
connection (quorum/db/engine.py), and the same candidates from an FTS5 trigram table
that indexes the padded words (``match_expression``).
"""

import re

# \w without the underscore: the letters and digits of every script, as pg_trgm's words.
_WORD = re.compile(r"[^\W_]+")


def trigrams(text: str) -> frozenset[str]:
    """The distinct trigrams of ``text``, as pg_trgm's ``show_trgm`` lists them."""
    found: set[str] = set()
    for word in _WORD.findall(text.lower()):
        padded = f"  {word} "
        found.update(padded[i : i + 3] for i in range(len(padded) - 2))
    return frozenset(found)


def similarity(a: object, b: object) -> float:
    """pg_trgm's ``similarity(a, b)``; 0 when either has no letter or digit (or is NULL)."""
    if not isinstance(a, str) or not isinstance(b, str):
        return 0.0
    ta, tb = trigrams(a), trigrams(b)
    if not ta or not tb:
        return 0.0
    shared = len(ta & tb)
    return shared / (len(ta) + len(tb) - shared)


def match_expression(text: str) -> str | None:
    """An FTS5 query matching the rows that share at least one trigram with ``text``
    (each trigram a quoted phrase, ORed), or None if ``text`` has none. A trigram holds
    only letters, digits and spaces, so it needs no escaping inside the quotes."""
    found = trigrams(text)
    return " OR ".join(f'"{t}"' for t in sorted(found)) if found else None
