// The event's activity, newest first: the log read backwards a page at a time
// (GET /events/{id}/log?order=desc&before=), with what the stream brings added on top.
// A server without the backwards read answers the old ascending page (no ``next_before``):
// then the timeline shows that page reversed and offers no older one.
import { html, useEffect, useState } from "../vendor/htm-preact-standalone.js";
import { get } from "./api.js";
import { t } from "./i18n.js";

const PAGE = 20;

export function Timeline({ board }) {
  const [entries, setEntries] = useState(new Map()); // seq -> entry
  const [before, setBefore] = useState(undefined); // undefined: not loaded; null: no more

  const load = async (cursor) => {
    const query = `order=desc&limit=${PAGE}${cursor ? `&before=${cursor}` : ""}`;
    const page = await get(`/events/${board.eventId}/log?${query}`).catch(() => null);
    if (!page) return setBefore(null);
    setEntries((old) => {
      const merged = new Map(old);
      for (const entry of page.items) merged.set(entry.seq, entry);
      return merged;
    });
    setBefore("next_before" in page ? page.next_before : null);
  };
  useEffect(() => {
    load(null);
  }, [board.eventId]);
  useEffect(() => {
    board.recent = (message) => {
      if (message.type === "snapshot") return load(null);
      setEntries((old) => new Map(old).set(message.seq, { ...message, created_at: new Date(message.t * 1000).toISOString() }));
    };
    return () => (board.recent = null);
  }, [board]);

  const sorted = [...entries.values()].sort((a, b) => b.seq - a.seq);
  return html`<section class="panel timeline" aria-labelledby="timeline-title">
    <h2 id="timeline-title">${t("timeline.title")}</h2>
    ${sorted.length === 0 && html`<p class="muted">${t("timeline.empty")}</p>`}
    <ol reversed>
      ${sorted.map(
        (entry) => html`<li key=${entry.seq}>
          <time datetime=${entry.created_at}>${new Date(entry.created_at).toLocaleTimeString()}</time>
          ${" "}${describe(board, entry)}
        </li>`,
      )}
    </ol>
    ${before && html`<button type="button" onClick=${() => load(before)}>${t("timeline.more")}</button>`}
  </section>`;
}

function describe(board, { type, data }) {
  const name = (person) => person?.display_name ?? t("someone");
  const title = board.proposals.get(data.proposal_id ?? data.id)?.title ?? data.title ?? "";
  const key = `log.${type}`;
  switch (type) {
    case "proposal.created":
      return t(key, { name: name(data.author), title: data.title });
    case "proposal.updated":
      if (data.status === "PENDING") return t("log.proposal.edited", { name: name(data.author), title: data.title });
      return t(key, { title: data.title, status: t(`proposal.status.${data.status}`) });
    case "vote.cast":
    case "vote.withdrawn":
      return t(key, { name: name(data.user), title, count: data.vote_count ?? "?" });
    case "comment.created":
    case "comment.updated":
      return t(key, { name: name(data.author), title });
    case "membership.requested":
    case "membership.joined":
      return t(key, { name: name(data.user) });
    case "membership.updated":
      return t(key, { name: name(data.user), status: t(`membership.status.${data.status}`), role: t(`role.${data.role}`) });
    case "membership.removed":
      return t(key, { name: name(data.user), reason: data.reason });
    case "comment.deleted":
    case "event.updated":
    case "event.deleted":
      return t(key);
    default:
      return t("log.other", { type });
  }
}
