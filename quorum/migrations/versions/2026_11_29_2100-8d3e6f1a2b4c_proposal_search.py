"""Trigram search of proposal titles, for similar proposals (quorum/decisions/search.py).

PostgreSQL: the pg_trgm extension (a trusted extension since PostgreSQL 13: the
database's owner, or any role with CREATE on it, may install it; before 13 it takes a
superuser) and a GIN trigram index on ``proposals.title``. The downgrade drops the index
and leaves the extension, which other schemas of the database may use.

SQLite: an FTS5 trigram table of the titles in pg_trgm's padded form, numbered by
``proposal_search``, and the triggers that keep it in step with every INSERT, title
UPDATE and DELETE of ``proposals``. A later migration that rebuilds ``proposals`` on
SQLite (Alembic's batch mode copies it into a new table) drops these triggers with the
old table: it must create them again (``create_sqlite_triggers``);
tests/test_migrations.py checks that they exist at head.

Revision ID: 8d3e6f1a2b4c
Revises: 3b1f5a9c2d7e
Create Date: 2026-11-29 21:00:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "8d3e6f1a2b4c"
down_revision: str | None = "3b1f5a9c2d7e"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# What pg_trgm takes for word boundaries and FTS5 would otherwise keep inside a trigram:
# whitespace and the punctuation common in Korean and English titles. Each becomes a
# space. A symbol not listed stays: it hides only the padded trigrams of the word next to
# it from the candidate search, never from the score. (SQLite's parser takes about 28
# nested replace() calls, no more.)
_SEPARATORS = "\t\n\r!\"%'(),-./:;?·…“”‘’「」、。"  # noqa: RUF001


def _padded(title: str) -> str:
    """SQL for pg_trgm's view of ``title``: separators as spaces, and every space made
    three, so that each word has two spaces before it and one after."""
    expression = title
    for char in _SEPARATORS:
        literal = char.replace("'", "''")
        expression = f"replace({expression}, '{literal}', ' ')"
    return f"'  ' || replace({expression}, ' ', '   ') || ' '"


def create_sqlite_triggers() -> None:
    """The triggers, their SQL built from the constants above only."""
    row = "(SELECT id FROM proposal_search WHERE proposal_id = {}.id)"
    new_row, old_row = row.format("NEW"), row.format("OLD")
    new_words = _padded("NEW.title")
    insert = (
        "INSERT INTO proposal_search (proposal_id) VALUES (NEW.id); "  # noqa: S608
        f"INSERT INTO proposal_search_fts (rowid, words) VALUES ({new_row}, {new_words});"
    )
    update = f"UPDATE proposal_search_fts SET words = {new_words} WHERE rowid = {new_row};"  # noqa: S608
    delete = (
        f"DELETE FROM proposal_search_fts WHERE rowid = {old_row}; "  # noqa: S608
        "DELETE FROM proposal_search WHERE proposal_id = OLD.id;"
    )
    for name, when, body in (
        ("proposal_search_insert", "AFTER INSERT ON proposals", insert),
        ("proposal_search_update", "AFTER UPDATE OF title ON proposals", update),
        ("proposal_search_delete", "AFTER DELETE ON proposals", delete),
    ):
        condition = " WHEN OLD.title IS NOT NEW.title" if "UPDATE" in when else ""
        op.execute(f"CREATE TRIGGER {name} {when}{condition} BEGIN {body} END")


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        op.execute(
            "CREATE INDEX ix_proposals_title_trgm ON proposals USING gin (title gin_trgm_ops)"
        )
        return
    op.execute(
        "CREATE TABLE proposal_search ("
        "id INTEGER PRIMARY KEY, proposal_id CHAR(32) NOT NULL UNIQUE)"
    )
    op.execute("CREATE VIRTUAL TABLE proposal_search_fts USING fts5(words, tokenize='trigram')")
    op.execute("INSERT INTO proposal_search (proposal_id) SELECT id FROM proposals ORDER BY id")
    op.execute(
        "INSERT INTO proposal_search_fts (rowid, words) "  # noqa: S608
        f"SELECT s.id, {_padded('p.title')} FROM proposal_search s "
        "JOIN proposals p ON p.id = s.proposal_id"
    )
    create_sqlite_triggers()


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX ix_proposals_title_trgm")
        return
    for trigger in ("proposal_search_insert", "proposal_search_update", "proposal_search_delete"):
        op.execute(f"DROP TRIGGER {trigger}")
    op.execute("DROP TABLE proposal_search_fts")
    op.execute("DROP TABLE proposal_search")
