"""The trigram index behind similar proposals, and what the schema comparison skips.

PostgreSQL: the pg_trgm extension and a GIN index on ``proposals.title``
(``gin_trgm_ops``), which serves ``title % :q`` (similarity above pg_trgm's threshold).

SQLite: an FTS5 table with the trigram tokenizer (SQLite >= 3.34), kept in step with
``proposals`` by triggers. It indexes each title in pg_trgm's padded form (every
character that is not a letter or digit a space, each word between spaces: "  예산
  증액 "), so that the trigrams pg_trgm takes from a query ("  예", " 예산", "예산 ") are
substrings it can find, short words included; ``match_expression`` ORs them. FTS5 rows
are numbered by ``proposal_search`` (an INTEGER PRIMARY KEY, stable across VACUUM,
unlike the rowid of ``proposals``) so that a trigger finds a proposal's row by its id.
The scoring itself is pg_trgm's formula on both (quorum/db/trigrams.py).

None of these objects is a model: the migration "proposal_search" creates them, per
backend. ``compared`` keeps them out of the models-versus-migrations comparison
(quorum/migrations/env.py and tests/test_migrations.py); that test checks instead that
they exist at head.
"""

from sqlalchemy import Integer, Text, Uuid, column, table

from quorum.decisions.models import ProposalStatus

# Titles a draft is compared with: decided ones too (the status is in each item, and a
# rejected twin is worth knowing of), but not what its author withdrew or someone deleted.
SIMILAR_STATUSES = (ProposalStatus.PENDING, ProposalStatus.ACCEPTED, ProposalStatus.REJECTED)
# pg_trgm's default for ``%`` (pg_trgm.similarity_threshold); SQLite uses the same.
THRESHOLD = 0.3
MAX_RESULTS = 20
DEFAULT_RESULTS = 5

PG_TITLE_INDEX = "ix_proposals_title_trgm"
SQLITE_KEYS = "proposal_search"
SQLITE_FTS = "proposal_search_fts"  # FTS5 adds its shadow tables, proposal_search_fts_*
SQLITE_TRIGGERS = ("proposal_search_insert", "proposal_search_update", "proposal_search_delete")

keys = table(SQLITE_KEYS, column("id", Integer), column("proposal_id", Uuid))
fts = table(SQLITE_FTS, column("rowid", Integer), column("words", Text))


def is_search_object(name: str | None) -> bool:
    """Whether ``name`` is one of the objects above (an FTS5 shadow table included)."""
    if name is None:
        return False
    return name in (PG_TITLE_INDEX, SQLITE_KEYS) or name.startswith(SQLITE_FTS)
