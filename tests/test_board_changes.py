"""Changing things from the board, in a real browser: an author edits and withdraws a
proposal, comments are edited and deleted (tombstones), the organizer lists and revokes
invitation links and deletes the event; each seen live on another person's board. And a
pending requester who opens a board is told their request is waiting."""

import re

import httpx
import pytest
from playwright.async_api import Browser, expect

from tests.api import Api, User, problem
from tests.browser import PHONE, Person, person, serious_violations
from tests.services import Server

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]


async def at_board(browser: Browser, url: str, user: User, event_id: str) -> Person:
    """``user`` (made through the API) logs in in a browser of their own and opens the board."""
    someone = await person(browser, user.name)
    someone.email = user.email
    await someone.log_in(url)
    await someone.page.goto(f"{url}/#/events/{event_id}")
    await someone.live()
    someone.page.on("dialog", lambda dialog: dialog.accept())
    return someone


async def fits_a_phone(someone: Person) -> None:
    await someone.page.set_viewport_size(PHONE)
    width = await someone.page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"]


async def test_an_author_edits_and_withdraws_a_proposal(server: Server, browser: Browser) -> None:
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
        api = Api(client)
        ada, bob = await api.user("Ada"), await api.user("Bob")
        event_id = await api.event(ada, threshold=3, members=[bob], title="Edits")
        lunch = await api.proposal(bob, event_id, title="Lunch at noon")
        await api.proposal(bob, event_id, title="Dinner")
        ada_at = await at_board(browser, server.url, ada, event_id)
        bob_at = await at_board(browser, server.url, bob, event_id)

        # Only the author is offered the edit.
        edit = {"name": "Edit proposal"}
        await expect(ada_at.card("Lunch at noon").get_by_role("button", **edit)).to_have_count(0)
        await bob_at.card("Lunch at noon").get_by_role("button", **edit).focus()
        await bob_at.page.keyboard.press("Enter")  # by keyboard: focus lands in the form
        await expect(bob_at.page.get_by_label("New title")).to_be_focused()
        await bob_at.page.get_by_label("New title").fill("Lunch at one")
        await bob_at.page.get_by_label("New details").fill("Closer to the station")
        await bob_at.page.get_by_role("button", name="Save changes").click()
        edited = bob_at.card("Lunch at one")
        await expect(edited.locator(".edited time")).to_have_attribute("datetime", re.compile("T"))
        await expect(edited).to_contain_text("Closer to the station")
        assert await serious_violations(bob_at.page) == []

        # Ada's board shows the edit live, marked as edited.
        seen = ada_at.card("Lunch at one")
        await expect(seen).to_contain_text("Closer to the station")
        await expect(seen.locator(".edited")).to_contain_text("edited")
        await expect(ada_at.page.locator("#announcer")).to_have_text("Edited: Lunch at one")
        latest = ada_at.page.locator(".timeline li").first
        await expect(latest).to_contain_text("Bob edited “Lunch at one”")
        await expect(ada_at.card("Lunch at noon")).to_have_count(0)

        # A vote arriving while Bob edits: the event (no edits with votes) refuses, says why,
        # and the button goes.
        frozen = bob_at.page.locator(f'li.card[data-proposal="{lunch}"]')
        await frozen.get_by_role("button", name="Edit proposal").click()
        await bob_at.page.get_by_label("New title").fill("Lunch at two")
        r = await client.post(api.vote_url(event_id, lunch), headers=ada.auth)
        assert r.status_code == 201, r.text
        await expect(frozen.locator(".count")).to_have_attribute("data-count", "1")
        await bob_at.page.get_by_role("button", name="Save changes").click()
        await expect(frozen.locator("form.edit [role=alert]")).to_contain_text("proposal_has_votes")
        await frozen.get_by_role("button", name="Cancel").click()
        await expect(frozen.get_by_role("heading")).to_have_text("Lunch at one")
        await expect(frozen.get_by_role("button", name="Edit proposal")).to_have_count(0)
        assert (await api.get_proposal(ada, event_id, lunch))["title"] == "Lunch at one"

        # Once the organizer allows edits with votes, Bob's board offers the edit again.
        r = await client.patch(
            f"/api/v1/events/{event_id}", json={"allow_edits_with_votes": True}, headers=ada.auth
        )
        assert r.status_code == 200, r.text
        await frozen.get_by_role("button", name="Edit proposal").click()
        await bob_at.page.get_by_label("New title").fill("Lunch at two")
        await bob_at.page.get_by_role("button", name="Save changes").click()
        await expect(ada_at.card("Lunch at two").locator(".count")).to_have_attribute(
            "data-count", "1"
        )

        # Bob withdraws his other proposal; Ada sees it withdrawn, with nothing left to do.
        withdraw = bob_at.card("Dinner").get_by_role("button", name="Withdraw proposal")
        await withdraw.click()
        status = ada_at.card("Dinner").locator(".status")
        await expect(status).to_have_attribute("data-status", "WITHDRAWN")
        await expect(withdraw).to_have_count(0)
        await expect(ada_at.card("Dinner").get_by_role("button", name="Accept")).to_have_count(0)
        await fits_a_phone(bob_at)


async def test_comments_are_edited_and_deleted_live(server: Server, browser: Browser) -> None:
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
        api = Api(client)
        ada, bob = await api.user("Ada"), await api.user("Bob")
        event_id = await api.event(ada, threshold=3, members=[bob], title="Comments")
        proposal = await api.proposal(ada, event_id, title="Picnic")
        await api.comment(ada, event_id, proposal, "Bring blankets")
        ada_at = await at_board(browser, server.url, ada, event_id)
        bob_at = await at_board(browser, server.url, bob, event_id)
        for someone in (ada_at, bob_at):
            await someone.card("Picnic").locator("summary").click()
        ada_thread = ada_at.card("Picnic").locator(".comments")
        bob_thread = bob_at.card("Picnic").locator(".comments")

        await bob_at.card("Picnic").get_by_label("Add a comment").fill("If it rains?")
        await bob_at.card("Picnic").get_by_role("button", name="Comment", exact=True).click()
        mine = bob_thread.locator("li", has_text="If it rains?")
        # Bob edits his own comment, not Ada's; Ada sees the new words, marked edited.
        adas = bob_thread.locator("li", has_text="Bring blankets")
        await expect(adas.get_by_role("button")).to_have_count(0)
        await mine.get_by_role("button", name="Edit comment").click()
        await expect(bob_at.page.get_by_label("Your comment")).to_be_focused()
        assert await serious_violations(bob_at.page) == []
        await bob_at.page.get_by_label("Your comment").fill("If it rains, the hall")
        await bob_at.page.get_by_role("button", name="Save comment").click()
        theirs = ada_thread.locator("li", has_text="If it rains, the hall")
        await expect(theirs.locator(".edited")).to_contain_text("edited")

        # The organizer deletes Bob's comment: a tombstone on both boards, in its place.
        await theirs.get_by_role("button", name="Delete comment").click()
        await expect(bob_thread.locator("li.tombstone")).to_have_text("Bob: (comment deleted)")
        await expect(ada_thread.locator("li")).to_have_count(2)
        await expect(bob_at.card("Picnic").locator("summary")).to_have_text("Comments (2)")

        # Bob deletes a comment of his own, which Ada sees live.
        await bob_at.card("Picnic").get_by_label("Add a comment").fill("Typo")
        await bob_at.card("Picnic").get_by_role("button", name="Comment", exact=True).click()
        typo = bob_thread.locator("li", has_text="Typo")
        await typo.get_by_role("button", name="Delete comment").click()
        await expect(ada_thread.locator("li.tombstone")).to_have_count(2)
        await expect(ada_thread).not_to_contain_text("Typo")
        r = await client.get(
            f"/api/v1/events/{event_id}/proposals/{proposal}/comments", headers=ada.auth
        )
        assert [c["deleted"] for c in r.json()["items"]] == [False, True, True]
        await fits_a_phone(bob_at)


async def test_the_organizer_lists_and_revokes_invitation_links(
    server: Server, browser: Browser
) -> None:
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
        api = Api(client)
        ada, carol = await api.user("Ada"), await api.user("Carol")
        event_id = await api.event(ada, title="Links")
        ada_at = await at_board(browser, server.url, ada, event_id)
        page = ada_at.page
        await expect(page.get_by_text("No invitation link yet.")).to_be_visible()
        await page.get_by_role("button", name="Create an invitation link").click()
        await expect(page.get_by_label("Invitation link")).to_have_value(re.compile("/#/join/"))
        first = (await page.get_by_label("Invitation link").input_value()).rsplit("/", 1)[1]
        await page.get_by_label("People who open it join at once").check()
        await page.get_by_role("button", name="Create an invitation link").click()
        links = page.locator("ul.invitations li")
        await expect(links).to_have_count(2)
        await expect(links.first).to_contain_text("joins at once")  # newest first
        await expect(links.last).to_contain_text("asks to join")
        assert await serious_violations(page) == []

        await page.get_by_role("button", name="Revoke Link 1").click()
        await expect(links.last).to_have_attribute("data-state", "revoked")
        await expect(links.last).to_contain_text("revoked")
        await expect(links.last.get_by_role("button")).to_have_count(0)
        await expect(links.first).to_have_attribute("data-state", "active")
        r = await client.post(f"/api/v1/invitations/{first}/accept", headers=carol.auth)
        problem(r, 410, "invitation_revoked")


async def test_the_organizer_deletes_the_event(server: Server, browser: Browser) -> None:
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
        api = Api(client)
        ada, bob = await api.user("Ada"), await api.user("Bob")
        event_id = await api.event(ada, members=[bob], title="Doomed")
        ada_at = await at_board(browser, server.url, ada, event_id)
        bob_at = await at_board(browser, server.url, bob, event_id)
        # A member is not offered the deletion; the organizer is, behind a confirmation.
        await expect(bob_at.page.get_by_role("button", name="Delete this event")).to_have_count(0)
        asked: list[str] = []
        ada_at.page.on("dialog", lambda dialog: asked.append(dialog.message))
        await ada_at.page.get_by_role("button", name="Delete this event").click()
        for someone in (ada_at, bob_at):
            ended = someone.page.locator(".stream-ended")
            await expect(ended).to_have_attribute("data-reason", "deleted")
            await expect(ended).to_contain_text("The organizer deleted this event.")
        assert asked and "Doomed" in asked[0]
        r = await client.get(f"/api/v1/events/{event_id}", headers=ada.auth)
        problem(r, 404, "event_not_found")


async def test_a_pending_requester_is_told_the_request_waits(
    server: Server, browser: Browser
) -> None:
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
        api = Api(client)
        ada, bob = await api.user("Ada"), await api.user("Bob")
        event_id = await api.event(ada, title="Waiting room")
        r = await client.post(f"/api/v1/events/{event_id}/memberships", headers=bob.auth)
        assert r.status_code == 201, r.text
    bob_at = await person(browser, "Bob")
    bob_at.email = bob.email
    await bob_at.log_in(server.url)
    await bob_at.page.goto(f"{server.url}/#/events/{event_id}")
    ended = bob_at.page.locator(".stream-ended")
    await expect(ended).to_have_attribute("data-reason", "pending")
    await expect(ended).to_contain_text("waiting for an organizer's approval")
    await expect(bob_at.page.get_by_role("heading", level=1)).to_have_text("Board unavailable")
    await expect(bob_at.page.get_by_role("link", name="Back to my events")).to_be_visible()
