"""``covers``: can the log alone bring a client at position ``n`` up to date? Every
boundary: below the first retained entry minus one (no), at it (yes), up to the last
entry (yes), beyond it (no); and an empty log, which covers only position 0."""

import pytest

from quorum.realtime.log import covers


@pytest.mark.parametrize(
    ("resume_from", "bounds", "covered"),
    [
        (0, None, True),  # nothing written, nothing missed
        (1, None, False),  # a position the log never had: a snapshot
        (0, (1, 10), True),  # the whole log, from its first entry
        (1, (1, 10), True),
        (9, (1, 10), True),
        (10, (1, 10), True),  # up to date
        (11, (1, 10), False),  # ahead of anything written
        (3, (5, 10), False),  # 4 is gone: the log cannot bring this client up to date
        (4, (5, 10), True),  # first - 1: every entry after it is retained
        (5, (5, 10), True),
        (0, (5, 10), False),
        (9, (10, 10), True),  # only the newest entry retained
        (10, (10, 10), True),
        (8, (10, 10), False),
        (11, (10, 10), False),
    ],
)
def test_covered(resume_from: int, bounds: tuple[int, int] | None, covered: bool) -> None:
    assert covers(bounds, resume_from) is covered
