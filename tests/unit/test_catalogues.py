"""The page's two catalogues (quorum/web/static/i18n/) hold the same keys, and every key
the page's code names literally is in them: a string missing in Korean would show its key."""

import re
from pathlib import Path

from quorum.web.page import STATIC_DIR

KEY = re.compile(r'^\s*"([\w.]+)":', re.M)
USED = re.compile(r'\bt\("([\w.]+)"')


def keys(language: str) -> set[str]:
    return set(KEY.findall((STATIC_DIR / "i18n" / f"{language}.js").read_text()))


def test_english_and_korean_have_the_same_keys() -> None:
    english, korean = keys("en"), keys("ko")
    assert len(english) > 100
    assert english - korean == set()
    assert korean - english == set()


def test_every_literal_key_the_page_uses_is_translated() -> None:
    used = {
        key
        for path in Path(STATIC_DIR / "js").glob("*.js")
        for key in USED.findall(path.read_text())
    }
    assert "board.leave" in used
    assert used - keys("en") == set()
