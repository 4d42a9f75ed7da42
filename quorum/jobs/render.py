"""The decision report's three formats, written row by row as the pages arrive.

Each renderer gets the event, then the proposals grouped by (kind, status), then the
decision timeline, then (HTML) a chart per accepted proposal, and writes as it goes:
nothing is gathered first. Vote counts read "hidden" where the reader may not see them
(``show_tallies``); no renderer names a voter.
"""

import csv
import html
from collections.abc import Sequence
from datetime import datetime
from typing import Protocol, TextIO

from quorum.decisions.models import Event
from quorum.jobs.report_data import Decision, ProposalRow

HIDDEN = "hidden"


def _when(at: datetime | None) -> str:
    return at.strftime("%Y-%m-%d %H:%M UTC") if at else ""


class Renderer(Protocol):
    extension: str
    media_type: str

    def start(self, event: Event) -> None: ...
    def proposal(self, row: ProposalRow) -> None: ...
    def decision(self, decision: Decision) -> None: ...
    def chart(self, title: str, cumulative: Sequence[int], start: datetime, end: datetime) -> None:
        """Votes over time of one accepted proposal: the running total per time bucket."""

    def end(self) -> None: ...


def _facts(event: Event) -> list[tuple[str, str]]:
    options = [
        name
        for name, on in (
            ("anonymous votes", event.anonymous_votes),
            ("hidden tallies", event.hidden_tallies),
        )
        if on
    ]
    return [
        ("Status", event.status),
        ("Created", _when(event.created_at)),
        ("Closed", _when(event.closed_at) or "not yet"),
        ("Vote threshold", str(event.vote_threshold or "none")),
        ("Options", ", ".join(options) or "none"),
        ("Outcome", event.outcome or ""),
    ]


class _Grouped:
    """Tracks the (kind, status) group, so a renderer opens a new one when it changes."""

    def __init__(self, out: TextIO, show_tallies: bool) -> None:
        self.out = out
        self.show_tallies = show_tallies
        self.group: tuple[str, str] | None = None

    def votes(self, row: ProposalRow) -> str:
        return str(row.vote_count) if self.show_tallies else HIDDEN

    def new_group(self, row: ProposalRow) -> bool:
        if self.group == (row.kind, row.status):
            return False
        self.group = (row.kind, row.status)
        return True


class MarkdownReport(_Grouped):
    extension, media_type = "md", "text/markdown; charset=utf-8"
    COLUMNS = "| Title | Author | Votes | Decided by | Decided at | Comments |\n"

    def start(self, event: Event) -> None:
        self.out.write(f"# {_md(event.title)}\n\n")
        for name, value in _facts(event):
            self.out.write(f"- **{name}:** {_md(value)}\n")
        self.out.write("\n## Proposals\n")

    def proposal(self, row: ProposalRow) -> None:
        if self.new_group(row):
            self.out.write(f"\n### {row.kind.title()}: {row.status.lower()}\n\n")
            self.out.write(self.COLUMNS + "|---|---|---:|---|---|---:|\n")
        cells = (row.title, row.author, self.votes(row), row.decided_by, _when(row.decided_at))
        self.out.write("| " + " | ".join(_md(c) for c in cells) + f" | {row.comments} |\n")

    def decision(self, decision: Decision) -> None:
        if self.group != ("", "timeline"):
            self.group = ("", "timeline")
            self.out.write("\n## Decision timeline\n\n")
        self.out.write(f"- {_when(decision.at)}: {_md(decision.what)}\n")

    def chart(self, title: str, cumulative: Sequence[int], start: datetime, end: datetime) -> None:
        return None  # the HTML report draws the charts

    def end(self) -> None:
        return None


def _md(text: str) -> str:
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


class CsvReport(_Grouped):
    """One row per proposal: what a spreadsheet wants."""

    extension, media_type = "csv", "text/csv; charset=utf-8"
    HEADER = ("proposal_id", "kind", "status", "title", "author", "votes", "decided_by",
              "decided_at", "comments")  # fmt: skip

    def start(self, event: Event) -> None:
        self._csv = csv.writer(self.out)
        self._csv.writerow(self.HEADER)

    def proposal(self, row: ProposalRow) -> None:
        decided_at = row.decided_at.isoformat() if row.decided_at else ""
        self._csv.writerow((row.id, row.kind, row.status, row.title, row.author,
                            self.votes(row), row.decided_by, decided_at, row.comments))  # fmt: skip

    def decision(self, decision: Decision) -> None:
        return None

    def chart(self, title: str, cumulative: Sequence[int], start: datetime, end: datetime) -> None:
        return None

    def end(self) -> None:
        return None


STYLE = (
    "body{font:15px/1.5 system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;"
    "color:#222}table{border-collapse:collapse;width:100%;margin:.5rem 0 1.5rem}"
    "th,td{border-bottom:1px solid #ddd;padding:.3rem .5rem;text-align:left}"
    "td.n{text-align:right}svg{background:#fafafa;border:1px solid #ddd}"
    "figure{margin:1rem 0}"
)
W, H = 600, 160


class HtmlReport(_Grouped):
    """One self-contained file: inline style and inline SVG, nothing fetched."""

    extension, media_type = "html", "text/html; charset=utf-8"

    def start(self, event: Event) -> None:
        title = html.escape(event.title)
        self.out.write(f"<!doctype html><html lang=en><meta charset=utf-8><title>{title}</title>")
        self.out.write(f"<style>{STYLE}</style><h1>{title}</h1><dl>")
        for name, value in _facts(event):
            self.out.write(f"<dt>{name}</dt><dd>{html.escape(value)}</dd>")
        self.out.write("</dl><h2>Proposals</h2>")

    def proposal(self, row: ProposalRow) -> None:
        if self.new_group(row):
            self._close_table()
            self.out.write(f"<h3>{row.kind.title()}: {row.status.lower()}</h3><table><tr>")
            for name in ("Title", "Author", "Votes", "Decided by", "Decided at", "Comments"):
                self.out.write(f"<th>{name}</th>")
            self.out.write("</tr>")
            self._open = True
        cells = (row.title, row.author, self.votes(row), row.decided_by, _when(row.decided_at))
        tds = "".join(f"<td>{html.escape(c)}</td>" for c in cells)
        self.out.write(f"<tr>{tds}<td class=n>{row.comments}</td></tr>")

    _open = False

    def _close_table(self) -> None:
        if self._open:
            self.out.write("</table>")
            self._open = False

    def decision(self, decision: Decision) -> None:
        if self.group != ("", "timeline"):
            self._close_table()
            self.group = ("", "timeline")
            self.out.write("<h2>Decision timeline</h2><ul>")
        self.out.write(f"<li>{_when(decision.at)}: {html.escape(decision.what)}</li>")

    def chart(self, title: str, cumulative: Sequence[int], start: datetime, end: datetime) -> None:
        self._end_section()
        if self.group != ("", "charts"):
            self.group = ("", "charts")
            self.out.write("<h2>Votes over time (accepted proposals)</h2>")
        self.out.write(svg_chart(title, cumulative, start, end))

    def _end_section(self) -> None:
        self._close_table()
        if self.group == ("", "timeline"):
            self.out.write("</ul>")

    def end(self) -> None:
        self._end_section()
        self.out.write("</html>\n")


def svg_chart(title: str, cumulative: Sequence[int], start: datetime, end: datetime) -> str:
    """A step line of the running vote total across the event's time, with its scale."""
    top = max(cumulative[-1] if cumulative else 0, 1)
    n = max(len(cumulative), 1)
    points = " ".join(
        f"{round(i * W / n, 1)},{round(H - 20 - v * (H - 40) / top, 1)}"
        for i, v in enumerate([0, *cumulative])
    )
    label = html.escape(title)
    return (
        f'<figure><svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" '
        f'role="img" aria-label="votes over time: {label}">'
        f'<polyline fill="none" stroke="#2a6" stroke-width="2" points="{points}"/>'
        f'<text x="4" y="14" font-size="12">{top} votes</text>'
        f'<text x="4" y="{H - 4}" font-size="11">{_when(start)}</text>'
        f'<text x="{W - 4}" y="{H - 4}" font-size="11" text-anchor="end">{_when(end)}</text>'
        f"</svg><figcaption>{label}</figcaption></figure>"
    )


RENDERERS: dict[str, type[MarkdownReport] | type[CsvReport] | type[HtmlReport]] = {
    "markdown": MarkdownReport,
    "csv": CsvReport,
    "html": HtmlReport,
}
