"""The board stays right through cuts: Bob's browser loses the network while Ada votes
and the server restarts, and catches up without a reload, nothing lost or doubled; a
removed member's board says why its stream ended."""

import asyncio
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.async_api import Browser, expect

from tests.api import PASSWORD, Api, User
from tests.browser import Person, person
from tests.services import Backend, Server, start_server

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]


class Restartable:
    """A server that can be stopped and started again on the same address."""

    def __init__(self, backend: Backend, log_dir: Path, **env: str) -> None:
        # The browser reconnects after the stream's jittered ``retry:`` (3-6 s by default),
        # and again after it if the server was still down: a short one keeps these tests
        # about catching up, not about waiting (the assertions allow 5 s).
        env = {"QUORUM_SSE_RETRY_MS": "300", **env}
        self.backend, self.log_dir, self.env = backend, log_dir, env
        self.server: Server = start_server(backend, log_dir, **env)
        self.port = int(self.server.url.rsplit(":", 1)[1])

    @property
    def url(self) -> str:
        return self.server.url

    def restart(self) -> None:
        self.server.stop()
        self.server = start_server(self.backend, self.log_dir, port=self.port, **self.env)


@pytest.fixture
def restartable(backend: Backend, tmp_path: Path) -> Iterator[Restartable]:
    started = Restartable(backend, tmp_path)
    yield started
    started.server.stop()


@pytest.fixture
def forgetful(backend: Backend, tmp_path: Path) -> Iterator[Restartable]:
    """A server whose log keeps only the last 3 entries of an event, trimmed at once."""
    env = {"QUORUM_LOG_RETENTION_COUNT": "3", "QUORUM_MAINTENANCE_INTERVAL_SECONDS": "0.5"}
    started = Restartable(backend, tmp_path, **env)
    yield started
    started.server.stop()


async def bob_on_board(
    browser: Browser, url: str, api: Api, ada: User, event_id: str
) -> tuple[Person, User]:
    """Bob registers in his browser, Ada approves him through the API, his board is live."""
    bob = await person(browser, "Bob")
    await bob.register(url)
    r = await api.client.post(
        "/api/v1/auth/token", data={"username": bob.email, "password": PASSWORD}
    )
    token = r.json()["access_token"]
    me = await api.client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    bob_user = User(me.json()["id"], bob.email, token, "Bob")
    await api.join(ada, event_id, bob_user)
    await bob.page.goto(f"{url}/#/events/{event_id}")
    await bob.live()
    return bob, bob_user


async def vote(client: httpx.AsyncClient, api: Api, ada: User, event_id: str, pid: str) -> None:
    r = await client.post(api.vote_url(event_id, pid), headers=ada.auth)
    assert r.status_code == 201, r.text


async def test_catching_up_after_a_cut_and_a_restart(
    restartable: Restartable, browser: Browser
) -> None:
    async with httpx.AsyncClient(base_url=restartable.url, timeout=30) as client:
        api = Api(client)
        ada = await api.user("Ada")
        event_id = await api.event(ada, threshold=None, title="Cut")
        proposals = [await api.proposal(ada, event_id, title=f"Option {i}") for i in range(12)]
        bob, _ = await bob_on_board(browser, restartable.url, api, ada, event_id)
        await expect(bob.page.locator("li.card")).to_have_count(12)
        await bob.page.evaluate("window.sameDocument = true")  # gone if the page reloads

        # Offline keeps an open connection; the restart cuts it, and Bob cannot reconnect.
        await bob.context.set_offline(True)
    restartable.restart()
    await expect(bob.page.locator(".connection")).to_have_attribute("data-state", "reconnecting")
    async with httpx.AsyncClient(base_url=restartable.url, timeout=30) as client:
        api = Api(client)
        for proposal in proposals[:6]:
            await vote(client, api, ada, event_id, proposal)
    restartable.restart()  # and once more while Ada votes
    async with httpx.AsyncClient(base_url=restartable.url, timeout=30) as client:
        api = Api(client)
        for proposal in proposals[6:]:
            await vote(client, api, ada, event_id, proposal)
        for proposal in proposals[:5]:  # takes five back and gives three again: 20 changes
            r = await client.delete(api.vote_url(event_id, proposal) + "/me", headers=ada.auth)
            assert r.status_code == 204
        for proposal in proposals[:3]:
            await vote(client, api, ada, event_id, proposal)

    await bob.context.set_offline(False)
    await bob.live()
    expected = {p: 1 for p in proposals} | {p: 0 for p in proposals[3:5]}
    for proposal, count in expected.items():
        card = bob.page.locator(f'li.card[data-proposal="{proposal}"] .count')
        await expect(card).to_have_attribute("data-count", str(count))
    # Every one of the 20 changes reached the timeline, once.
    changes = bob.page.locator(".timeline li", has_text=re.compile("voted for|withdrew a vote"))
    await expect(changes).to_have_count(20)
    assert await bob.page.evaluate("window.sameDocument === true")

    # Opened afresh, the timeline shows the newest 20 entries, then the older ones on demand.
    await bob.page.reload()
    timeline = bob.page.locator(".timeline li")
    await expect(timeline).to_have_count(20)
    await expect(timeline.first).to_contain_text("voted for “Option 2”")
    await bob.page.get_by_role("button", name="Older activity").click()
    await expect(timeline).to_have_count(12 + 2 + 20)  # proposals, Bob's request and approval
    await expect(timeline.last).to_contain_text("Ada proposed “Option 0”")


async def test_a_removed_member_is_told_and_refused(
    restartable: Restartable, browser: Browser
) -> None:
    async with httpx.AsyncClient(base_url=restartable.url, timeout=30) as client:
        api = Api(client)
        ada = await api.user("Ada")
        event_id = await api.event(ada, threshold=3, title="Removal")
        proposal = await api.proposal(ada, event_id, title="Stay")
        bob, _ = await bob_on_board(browser, restartable.url, api, ada, event_id)
        await expect(bob.card("Stay")).to_be_visible()

        # Ada, at her board, makes Bob an admin, then removes him.
        ada_at = await person(browser, "Ada")
        ada_at.email = ada.email
        await ada_at.log_in(restartable.url)
        await ada_at.page.goto(f"{restartable.url}/#/events/{event_id}")
        await ada_at.live()
        await ada_at.page.get_by_label("Role of Bob").select_option("ADMIN")
        await expect(bob.page.locator(".board-header")).to_contain_text("admin")
        ada_at.page.on("dialog", lambda dialog: dialog.accept())
        await ada_at.page.get_by_role("button", name="Remove: Bob").click()
        await expect(ada_at.page.get_by_label("Role of Bob")).to_have_count(0)

    ended = bob.page.locator(".stream-ended")
    await expect(ended).to_have_attribute("data-reason", "removed")
    await expect(ended).to_contain_text("removed you from this event")
    await expect(bob.page.locator(".connection")).to_have_attribute("data-state", "ended")
    async with bob.page.expect_response(
        lambda r: r.url.endswith(f"/proposals/{proposal}/votes")
    ) as answer:
        await bob.card("Stay").get_by_role("button", name="Vote").click()
    assert (await answer.value).status == 403
    await expect(bob.card("Stay").get_by_role("alert")).to_contain_text("not_a_member")


async def test_a_board_too_far_behind_applies_the_snapshot(
    forgetful: Restartable, browser: Browser
) -> None:
    async with httpx.AsyncClient(base_url=forgetful.url, timeout=30) as client:
        api = Api(client)
        ada = await api.user("Ada")
        event_id = await api.event(ada, threshold=None, title="Forgetful")
        proposals = [await api.proposal(ada, event_id, title=f"Option {i}") for i in range(4)]
        bob, _ = await bob_on_board(browser, forgetful.url, api, ada, event_id)
        await bob.page.evaluate("window.sameDocument = true")
        event = await client.get(f"/api/v1/events/{event_id}", headers=ada.auth)
        seen = event.json()["last_seq"]  # where Bob's board stands
        await bob.context.set_offline(True)
    forgetful.restart()
    async with httpx.AsyncClient(base_url=forgetful.url, timeout=30) as client:
        api = Api(client)
        for proposal in proposals:
            await vote(client, api, ada, event_id, proposal)
        late = await api.proposal(ada, event_id, title="Late")
        await vote(client, api, ada, event_id, late)
        await asyncio.sleep(2)  # the maintenance loop trims the log past Bob's position
        log = await client.get(f"/api/v1/events/{event_id}/log?after=0", headers=ada.auth)
        assert log.json()["items"][0]["seq"] > seen + 1  # what Bob missed is gone

    await bob.context.set_offline(False)
    await bob.live()
    await expect(bob.card("Late")).to_be_visible()
    # The timeline read the log again: what it still holds is there.
    await expect(bob.page.locator(".timeline li").first).to_contain_text("Ada voted for “Late”")
    for proposal in [*proposals, late]:
        card = bob.page.locator(f'li.card[data-proposal="{proposal}"] .count')
        await expect(card).to_have_attribute("data-count", "1")
    assert await bob.page.evaluate("window.sameDocument === true")


async def test_a_member_leaves_from_the_board(restartable: Restartable, browser: Browser) -> None:
    async with httpx.AsyncClient(base_url=restartable.url, timeout=30) as client:
        api = Api(client)
        ada = await api.user("Ada")
        event_id = await api.event(ada, threshold=2, title="Leaving")
        bob, bob_user = await bob_on_board(browser, restartable.url, api, ada, event_id)
        bob.page.on("dialog", lambda dialog: dialog.accept())
        await bob.page.get_by_role("button", name="Leave this event").click()
        await expect(bob.page.get_by_role("heading", level=1)).to_have_text("My events")
        await expect(bob.page.get_by_text("You are not in any event yet")).to_be_visible()
        members = await client.get(f"/api/v1/events/{event_id}/members", headers=ada.auth)
        assert bob_user.id not in [m["user"]["id"] for m in members.json()["items"]]


async def test_hidden_tallies_show_when_the_event_closes(
    restartable: Restartable, browser: Browser
) -> None:
    async with httpx.AsyncClient(base_url=restartable.url, timeout=30) as client:
        api = Api(client)
        ada = await api.user("Ada")
        event_id = await api.event(ada, threshold=5, title="Secret", hidden_tallies=True)
        proposal = await api.proposal(ada, event_id, title="Quiet")
        await vote(client, api, ada, event_id, proposal)
        bob, _ = await bob_on_board(browser, restartable.url, api, ada, event_id)
        await expect(bob.card("Quiet").locator(".tally")).to_have_text(
            "votes hidden until the event closes"
        )
        r = await client.patch(
            f"/api/v1/events/{event_id}", json={"status": "CLOSED"}, headers=ada.auth
        )
        assert r.status_code == 200, r.text
    await expect(bob.page.get_by_text("This event is closed.")).to_be_visible()
    await expect(bob.card("Quiet").locator(".count")).to_have_attribute("data-count", "1")
