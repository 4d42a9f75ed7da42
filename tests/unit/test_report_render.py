"""The report's renderers in-process: groups open and close as the rows arrive, titles
cannot break a Markdown table, hidden counts read "hidden", and the HTML page is one
well-formed, self-contained file with a chart per accepted proposal."""

import csv
import io
import re
import uuid
from datetime import UTC, datetime, timedelta
from xml.etree import ElementTree

from quorum.decisions.models import Event
from quorum.jobs.render import CsvReport, HtmlReport, MarkdownReport, svg_chart
from quorum.jobs.report_data import Decision, ProposalRow

T0 = datetime(2026, 11, 29, 10, 0, tzinfo=UTC)


def event() -> Event:
    return Event(
        title="Plan <2027>",
        status="CLOSED",
        created_at=T0,
        closed_at=T0 + timedelta(hours=1),
        vote_threshold=2,
        anonymous_votes=True,
        hidden_tallies=False,
        outcome="Go",
    )


def row(kind: str, status: str, title: str, votes: int = 1) -> ProposalRow:
    return ProposalRow(uuid.uuid4(), kind, status, title, "Ada", votes, "Bob", T0, 2)


ROWS = [
    row("ASSUMPTION", "ACCEPTED", "A | pipe"),
    row("CONCLUSION", "ACCEPTED", "Ship"),
    row("CONCLUSION", "PENDING", "Wait"),
]


def render(report: MarkdownReport | CsvReport | HtmlReport) -> None:
    report.start(event())
    for r in ROWS:
        report.proposal(r)
    report.decision(Decision(T0, "Ship: ACCEPTED by the threshold"))
    report.chart("Ship", [0, 1, 1, 2], T0, T0 + timedelta(hours=1))
    report.end()


def test_markdown_groups_rows_and_escapes_what_would_break_the_table() -> None:
    out = io.StringIO()
    render(MarkdownReport(out, show_tallies=True))
    text = out.getvalue()
    assert text.startswith("# Plan <2027>\n")
    assert re.findall(r"^### (.*)$", text, re.M) == [
        "Assumption: accepted", "Conclusion: accepted", "Conclusion: pending"
    ]  # fmt: skip
    assert "| A \\| pipe | Ada | 1 | Bob |" in text
    assert "## Decision timeline\n\n- 2026-11-29 10:00 UTC: Ship: ACCEPTED" in text


def test_csv_has_one_row_per_proposal_and_hides_counts_when_told() -> None:
    out = io.StringIO()
    render(CsvReport(out, show_tallies=False))
    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert [r["title"] for r in rows] == ["A | pipe", "Ship", "Wait"]
    assert {r["votes"] for r in rows} == {"hidden"}


def test_html_is_well_formed_escaped_and_self_contained() -> None:
    out = io.StringIO()
    render(HtmlReport(out, show_tallies=True))
    page = out.getvalue()
    assert "<h1>Plan &lt;2027&gt;</h1>" in page
    assert page.count("<table>") == page.count("</table>") == 3
    assert page.count("<ul>") == page.count("</ul>") == 1
    assert not re.search(r"<(script|link|img)|\b(src|href)=", page)
    assert page.count("<svg") == 1


def test_the_chart_plots_the_running_total_from_zero() -> None:
    svg = svg_chart("Ship & sail", [1, 1, 3], T0, T0 + timedelta(hours=1))
    figure = ElementTree.fromstring(svg)  # noqa: S314 (our own output): well-formed XML
    line = figure.find("{http://www.w3.org/2000/svg}svg/{http://www.w3.org/2000/svg}polyline")
    assert line is not None
    points = [tuple(map(float, p.split(","))) for p in line.attrib["points"].split()]
    assert len(points) == 4 and points[0][0] == 0
    ys = [y for _, y in points]
    assert ys[0] > ys[1] == ys[2] > ys[3]  # higher total, higher on the page
    assert ">3 votes<" in svg and "Ship &amp; sail" in svg
