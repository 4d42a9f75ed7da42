"""Reports as background jobs in the embedded mode (jobs in the server process), on
SQLite and PostgreSQL: the request answers 202 with the job, progress arrives on the
event's stream as transient ``job.progress`` messages and the outcome as a logged
``job.completed``, and the file says what the API says."""

import asyncio
import csv
import io
import re
from pathlib import Path
from typing import Any

import httpx

from tests.api import Api, problem
from tests.jobs import decided_event, request_report, result, wait_job
from tests.services import Backend, start_server
from tests.sse import events
from tests.test_event_contract import _assert_valid

TIMEOUT = 30


async def test_a_report_is_made_in_the_background_and_announced_on_the_stream(api: Api) -> None:
    d = await decided_event(api)
    url = f"/api/v1/events/{d.event}/stream"
    seen: list[Any] = []
    async with api.client.stream("GET", url, headers=d.owner.auth) as stream:
        received = events(stream)
        first = await asyncio.wait_for(anext(received), TIMEOUT)
        assert first.event == "snapshot"
        job = await request_report(api.client, d.owner, d.event)
        assert job["state"] == "queued" and job["kind"] == "report"
        assert job["format"] == "markdown" and job["result_url"] is None
        while not seen or seen[-1].event != "job.completed":
            seen.append(await asyncio.wait_for(anext(received), TIMEOUT))

    progress = [e for e in seen if e.event == "job.progress"]
    assert progress, [e.event for e in seen]
    assert all(e.id is None and "seq" not in e.data for e in progress)  # transient
    assert all(e.data["data"]["id"] == job["id"] for e in progress)
    percents = [e.data["data"]["percent"] for e in progress]
    assert percents == sorted(percents)
    completed = seen[-1]
    assert completed.id == completed.data["seq"] == first.id + 1  # progress took no seq
    assert completed.data["data"] == {
        "id": job["id"],
        "kind": "report",
        "requested_by": d.owner.id,
        "attempts": 1,
        "result_url": f"/api/v1/jobs/{job['id']}/result",
    }
    # A client that was away learns the outcome from the log; the progress is not there.
    types = [entry["type"] for entry in await api.log(d.owner, d.event)]
    assert "job.completed" in types and "job.progress" not in types

    done = await wait_job(api.client, d.owner, job["id"])
    assert (done["state"], done["percent"], done["attempts"]) == ("done", 100, 1)
    r = await result(api.client, d.owner, job["id"])
    assert r.headers["content-type"].startswith("text/markdown")
    assert f'filename="report-{d.event}.md"' in r.headers["content-disposition"]
    await _matches_the_api(api, d, r.text)


async def _matches_the_api(api: Api, d: Any, text: str) -> None:
    """Every live proposal's row carries its title, author, count, decider and comments."""
    r = await api.client.get(f"/api/v1/events/{d.event}/proposals", headers=d.owner.auth)
    proposals = r.json()["items"]
    assert len(proposals) == 3
    assert text.startswith("# An event\n")
    for p in proposals:
        row = next(line for line in text.splitlines() if line.startswith(f"| {p['title']} |"))
        cells = [c.strip() for c in row.strip("|").split("|")]
        decider = p["decided_by"] or {}
        by = "auto (threshold)" if decider.get("kind") == "auto" else decider.get("display_name")
        comments = 2 if p["id"] == d.pending else 0
        assert cells[:4] == [p["title"], "member", str(p["vote_count"]), by or ""], row
        assert cells[5] == str(comments), row
    assert "### Assumption: accepted" in text and "### Conclusion: pending" in text
    assert "## Decision timeline" in text
    assert "Budget is fixed: ACCEPTED by owner" in text
    assert "Ship in May: ACCEPTED by the threshold" in text


async def test_the_result_is_served_from_the_blob_store(api: Api, backend: Backend) -> None:
    """The report is an object ``reports/{job}.md`` of the blob store (here the data
    dir's ``blobs/``), streamed with its length; once it is gone, 404 result_not_found."""
    d = await decided_event(api)
    job = await request_report(api.client, d.owner, d.event)
    assert (await wait_job(api.client, d.owner, job["id"]))["state"] == "done"
    stored = backend.data_dir / "blobs" / "reports" / f"{job['id']}.md"
    r = await result(api.client, d.owner, job["id"])
    assert r.content == stored.read_bytes()
    assert r.headers["content-length"] == str(stored.stat().st_size)
    stored.unlink()
    r = await api.client.get(f"/api/v1/jobs/{job['id']}/result", headers=d.owner.auth)
    problem(r, 404, "result_not_found")


async def test_csv_and_html_reports(api: Api) -> None:
    d = await decided_event(api)
    csv_job = await request_report(api.client, d.member, d.event, "csv")
    html_job = await request_report(api.client, d.member, d.event, "html")

    assert (await wait_job(api.client, d.member, csv_job["id"]))["state"] == "done"
    rows = list(
        csv.DictReader(io.StringIO((await result(api.client, d.member, csv_job["id"])).text))
    )
    by_id = {row["proposal_id"]: row for row in rows}
    assert set(by_id) == {d.accepted, d.auto, d.pending}
    assert by_id[d.auto]["votes"] == "2" and by_id[d.auto]["decided_by"] == "auto (threshold)"
    assert by_id[d.pending]["comments"] == "2" and by_id[d.accepted]["decided_by"] == "owner"

    assert (await wait_job(api.client, d.member, html_job["id"]))["state"] == "done"
    page = (await result(api.client, d.member, html_job["id"])).text
    assert page.startswith("<!doctype html>")
    # Self-contained: nothing is loaded from anywhere.
    assert not re.search(r"<(script|link|img)|\b(src|href)=|url\(", page)
    assert page.count("<svg") == 2  # one chart per accepted proposal
    assert "votes over time: Ship in May" in page and "voter-vera" not in page


async def test_hidden_tallies_stay_hidden_from_members_and_anonymous_voters_unnamed(
    api: Api,
) -> None:
    d = await decided_event(api, hidden_tallies=True, anonymous_votes=True)
    mine = await request_report(api.client, d.member, d.event, "csv")
    admins = await request_report(api.client, d.owner, d.event, "csv")
    html_job = await request_report(api.client, d.member, d.event, "html")
    for job, user in ((mine, d.member), (admins, d.owner), (html_job, d.member)):
        assert (await wait_job(api.client, user, job["id"]))["state"] == "done"

    member_rows = csv.DictReader(io.StringIO((await result(api.client, d.member, mine["id"])).text))
    assert {row["votes"] for row in member_rows} == {"hidden"}
    admin_rows = csv.DictReader(io.StringIO((await result(api.client, d.owner, admins["id"])).text))
    assert sorted(row["votes"] for row in admin_rows) == ["1", "1", "2"]
    page = (await result(api.client, d.member, html_job["id"])).text
    assert "<svg" not in page and ">hidden<" in page
    assert "voter-vera" not in page

    closed = await api.client.patch(
        f"/api/v1/events/{d.event}", json={"status": "CLOSED"}, headers=d.owner.auth
    )
    assert closed.status_code == 200, closed.text
    after = await request_report(api.client, d.member, d.event, "csv")
    assert (await wait_job(api.client, d.member, after["id"]))["state"] == "done"
    rows = csv.DictReader(io.StringIO((await result(api.client, d.member, after["id"])).text))
    assert sorted(row["votes"] for row in rows) == ["1", "1", "2"]  # closed: counts for all


async def test_bad_report_and_job_requests(api: Api) -> None:
    d = await decided_event(api)
    stranger = await api.user("stranger")
    reports = f"/api/v1/events/{d.event}/reports"

    problem(await api.client.post(reports, json={}, headers=stranger.auth), 403, "not_a_member")
    problem(await api.client.post(reports, json={"format": "pdf"}, headers=d.owner.auth), 422)
    problem(await api.client.post(reports, json={"format": "csv"}), 401)
    unknown = "/api/v1/events/00000000-0000-7000-8000-000000000000/reports"
    problem(await api.client.post(unknown, json={}, headers=d.owner.auth), 404, "event_not_found")

    job = await request_report(api.client, d.owner, d.event)
    missing = "/api/v1/jobs/00000000-0000-7000-8000-000000000000"
    problem(await api.client.get(missing, headers=d.owner.auth), 404, "job_not_found")
    problem(await api.client.get(f"{missing}/result", headers=d.owner.auth), 404, "job_not_found")
    problem(await api.client.get("/api/v1/jobs/nope", headers=d.owner.auth), 422)
    # Someone else's job does not exist for you, even in the same event.
    theirs = f"/api/v1/jobs/{job['id']}"
    problem(await api.client.get(theirs, headers=d.member.auth), 404, "job_not_found")
    problem(await api.client.get(f"{theirs}/result", headers=d.member.auth), 404, "job_not_found")
    assert (await wait_job(api.client, d.owner, job["id"]))["state"] == "done"


async def test_a_job_that_keeps_failing_stops_after_its_attempts_with_the_reason(
    backend: Backend, tmp_path: Path
) -> None:
    """The result cannot be stored (a file stands where the local blob store's
    ``reports/`` should be): every attempt fails, and after the last one the job is
    failed, with ``job.failed`` logged."""
    data_dir = tmp_path / "data"
    (data_dir / "blobs").mkdir(parents=True)
    (data_dir / "blobs" / "reports").write_text("in the way")
    env = {"QUORUM_DATA_DIR": str(data_dir), "QUORUM_JOB_MAX_ATTEMPTS": "2",
           "QUORUM_JOB_RESEND_SECONDS": "0.5", "QUORUM_JOB_SWEEP_SECONDS": "0.2"}  # fmt: skip
    server = start_server(backend, tmp_path, **env)
    try:
        async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
            api = Api(client)
            d = await decided_event(api)
            job = await request_report(client, d.owner, d.event)
            failed = await wait_job(client, d.owner, job["id"])
            assert (failed["state"], failed["attempts"]) == ("failed", 2)
            assert "file store" in failed["reason"]
            problem(await client.get(f"/api/v1/jobs/{job['id']}/result", headers=d.owner.auth),
                    409, "job_not_done")  # fmt: skip
            entries = [e for e in await api.log(d.owner, d.event) if e["type"] == "job.failed"]
            assert [e["data"] for e in entries] == [{
                "id": job["id"], "kind": "report", "requested_by": d.owner.id, "attempts": 2,
                "reason": failed["reason"],
            }]  # fmt: skip
            document = (await client.get("/asyncapi.json")).json()
            _assert_valid(document, {"seq": entries[0]["seq"], "type": "job.failed",
                                     "t": 1.0, "data": entries[0]["data"]})  # fmt: skip
    finally:
        server.stop()
