"""Similar proposals: while a member writes a proposal, the event's proposals with a
similar title, best first, so that people vote for what exists instead of splitting the
votes. pg_trgm's similarity on both backends (PostgreSQL: its GIN index; SQLite: an FTS5
trigram table kept by triggers and the same formula in Python): the same items and the
same numbers, in English and in Korean."""

from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from quorum.db import trigrams
from tests.api import Api, User, problem
from tests.services import Backend

NEAR_DUPLICATE = "Move the weekly meeting to Friday afternoon"
RELATED = "Weekly meeting on Friday"
UNRELATED = "Buy a new coffee machine"


def _url(event: str) -> str:
    return f"/api/v1/events/{event}/proposals/similar"


async def similar(api: Api, user: User, event: str, q: str, **params: Any) -> list[dict[str, Any]]:
    r = await api.client.get(_url(event), params={"q": q, **params}, headers=user.auth)
    assert r.status_code == 200, r.text
    items: list[dict[str, Any]] = r.json()["items"]
    return items


def titles(items: list[dict[str, Any]]) -> list[str]:
    return [item["title"] for item in items]


async def test_the_near_duplicate_comes_first_as_a_full_proposal(api: Api) -> None:
    owner, member = await api.user("owner"), await api.user("member")
    event = await api.event(owner, members=[member])
    ids = {t: await api.proposal(owner, event, title=t) for t in (UNRELATED, RELATED)}
    ids[NEAR_DUPLICATE] = await api.proposal(owner, event, title=NEAR_DUPLICATE)

    items = await similar(api, member, event, "move weekly meeting to Friday afternoons")
    assert titles(items) == [NEAR_DUPLICATE, RELATED]
    best, second = items
    assert 0.3 <= second["similarity"] < best["similarity"] <= 1
    # The normal proposal object, plus its similarity.
    detail = await api.get_proposal(member, event, ids[NEAR_DUPLICATE])
    detail.pop("latest_comments")
    assert {k: v for k, v in best.items() if k != "similarity"} == detail

    assert (await similar(api, member, event, NEAR_DUPLICATE))[0]["similarity"] == 1
    assert titles(await similar(api, member, event, "friday meeting")) == [RELATED, NEAR_DUPLICATE]
    assert titles(await similar(api, member, event, "friday meeting", limit=1)) == [RELATED]
    assert await similar(api, member, event, "quarterly budget review") == []


async def test_only_the_events_own_proposals_that_still_stand(api: Api) -> None:
    owner = await api.user("owner")
    event, other = await api.event(owner), await api.event(owner)
    await api.proposal(owner, other, title=NEAR_DUPLICATE)
    statuses = {"PENDING": None, "ACCEPTED": "ACCEPTED", "REJECTED": "REJECTED"}
    statuses |= {"DELETED": "DELETED", "WITHDRAWN": "WITHDRAWN"}
    for label, status in statuses.items():
        proposal = await api.proposal(owner, event, title=f"{NEAR_DUPLICATE} ({label})")
        if status is not None:
            r = await api.client.patch(
                f"/api/v1/events/{event}/proposals/{proposal}",
                json={"status": status},
                headers=owner.auth,
            )
            assert r.status_code == 200, r.text

    items = await similar(api, owner, event, NEAR_DUPLICATE, limit=20)
    # Decided ones are shown with their status; deleted and withdrawn ones never.
    assert sorted(item["status"] for item in items) == ["ACCEPTED", "PENDING", "REJECTED"]
    assert {item["event_id"] for item in items} == {event}


async def test_an_edited_title_is_found_by_its_new_words(api: Api) -> None:
    owner = await api.user("owner")
    event = await api.event(owner)
    proposal = await api.proposal(owner, event, title="Paint the office green")
    r = await api.client.patch(
        f"/api/v1/events/{event}/proposals/{proposal}",
        json={"title": "Install standing desks everywhere"},
        headers=owner.auth,
    )
    assert r.status_code == 200, r.text

    assert titles(await similar(api, owner, event, "standing desks")) == [
        "Install standing desks everywhere"
    ]
    assert await similar(api, owner, event, "paint the office green") == []


async def test_korean_titles_short_words_included(api: Api) -> None:
    owner = await api.user("owner")
    event = await api.event(owner)
    for title in ("회의 시간을 오후 3시로 변경하자", "예산 증액 요청", "점심 메뉴 투표"):
        await api.proposal(owner, event, title=title)

    # Particles change a word's end, not its start: "시간" still shares "  시", " 시간".
    items = await similar(api, owner, event, "회의 시간 변경")
    assert titles(items) == ["회의 시간을 오후 3시로 변경하자"]
    assert items[0]["similarity"] == 0.333  # 7 shared trigrams of 21, on both backends
    # A two-syllable word is a query too: pg_trgm pads it ("  예", " 예산", "예산 ").
    assert titles(await similar(api, owner, event, "예산")) == ["예산 증액 요청"]
    assert titles(await similar(api, owner, event, "“점심” 메뉴?")) == ["점심 메뉴 투표"]


async def test_members_only_and_a_clear_422_for_a_bad_q(api: Api) -> None:
    owner, stranger = await api.user("owner"), await api.user("stranger")
    event = await api.event(owner)
    await api.proposal(owner, event, title=NEAR_DUPLICATE)

    problem(await api.client.get(_url(event), params={"q": "meeting"}), 401, "not_authenticated")
    r = await api.client.get(_url(event), params={"q": "meeting"}, headers=stranger.auth)
    problem(r, 403, "not_a_member")
    for params in (
        {},  # q is required
        {"q": ""},
        {"q": "   "},  # blank once trimmed
        {"q": "x" * 201},
        {"q": "a\x00b"},
        {"q": "meeting", "limit": "21"},
        {"q": "meeting", "limit": "0"},
    ):
        r = await api.client.get(_url(event), params=params, headers=owner.auth)
        body = problem(r, 422, "validation_error")
        assert body["errors"][0]["loc"][0] == "query", body
    # No letter or digit: nothing to compare, so nothing is similar (not an error).
    assert await similar(api, owner, event, "?!") == []
    assert titles(await similar(api, owner, event, "  weekly meeting  ")) == [NEAR_DUPLICATE]
    assert titles(await similar(api, owner, event, "meeting", limit=1)) == []  # under 0.3


async def test_hidden_tallies_stay_hidden_from_members(api: Api) -> None:
    owner, member = await api.user("owner"), await api.user("member")
    event = await api.event(owner, members=[member], hidden_tallies=True)
    await api.proposal(owner, event, title=NEAR_DUPLICATE)
    [seen_by_member] = await similar(api, member, event, NEAR_DUPLICATE)
    [seen_by_owner] = await similar(api, owner, event, NEAR_DUPLICATE)
    assert (seen_by_member["vote_count"], seen_by_member["tally_hidden"]) == (None, True)
    assert seen_by_owner["vote_count"] == 0


PAIRS = [
    ("회의 시간 변경", "회의 시간을 변경하자"),
    ("Budget Increase", "budget increase!"),
    ("Café, déjà-vu", "cafe deja vu"),
    ("2027년 예산(안) 검토", "예산안 검토 2027"),
    ("a", "a b c"),
    ("!!", "!!"),
]


async def test_the_python_similarity_is_pg_trgms(backend: Backend) -> None:
    """SQLite ranks with quorum.db.trigrams.similarity: the numbers PostgreSQL gives."""
    if backend.name != "postgresql":
        pytest.skip("compares with PostgreSQL's pg_trgm")
    engine = create_async_engine(backend.url, poolclass=NullPool)
    try:
        async with engine.connect() as connection:
            for a, b in PAIRS:
                row = await connection.execute(text("SELECT similarity(:a, :b)"), {"a": a, "b": b})
                assert trigrams.similarity(a, b) == pytest.approx(row.scalar_one(), abs=1e-6)
    finally:
        await engine.dispose()


async def test_sqlite_search_rows_follow_the_proposals(api: Api, backend: Backend) -> None:
    """The triggers keep one search row per proposal, through inserts and the deletion
    of a whole event (its proposals are deleted as rows)."""
    if backend.name != "sqlite":
        pytest.skip("SQLite's FTS5 table")
    owner = await api.user("owner")
    event = await api.event(owner)
    for title in (NEAR_DUPLICATE, RELATED, UNRELATED):
        await api.proposal(owner, event, title=title)
    r = await api.client.delete(f"/api/v1/events/{event}", headers=owner.auth)
    assert r.status_code == 204, r.text

    engine = create_async_engine(backend.url, poolclass=NullPool)
    try:
        async with engine.connect() as connection:
            counts = [
                (await connection.execute(text(f"SELECT count(*) FROM {table}"))).scalar_one()  # noqa: S608
                for table in ("proposals", "proposal_search", "proposal_search_fts")
            ]
    finally:
        await engine.dispose()
    assert counts[0] == counts[1] == counts[2]
