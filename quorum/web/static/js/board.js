// The board of an event: header (connection, threshold, countdown, outcome), the three
// columns of proposal cards, the new-proposal form with similar proposals, the people
// panel for organizers and admins, and the activity timeline. State lives in live.js.
import { html, useEffect, useMemo, useReducer, useRef, useState } from "../vendor/htm-preact-standalone.js";
import { del, get, patch, post } from "./api.js";
import { t } from "./i18n.js";
import { Board } from "./live.js";
import { People } from "./people.js";
import { Timeline } from "./timeline.js";
import { ErrorBox, announce, formatDuration, go, useAction } from "./ui.js";

const KINDS = ["ASSUMPTION", "CRITERIA", "CONCLUSION"];

export function BoardPage({ eventId, me }) {
  const [, rerender] = useReducer((n) => n + 1, 0);
  const board = useMemo(
    () => new Board(eventId, me, { onChange: rerender, onMessage: (m) => announceMessage(board, m) }),
    [eventId, me.id],
  );
  useEffect(() => {
    board.open();
    return () => board.close();
  }, [board]);
  useEffect(() => {
    if (board.event && !board.votesLoaded) loadMyVotes(board).then(rerender);
  }, [board.event]);

  if (!board.event) {
    return html`<section>
      <h1 tabindex="-1">${board.ended ? t("board.unavailable") : t("loading")}</h1>
      <${Connection} board=${board} />
      <${Ended} board=${board} />
      ${board.ended && html`<p><a href="#/">${t("board.back")}</a></p>`}
    </section>`;
  }
  const role = board.myRole();
  const admin = role === "ORGANIZER" || role === "ADMIN";
  return html`<section class="board">
    <${Header} board=${board} admin=${admin} role=${role} />
    <${Ended} board=${board} />
    ${board.event.status === "OPEN" && !board.ended && html`<${NewProposal} board=${board} />`}
    <div class="columns">
      ${KINDS.map((kind) => html`<${Column} key=${kind} kind=${kind} board=${board} admin=${admin} />`)}
    </div>
    <div class="side">
      ${admin && !board.ended && html`<${People} board=${board} me=${me} />`}
      <${Timeline} board=${board} />
    </div>
  </section>`;
}

/** Which proposals I voted for, when the event names voters: one page of voters each. */
async function loadMyVotes(board) {
  board.votesLoaded = true;
  if (board.event.anonymous_votes) return;
  const counted = [...board.proposals.values()].filter((p) => p.status === "PENDING" && p.vote_count !== 0);
  await Promise.all(
    counted.map(async (proposal) => {
      const page = await get(`/events/${board.eventId}/proposals/${proposal.id}/votes?limit=100`).catch(() => null);
      if (page?.items.some((vote) => vote.user.id === board.me.id)) board.myVotes.add(proposal.id);
    }),
  );
}

function announceMessage(board, { type, data }) {
  if (!data) return;
  if (type === "proposal.created") announce(t("announce.proposal", { title: data.title }));
  else if (type === "proposal.updated" && data.status === "ACCEPTED") announce(t("announce.accepted", { title: data.title }));
  else if (type === "proposal.updated" && data.status === "REJECTED") announce(t("announce.rejected", { title: data.title }));
  else if (type === "proposal.updated" && data.status === "WITHDRAWN") announce(t("announce.withdrawn", { title: data.title }));
  else if (type === "proposal.updated" && data.status === "PENDING") announce(t("announce.edited", { title: data.title }));
  else if (type === "membership.requested") announce(t("announce.request", { name: data.user.display_name }));
  else if (type === "comment.created") {
    announce(t("announce.comment", { title: board.proposals.get(data.proposal_id)?.title ?? "" }));
  } else if (type === "vote.cast" || type === "vote.withdrawn") {
    const title = board.proposals.get(data.proposal_id)?.title ?? "";
    if (data.vote_count !== null) announce(t("announce.vote", { title, count: data.vote_count }));
  }
}

function Connection({ board }) {
  const state = board.connection;
  return html`<p class=${`connection ${state}`} data-state=${state}>
    <span class="dot" aria-hidden="true"></span>${t("board.connection", { state: t(`board.live.${state}`) })}
  </p>`;
}

function Ended({ board }) {
  if (!board.ended) return null;
  return html`<p class="stream-ended" role="alert" data-reason=${board.ended}>${t(`board.ended.${board.ended}`)}</p>`;
}

function Countdown({ closesAt }) {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(timer);
  }, []);
  const left = new Date(closesAt).getTime() - now;
  return html`<p class="deadline">
    ${left > 0 ? t("board.deadline", { time: formatDuration(left) }) : t("board.deadline.passed")}
    <time datetime=${closesAt}> (${new Date(closesAt).toLocaleString()})</time>
  </p>`;
}

function Header({ board, admin, role }) {
  const event = board.event;
  const action = useAction();
  const [outcome, setOutcome] = useState(event.outcome ?? "");
  const update = (body) => action.run(() => patch(`/events/${event.id}`, body));
  const leave = () => {
    if (!confirm(t("board.leave.confirm"))) return;
    action.run(async () => {
      await del(`/events/${event.id}/memberships/me`);
      board.end("left");
      go("#/");
    });
  };
  const remove = () => {
    if (!confirm(t("board.delete.confirm", { title: event.title }))) return;
    action.run(async () => {
      await del(`/events/${event.id}`);
      board.end("deleted"); // the stream says so too, unless it is between connections
    });
  };
  return html`<header class="board-header">
    <p><a href="#/">${t("board.back")}</a></p>
    <h1 tabindex="-1">${event.title}</h1>
    <${Connection} board=${board} />
    ${event.description && html`<p>${event.description}</p>`}
    <p class="muted">
      ${event.vote_threshold ? t("board.threshold", { n: event.vote_threshold }) : t("board.threshold.none")}
      ${role && html` · ${t(`role.${role}`)}`}
    </p>
    ${event.status === "OPEN" && event.closes_at && html`<${Countdown} closesAt=${event.closes_at} />`}
    ${event.status === "CLOSED" && html`<p class="closed"><strong>${t("board.closed")}</strong></p>`}
    ${event.outcome && html`<div class="outcome panel"><h2>${t("board.outcome")}</h2><p>${event.outcome}</p></div>`}
    <${ErrorBox} error=${action.error} />
    ${admin && !board.ended &&
    html`<form class="inline" onSubmit=${(e) => { e.preventDefault(); update({ outcome }); }}>
        <label for="outcome">${t("board.outcome")}</label>
        <input id="outcome" value=${outcome} onInput=${(e) => setOutcome(e.target.value)} />
        <button type="submit">${t("board.outcome.save")}</button>
        ${event.status === "OPEN"
          ? html`<button type="button" onClick=${() => update({ status: "CLOSED" })}>${t("board.close")}</button>`
          : html`<button type="button" onClick=${() => update({ status: "OPEN" })}>${t("board.reopen")}</button>`}
      </form>`}
    ${role && role !== "ORGANIZER" && !board.ended &&
    html`<button type="button" class="danger" onClick=${leave}>${t("board.leave")}</button>`}
    ${role === "ORGANIZER" && !board.ended &&
    html`<button type="button" class="danger" onClick=${remove}>${t("board.delete")}</button>`}
  </header>`;
}

function NewProposal({ board }) {
  const [kind, setKind] = useState("ASSUMPTION");
  const [title, setTitle] = useState("");
  const [body, setBody] = useState("");
  const [similar, setSimilar] = useState([]);
  const { error, busy, run } = useAction();
  const latest = useRef(0);

  useEffect(() => {
    const query = title.trim();
    if (query.length < 3) return setSimilar([]);
    const asked = ++latest.current;
    const timer = setTimeout(async () => {
      // Served by the API once it has proposals/similar; before that it quietly shows none.
      const found = await get(`/events/${board.eventId}/proposals/similar?q=${encodeURIComponent(query)}`).catch(() => null);
      if (asked === latest.current) setSimilar(found?.items ?? []);
    }, 300);
    return () => clearTimeout(timer);
  }, [title]);

  const submit = (e) => {
    e.preventDefault();
    run(async () => {
      await post(`/events/${board.eventId}/proposals`, { kind, title, body });
      setTitle("");
      setBody("");
      setSimilar([]);
    });
  };
  return html`<form class="panel new-proposal" onSubmit=${submit}>
    <h2>${t("proposal.new")}</h2>
    <div class="row">
      <div class="field">
        <label for="proposal-kind">${t("proposal.kind")}</label>
        <select id="proposal-kind" value=${kind} onChange=${(e) => setKind(e.target.value)}>
          ${KINDS.map((k) => html`<option value=${k}>${t(`kind.one.${k}`)}</option>`)}
        </select>
      </div>
      <div class="field grow">
        <label for="proposal-title">${t("proposal.title")}</label>
        <input id="proposal-title" value=${title} onInput=${(e) => setTitle(e.target.value)} required maxlength="200"
          aria-describedby="similar" />
      </div>
    </div>
    <div id="similar" aria-live="polite">
      ${similar.length > 0 &&
      html`<p>${t("proposal.similar")}</p>
        <ul class="similar">
          ${similar.map(
            (p) => html`<li key=${p.id}>
              ${p.title} <span class="muted">(${t(`kind.one.${p.kind}`)}, ${t(`proposal.status.${p.status}`)})</span>
              ${" "}${p.status === "PENDING" && board.event.status === "OPEN" &&
              (board.voted(p.id)
                ? html`<span class="badge">${t("proposal.voted")}</span>`
                : html`<button type="button" class="secondary" onClick=${() => run(() => board.toggleVote(p.id))}
                    aria-label=${t("proposal.vote_for", { title: p.title })}>${t("proposal.vote")}</button>`)}
            </li>`,
          )}
        </ul>`}
    </div>
    <div class="field">
      <label for="proposal-body">${t("proposal.body")}</label>
      <textarea id="proposal-body" value=${body} onInput=${(e) => setBody(e.target.value)}></textarea>
    </div>
    <${ErrorBox} error=${error} />
    <button type="submit" disabled=${busy}>${t("proposal.submit")}</button>
  </form>`;
}

function Column({ kind, board, admin }) {
  const proposals = [...board.proposals.values()]
    .filter((p) => p.kind === kind && p.status !== "DELETED")
    .sort((a, b) => (a.created_at < b.created_at ? -1 : 1));
  return html`<section class="column" aria-labelledby=${`column-${kind}`}>
    <h2 id=${`column-${kind}`}>${t(`kind.${kind}`)}</h2>
    ${proposals.length === 0 && html`<p class="muted">${t("proposal.none")}</p>`}
    <ul class="cards">
      ${proposals.map((p) => html`<${Card} key=${p.id} proposal=${p} board=${board} admin=${admin} />`)}
    </ul>
  </section>`;
}

function Card({ proposal, board, admin }) {
  const action = useAction();
  const event = board.event;
  const count = board.count(proposal);
  const voted = board.voted(proposal.id);
  const pending = proposal.status === "PENDING";
  const open = event.status === "OPEN";
  const url = `/events/${board.eventId}/proposals/${proposal.id}`;

  const mine = proposal.author.id === board.me.id;
  const [editing, setEditing] = useState(false);
  // Votes freeze the words unless the event allows edits with votes (the API says 409 too).
  const editable = mine && pending && open && !board.ended && (event.allow_edits_with_votes || !proposal.vote_count);

  const vote = () => action.run(() => board.toggleVote(proposal.id));
  const decide = (status) => action.run(() => patch(url, { status }));
  const withdraw = () => {
    if (confirm(t("proposal.withdraw_own.confirm", { title: proposal.title }))) decide("WITHDRAWN");
  };

  return html`<li class=${`card ${proposal.status.toLowerCase()}`} data-proposal=${proposal.id}>
    ${editing
      ? html`<${EditProposal} proposal=${proposal} url=${url} done=${() => setEditing(false)} />`
      : html`<h3>${proposal.title}</h3>
          ${proposal.body && html`<p>${proposal.body}</p>`}`}
    <p class="muted">${t("proposal.by", { name: proposal.author.display_name })}</p>
    <${Edited} at=${proposal.edited_at} />
    <p class="status" data-status=${proposal.status}>
      <span class="badge">${t(`proposal.status.${proposal.status}`)}</span>
      ${" "}${decidedText(proposal)}
    </p>
    <${Tally} proposal=${proposal} count=${count} threshold=${event.vote_threshold} />
    <${ErrorBox} error=${action.error} />
    <div class="actions">
      ${pending && open &&
      html`<button type="button" class=${voted ? "secondary" : ""} aria-pressed=${voted ? "true" : "false"}
          onClick=${vote} disabled=${action.busy}>
          ${t(voted ? "proposal.withdraw" : "proposal.vote")}
        </button>`}
      ${admin && pending &&
      html`<button type="button" onClick=${() => decide("ACCEPTED")}>${t("proposal.accept")}</button>
        <button type="button" onClick=${() => decide("REJECTED")}>${t("proposal.reject")}</button>`}
      ${editable && !editing &&
      html`<button type="button" class="secondary" onClick=${() => setEditing(true)}>${t("proposal.edit")}</button>`}
      ${mine && pending && open && !board.ended &&
      html`<button type="button" class="secondary" onClick=${withdraw}>${t("proposal.withdraw_own")}</button>`}
      ${(admin || mine) && proposal.status !== "DELETED" &&
      html`<button type="button" class="danger" onClick=${() => decide("DELETED")}>${t("proposal.delete")}</button>`}
    </div>
    <${Comments} proposal=${proposal} board=${board} admin=${admin} />
  </li>`;
}

/** Its author changes a pending proposal's words: refused (409 ``proposal_has_votes``)
 * once someone voted, unless the event allows edits with votes. */
function EditProposal({ proposal, url, done }) {
  const [title, setTitle] = useState(proposal.title);
  const [body, setBody] = useState(proposal.body);
  const action = useAction();
  const ids = { title: `edit-title-${proposal.id}`, body: `edit-body-${proposal.id}` };
  const first = useRef(null);
  useEffect(() => first.current?.focus(), []); // it replaced the button a keyboard user pressed
  const save = (e) => {
    e.preventDefault();
    action.run(async () => {
      await patch(url, { title, body }); // the stream's proposal.updated shows and announces it
      done();
    });
  };
  return html`<form class="edit" onSubmit=${save}>
    <div class="field">
      <label for=${ids.title}>${t("proposal.edit.title")}</label>
      <input id=${ids.title} ref=${first} value=${title} onInput=${(e) => setTitle(e.target.value)} required maxlength="200" />
    </div>
    <div class="field">
      <label for=${ids.body}>${t("proposal.edit.body")}</label>
      <textarea id=${ids.body} value=${body} onInput=${(e) => setBody(e.target.value)}></textarea>
    </div>
    <${ErrorBox} error=${action.error} />
    <button type="submit" disabled=${action.busy}>${t("proposal.edit.save")}</button>
    <button type="button" class="secondary" onClick=${done}>${t("cancel")}</button>
  </form>`;
}

/** "edited" and when, on a proposal or comment its author changed. */
function Edited({ at }) {
  if (!at) return null;
  return html`<span class="edited muted"> ${t("edited")} <time datetime=${at}>${new Date(at).toLocaleString()}</time></span>`;
}

function decidedText(proposal) {
  const by = proposal.decided_by;
  if (!by || proposal.status === "PENDING") return "";
  if (by.kind === "auto") return t("proposal.decided.auto");
  return t("proposal.decided.by", { name: by.display_name });
}

function Tally({ proposal, count, threshold }) {
  if (count === null) return html`<p class="tally muted">${t("proposal.votes_hidden")}</p>`;
  const text = threshold ? t("proposal.votes_of", { count, threshold }) : t("proposal.votes", { count });
  return html`<div class="tally">
    <span class="count" data-count=${count}>${text}</span>
    ${threshold &&
    html`<progress max=${threshold} value=${Math.min(count, threshold)}
        aria-label=${t("proposal.progress", { title: proposal.title })}></progress>`}
  </div>`;
}

function Comments({ proposal, board, admin }) {
  const [open, setOpen] = useState(false);
  const [text, setText] = useState("");
  const action = useAction();
  const thread = board.comments.get(proposal.id);
  const base = `/events/${board.eventId}/proposals/${proposal.id}/comments`;

  const toggle = async (e) => {
    setOpen(e.target.open);
    if (e.target.open && !thread) {
      const page = await get(`${base}?limit=100`).catch(() => null);
      const loaded = board.comments.get(proposal.id) ?? new Map();
      for (const comment of page?.items ?? []) if (!loaded.has(comment.id)) loaded.set(comment.id, comment);
      board.comments.set(proposal.id, loaded);
      board.onChange();
    }
  };
  const submit = (e) => {
    e.preventDefault();
    action.run(async () => {
      await post(base, { body: text });
      setText("");
    });
  };
  const comments = thread ? [...thread.values()].sort((a, b) => (a.created_at < b.created_at ? -1 : 1)) : [];
  const id = `comment-${proposal.id}`;
  const writable = board.event.status === "OPEN" && proposal.status !== "DELETED" && !board.ended;
  return html`<details onToggle=${toggle}>
    <summary>${thread ? t("comments.title", { count: comments.length }) : t("comments.label")}</summary>
    ${open &&
    html`<ul class="comments">
        ${comments.map(
          (c) => html`<${Comment} key=${c.id} comment=${c} url=${`${base}/${c.id}`} board=${board} admin=${admin}
            writable=${writable} />`,
        )}
      </ul>
      ${writable &&
      html`<form class="inline" onSubmit=${submit}>
        <label for=${id}>${t("comments.add")}</label>
        <input id=${id} value=${text} onInput=${(e) => setText(e.target.value)} required maxlength="2000" />
        <button type="submit" disabled=${action.busy}>${t("comments.submit")}</button>
        <${ErrorBox} error=${action.error} />
      </form>`}`}
  </details>`;
}

/** One comment: its author edits or deletes it, an organizer or admin deletes it; a
 * deleted one stays as a tombstone so the thread keeps its shape. */
function Comment({ comment: c, url, board, admin, writable }) {
  const [editing, setEditing] = useState(false);
  const [text, setText] = useState(c.body);
  const action = useAction();
  const mine = c.author.id === board.me.id;
  const input = useRef(null);
  useEffect(() => editing && input.current?.focus(), [editing]);
  if (c.deleted) {
    return html`<li class="tombstone" data-comment=${c.id}><strong>${c.author.display_name}</strong>: ${t("comments.deleted")}</li>`;
  }
  const remove = () => {
    if (confirm(t("comments.delete.confirm"))) action.run(() => del(url));
  };
  const save = (e) => {
    e.preventDefault();
    action.run(async () => {
      await patch(url, { body: text });
      setEditing(false);
    });
  };
  const id = `comment-edit-${c.id}`;
  return html`<li data-comment=${c.id}>
    <strong>${c.author.display_name}</strong>:
    ${editing
      ? html`<form class="inline" onSubmit=${save}>
          <label for=${id}>${t("comments.edit.label")}</label>
          <input id=${id} ref=${input} value=${text} onInput=${(e) => setText(e.target.value)} required maxlength="2000" />
          <button type="submit" disabled=${action.busy}>${t("comments.edit.save")}</button>
          <button type="button" class="secondary" onClick=${() => setEditing(false)}>${t("cancel")}</button>
        </form>`
      : html` <span class="body">${c.body}</span><${Edited} at=${c.edited_at} />`}
    ${writable && !editing &&
    html`<span class="actions">
      ${mine && html`<button type="button" class="link" onClick=${() => { setText(c.body); setEditing(true); }}>${t("comments.edit")}</button>`}
      ${(mine || admin) && html`<button type="button" class="link danger" onClick=${remove}>${t("comments.delete")}</button>`}
    </span>`}
    <${ErrorBox} error=${action.error} />
  </li>`;
}
