"""EXPLAIN (ANALYZE, BUFFERS) of the similar-proposals query, exactly as the app sends it.

Makes a database of its own (DATABASE below; dropped and recreated, migrated with
``alembic upgrade head``) with titles worth searching: bench/votes/seed.py names every
proposal "Proposal N", which would make every title similar to every other. Here one hot
event holds 5,000 proposals and 2,000 other events 5 each (15,000 in all), titled with 3
to 7 words drawn from an English and a Korean vocabulary, some of them decided or
deleted. The app's own ``repository.similar_proposals`` runs for a draft on the hot
event and on a small one; its first statement (the search; the others load authors) is
replayed as ``EXPLAIN (ANALYZE, BUFFERS)``, and as the generic plan a prepared statement
would switch to without the ``plan_cache_mode`` the repository sets.

    uv run python bench/queries/similar.py > bench/out/similar.md
"""

import asyncio
import os
import random
import subprocess
import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
from sqlalchemy import event

from quorum.db.base import uuid7
from quorum.db.engine import create_engine, create_sessionmaker
from quorum.decisions import repository as repo
from quorum.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
PG = os.environ.get("BENCH_PG", "postgresql://postgres@127.0.0.1:5432")
DATABASE = "quorum_explain_similar"
ENGLISH = (
    "move weekly meeting friday afternoon budget increase office coffee machine remote work "
    "policy hire two engineers quarterly review travel expenses training laptop upgrade "
    "security audit customer support hours release schedule monthly newsletter team lunch "
    "parking spaces standing desks holiday calendar onboarding guide code review rules "
    "design system dark mode mobile app pricing page free trial annual plan discount "
    "partner program conference booth blog posts documentation translation korean english"
).split()
KOREAN = (
    "회의 시간 변경 오후 예산 증액 요청 점심 메뉴 투표 재택 근무 정책 신규 채용 분기 검토 "
    "출장비 교육 노트북 교체 보안 점검 고객 지원 시간 출시 일정 월간 소식지 팀 주차 공간 "
    "휴가 달력 온보딩 안내 코드 리뷰 규칙 디자인 모바일 앱 가격 무료 체험 할인 협력사 행사"
).split()
STATUSES = ["PENDING"] * 7 + ["ACCEPTED", "REJECTED", "DELETED"]


def title(rng: random.Random) -> str:
    words = KOREAN if rng.random() < 0.5 else ENGLISH
    return " ".join(rng.sample(words, rng.randint(3, 7))).capitalize()


async def recreate() -> None:
    admin = await asyncpg.connect(f"{PG}/postgres")
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')
        await admin.execute(f'CREATE DATABASE "{DATABASE}"')
    finally:
        await admin.close()


def migrate() -> None:
    url = PG.replace("postgresql://", "postgresql+asyncpg://", 1) + f"/{DATABASE}"
    subprocess.run(
        [sys.executable, "-m", "alembic", "-x", f"url={url}", "upgrade", "head"],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )


async def fill(rng: random.Random) -> tuple[uuid.UUID, uuid.UUID, list[str]]:
    now = datetime.now(UTC)
    user = uuid7()
    events = [uuid7() for _ in range(2001)]
    hot, small = events[0], events[1]
    proposals, hot_titles = [], []
    for e in events:
        for _ in range(5000 if e == hot else 5):
            t = title(rng)
            status = rng.choice(STATUSES)
            proposals.append((uuid7(), e, "CONCLUSION", t, "", user, status, 0, now))
            if e == hot:
                hot_titles.append(t)
    conn = await asyncpg.connect(f"{PG}/{DATABASE}")
    try:
        async with conn.transaction():
            await conn.copy_records_to_table(
                "users",
                records=[(user, "a@example.com", "A", "!", now)],
                columns=["id", "email", "display_name", "password_hash", "created_at"],
            )
            await conn.copy_records_to_table(
                "events",
                records=[(e, f"Event {i}", "", user, "OPEN", now, 0) for i, e in enumerate(events)],
                columns=[
                    "id", "title", "description", "organizer_id", "status", "created_at",
                    "last_seq",
                ],
            )  # fmt: skip
            await conn.copy_records_to_table(
                "proposals",
                records=proposals,
                columns=[
                    "id", "event_id", "kind", "title", "body", "author_id", "status",
                    "vote_count", "created_at",
                ],
            )  # fmt: skip
        await conn.execute("VACUUM ANALYZE")
    finally:
        await conn.close()
    return hot, small, hot_titles


async def explain(cases: list[tuple[str, uuid.UUID, str]]) -> str:
    settings = Settings(
        database_url=f"{PG.replace('postgresql://', 'postgresql+asyncpg://', 1)}/{DATABASE}",
        secret_key="explain-" + "x" * 32,
    )
    engine = create_engine(settings)
    recorded: list[tuple[str, Any]] = []

    @event.listens_for(engine.sync_engine, "before_cursor_execute")
    def _record(conn: Any, cursor: Any, sql: str, params: Any, context: Any, many: bool) -> None:
        recorded.append((sql, params))

    raw = await asyncpg.connect(f"{PG}/{DATABASE}")
    out: list[str] = []
    try:
        for label, event_id, draft in cases:
            recorded.clear()
            async with create_sessionmaker(engine)() as session:
                found = await repo.similar_proposals(session, event_id, draft, 5)
            sql, params = next((s, p) for s, p in recorded if s.lstrip().startswith("SELECT"))
            plan = await raw.fetch(f"EXPLAIN (ANALYZE, BUFFERS) {sql}", *params)
            await raw.execute(f"PREPARE generic_q AS {sql}")
            async with raw.transaction():
                await raw.execute("SET LOCAL plan_cache_mode = force_generic_plan")
                args = ", ".join("'" + str(p).replace("'", "''") + "'" for p in params)
                generic = await raw.fetch(f"EXPLAIN EXECUTE generic_q({args})")
            await raw.execute("DEALLOCATE generic_q")
            out += [f"### {label}", "", f"draft: `{draft}`; found: "]
            out += [f"- {p.title} ({p.status}, {score:.3f})" for p, score in found]
            out += ["", f"`{sql}`", "", f"parameters: `{[str(p) for p in params]}`", ""]
            out += ["```", *(r[0] for r in plan), "```", "", "Generic plan:", "", "```"]
            out += [*(r[0] for r in generic), "```", ""]
    finally:
        await raw.close()
        await engine.dispose()
    return "\n".join(out)


def main() -> None:
    rng = random.Random(10)
    asyncio.run(recreate())
    migrate()
    hot, small, hot_titles = asyncio.run(fill(rng))
    english = next(t for t in hot_titles if t.isascii())
    korean = next(t for t in hot_titles if not t.isascii())
    cases = [
        ("Hot event (5,000 proposals), an English draft", hot, english.lower() + "s"),
        ("Hot event, a Korean draft", hot, korean.rsplit(" ", 1)[0]),
        ("Hot event, a one-word draft", hot, "budget"),
        ("A small event (5 proposals)", small, english),
    ]
    print(asyncio.run(explain(cases)))


if __name__ == "__main__":
    main()
