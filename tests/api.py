"""A thin client for the Quorum API, to keep tests about behaviour rather than plumbing."""

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import httpx

PASSWORD = "correct horse battery"


@dataclass
class User:
    id: str
    email: str
    token: str

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


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
        return User(r.json()["id"], email, t.json()["access_token"])

    async def event(
        self, owner: User, *, threshold: int | None = None, members: Sequence[User] = ()
    ) -> str:
        r = await self.client.post(
            "/api/v1/events",
            json={"title": "An event", "vote_threshold": threshold},
            headers=owner.auth,
        )
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
