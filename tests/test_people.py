"""People have names: every person a response or a stream message mentions comes as
``{"id", "display_name"}``; ``decided_by`` says auto or who; the members list and the
voters list name people too (docs/decisions.md, "People have names")."""

from tests.api import Api, problem

EVENTS = "/api/v1/events"


async def test_members_are_listed_with_names_and_roles_page_by_page(api: Api) -> None:
    owner, ada, bob = await api.user("Olivia"), await api.user("Ada"), await api.user("Bob")
    event = await api.event(owner, members=[ada])
    await api.join(owner, event, bob, role="ADMIN")
    outsider = await api.user("Eve")
    pending = await api.client.post(f"{EVENTS}/{event}/memberships", headers=outsider.auth)
    assert pending.status_code == 201, pending.text

    pages = await api.all_pages(ada, f"{EVENTS}/{event}/members", limit=2)

    members = [m for page in pages for m in page]
    assert [(m["user"], m["role"]) for m in members] == [
        (owner.person, "ORGANIZER"),
        (ada.person, "MEMBER"),
        (bob.person, "ADMIN"),
    ]  # the pending request is not a member
    assert all(m["joined_at"] is not None for m in members)
    problem(await api.client.get(f"{EVENTS}/{event}/members", headers=outsider.auth), 403)


async def test_voters_are_listed_with_names_and_times(api: Api) -> None:
    owner, ada, bob = await api.user("Olivia"), await api.user("Ada"), await api.user("Bob")
    event = await api.event(owner, members=[ada, bob])
    proposal = await api.proposal(owner, event)
    for voter in (ada, bob, owner):
        assert (await api.client.post(api.vote_url(event, proposal), headers=voter.auth)).is_success

    pages = await api.all_pages(ada, api.vote_url(event, proposal), limit=2)

    voters = [v for page in pages for v in page]
    assert sorted(v["user"]["id"] for v in voters) == [v["user"]["id"] for v in voters]
    assert {v["user"]["id"]: v["user"] for v in voters} == {
        u.id: u.person for u in (owner, ada, bob)
    }
    assert all(v["voted_at"] for v in voters)
    missing = f"{EVENTS}/{event}/proposals/0193a6f4-2b3c-7d4e-9f50-6b7c8d9e0f1a/votes"
    problem(await api.client.get(missing, headers=ada.auth), 404, "proposal_not_found")


async def test_people_are_named_on_proposals_comments_memberships_and_votes(api: Api) -> None:
    owner, ada = await api.user("Olivia"), await api.user("Ada")
    event = await api.event(owner, members=[ada], threshold=5)
    proposal = await api.proposal(ada, event)
    await api.comment(ada, event, proposal, "Mine")
    r = await api.client.post(api.vote_url(event, proposal), headers=ada.auth)
    assert r.status_code == 201, r.text
    decided = await api.client.patch(
        f"{EVENTS}/{event}/proposals/{proposal}", json={"status": "ACCEPTED"}, headers=owner.auth
    )

    assert r.json()["proposal"]["author"] == ada.person
    assert decided.json()["decided_by"] == {"kind": "user", **owner.person}
    detail = await api.get_proposal(ada, event, proposal)
    assert (detail["author"], detail["decided_by"]) == (
        ada.person,
        {"kind": "user", **owner.person},
    )
    assert detail["latest_comments"][0]["author"] == ada.person
    memberships = await api.client.get(f"{EVENTS}/{event}/memberships", headers=ada.auth)
    assert [m["user"] for m in memberships.json()["items"]] == [owner.person, ada.person]
    log = (await api.client.get(f"{EVENTS}/{event}/log", headers=ada.auth)).json()["items"]
    by_type = {e["type"]: e["data"] for e in log}
    assert by_type["vote.cast"]["user"] == ada.person
    assert by_type["comment.created"]["author"] == ada.person
    assert by_type["membership.requested"]["user"] == ada.person
    assert by_type["proposal.updated"]["decided_by"] == {"kind": "user", **owner.person}
