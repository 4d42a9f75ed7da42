"""pg_trgm's trigrams and similarity in Python (SQLite's ``similarity``), and the FTS5
query that finds the candidates: the values pg_trgm gives (tests/test_similar_proposals.py
checks them against PostgreSQL itself)."""

from quorum.db.trigrams import match_expression, similarity, trigrams


def test_words_are_padded_lowercased_and_split_on_anything_but_letters_and_digits() -> None:
    assert trigrams("Ab, c_d") == {"  a", " ab", "ab ", "  c", " c ", "  d", " d "}
    assert trigrams("예산") == {"  예", " 예산", "예산 "}
    assert trigrams("?! ...") == frozenset()


def test_similarity_is_the_share_of_distinct_trigrams_in_common() -> None:
    assert similarity("Budget Increase", "budget increase!") == 1
    assert similarity("회의 시간 변경", "회의 시간을 변경하자") == 0.5  # pg_trgm: 0.5
    assert similarity("예산", "예산 증액") == 0.5
    assert similarity("예산", "점심 메뉴") == 0
    assert similarity("!!", "!!") == 0  # no trigram on either side: 0, as pg_trgm
    assert similarity(None, "a") == 0  # a NULL title in SQL


def test_the_fts_query_ors_every_trigram_and_is_none_without_any() -> None:
    assert match_expression("예산") == '"  예" OR " 예산" OR "예산 "'
    assert match_expression("“?”") is None
