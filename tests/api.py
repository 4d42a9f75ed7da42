"""A thin client for the Quorum API, to keep tests about behaviour rather than plumbing."""

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import httpx

PASSWORD = "correct horse battery"
PROBLEM_JSON = "application/problem+json"
PROBLEM_FIELDS = {"type", "title", "status", "code", "detail"}


def problem(r: httpx.Response, status: int, code: str | None = None) -> dict[str, Any]:
    """Assert that ``r`` is an RFC 9457 problem with this status (and code); its body."""
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith(PROBLEM_JSON), r.headers
    body: dict[str, Any] = r.json()
    assert PROBLEM_FIELDS <= body.keys(), body
    assert body["status"] == status, body
    if code is not None:
        assert body["code"] == code, body
    return body


@dataclass
class User:
    id: str
    email: str
    token: str
    name: str = "user"

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    @property
    def person(self) -> dict[str, str]:
        """How the API names this user (``PersonOut``)."""
        return {"id": self.id, "display_name": self.name}


class Api:
    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client

    async def user(self, name: str = "user") -> User:
        email = f"{name}-{uuid.uuid4().hex[:12]}@example.com"
        r = await self.client.post(
            "/api/v1/auth/register",
            json={"email": email, "password": PASSWORD, "display_name": name},
        )
        assert r.status_code == 201, r.text
        t = await self.client.post(
            "/api/v1/auth/token", data={"username": email, "password": PASSWORD}
        )
        assert t.status_code == 200, t.text
        return User(r.json()["id"], email, t.json()["access_token"], name)

    async def event(
        self,
        owner: User,
        *,
        threshold: int | None = None,
        members: Sequence[User] = (),
        title: str = "An event",
        anonymous_votes: bool = False,
        hidden_tallies: bool = False,
    ) -> str:
        body = {"title": title, "vote_threshold": threshold}
        if anonymous_votes or hidden_tallies:
            body |= {"anonymous_votes": anonymous_votes, "hidden_tallies": hidden_tallies}
        r = await self.client.post("/api/v1/events", json=body, headers=owner.auth)
        assert r.status_code == 201, r.text
        event_id: str = r.json()["id"]
        for member in members:
            await self.join(owner, event_id, member)
        return event_id

    async def join(self, admin: User, event_id: str, member: User, role: str | None = None) -> str:
        r = await self.client.post(f"/api/v1/events/{event_id}/memberships", headers=member.auth)
        assert r.status_code == 201, r.text
        body: dict[str, Any] = {"status": "APPROVED"}
        if role:
            body["role"] = role
        d = await self.client.patch(
            f"/api/v1/events/{event_id}/memberships/{r.json()['id']}", json=body, headers=admin.auth
        )
        assert d.status_code == 200, d.text
        return str(r.json()["id"])

    async def proposal(
        self, author: User, event_id: str, kind: str = "CONCLUSION", title: str = "P"
    ) -> str:
        r = await self.client.post(
            f"/api/v1/events/{event_id}/proposals",
            json={"kind": kind, "title": title},
            headers=author.auth,
        )
        assert r.status_code == 201, r.text
        return str(r.json()["id"])

    async def get_proposal(self, user: User, event_id: str, proposal_id: str) -> dict[str, Any]:
        r = await self.client.get(
            f"/api/v1/events/{event_id}/proposals/{proposal_id}", headers=user.auth
        )
        assert r.status_code == 200, r.text
        data: dict[str, Any] = r.json()
        return data

    def vote_url(self, event_id: str, proposal_id: str) -> str:
        return f"/api/v1/events/{event_id}/proposals/{proposal_id}/votes"

    async def comment(self, author: User, event_id: str, proposal_id: str, body: str) -> str:
        r = await self.client.post(
            f"/api/v1/events/{event_id}/proposals/{proposal_id}/comments",
            json={"body": body},
            headers=author.auth,
        )
        assert r.status_code == 201, r.text
        return str(r.json()["id"])

    async def log(self, user: User, event_id: str) -> list[dict[str, Any]]:
        """The event's whole log as the user reads it, following ``next_after``."""
        entries: list[dict[str, Any]] = []
        after: int | None = 0
        while after is not None:
            r = await self.client.get(
                f"/api/v1/events/{event_id}/log", params={"after": after}, headers=user.auth
            )
            assert r.status_code == 200, r.text
            entries += r.json()["items"]
            after = r.json()["next_after"]
        return entries

    async def all_pages(
        self, user: User, url: str, limit: int, **params: str
    ) -> list[list[dict[str, Any]]]:
        """Every page of a list, following ``next_cursor`` until it is null."""
        pages: list[list[dict[str, Any]]] = []
        query: dict[str, str | int] = {**params, "limit": limit}
        while True:
            r = await self.client.get(url, params=query, headers=user.auth)
            assert r.status_code == 200, r.text
            page = r.json()
            pages.append(page["items"])
            if page["next_cursor"] is None:
                return pages
            assert len(page["items"]) == limit, page
            query["cursor"] = page["next_cursor"]
