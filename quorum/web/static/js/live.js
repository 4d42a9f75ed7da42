// One board's live state: a snapshot, then every stream message applied in seq order,
// over one EventSource. Entries at or below the last applied seq are dropped, so a
// replay never doubles anything; a ``snapshot`` (first connect, or a position the log no
// longer holds) replaces the whole state. After a cut the browser reconnects with
// Last-Event-ID; if it gives up (an HTTP error), we reopen with ?last_event_id=.
// Votes are applied optimistically: ``pending`` holds my unconfirmed change per proposal
// until the stream (or a failed request) settles it.
import { API, ApiError, del, get, post } from "./api.js";

const TYPES = [
  "snapshot", "event.updated", "event.deleted", "proposal.created", "proposal.updated",
  "vote.cast", "vote.withdrawn", "comment.created", "comment.updated", "comment.deleted",
  "membership.requested", "membership.updated", "membership.joined", "membership.removed",
];

export class Board {
  constructor(eventId, me, { onChange, onMessage }) {
    this.eventId = eventId;
    this.me = me;
    this.onChange = onChange;
    this.onMessage = onMessage || (() => {});
    this.event = null;
    this.proposals = new Map();
    this.memberships = new Map();
    this.comments = new Map(); // proposal id -> Map(comment id -> comment), once loaded
    this.myVotes = new Set();
    this.pending = new Map(); // proposal id -> +1 | -1, my vote not yet seen on the stream
    this.seq = null;
    this.connection = "connecting";
    this.ended = null; // why the stream ended for good: removed, left, deleted, forbidden, pending
    this.source = null;
    this.retryTimer = null;
    this.catchUpTo = null;
    this.recent = null;
    this.votesLoaded = false;
  }

  open() {
    const resume = this.seq === null ? "" : `?last_event_id=${this.seq}`;
    const source = new EventSource(`${API}/events/${this.eventId}/stream${resume}`);
    this.source = source;
    source.onopen = () => this.opened();
    source.onerror = () => this.failed(source);
    for (const type of TYPES) {
      source.addEventListener(type, (message) => this.receive(JSON.parse(message.data)));
    }
  }

  close() {
    clearTimeout(this.retryTimer);
    this.source?.close();
    this.source = null;
  }

  setConnection(state) {
    if (this.connection !== state) {
      this.connection = state;
      this.onChange();
    }
  }

  async opened() {
    if (this.seq === null) return; // the snapshot that follows makes it live
    this.setConnection("catching_up");
    try {
      const event = await get(`/events/${this.eventId}`);
      this.catchUpTo = event.last_seq;
      this.settle();
    } catch {
      this.catchUpTo = null;
      this.setConnection("live");
    }
  }

  settle() {
    if (this.connection === "catching_up" && this.seq !== null && this.seq >= (this.catchUpTo ?? 0)) {
      this.setConnection("live");
    }
  }

  failed(source) {
    if (this.ended || source !== this.source) return;
    if (source.readyState === EventSource.CONNECTING) {
      this.setConnection("reconnecting"); // the browser retries with Last-Event-ID
      return;
    }
    // The browser gave up (an HTTP error answer): find out why, then reopen or stop.
    source.close();
    this.setConnection("reconnecting");
    this.retryTimer = setTimeout(() => this.reopen(), 2000);
  }

  async reopen() {
    try {
      const mine = await get(`/events/${this.eventId}/memberships/me`);
      if (mine.status === "PENDING") return this.end("pending"); // a request, not yet a member
      if (mine.status !== "APPROVED") return this.end("forbidden");
    } catch (error) {
      if (error instanceof ApiError && [403, 404].includes(error.status)) {
        this.end(error.status === 404 && error.code === "event_not_found" ? "deleted" : "forbidden");
        return;
      }
      if (error instanceof ApiError && error.status === 401) return this.end("forbidden");
    }
    if (!this.ended) this.open();
  }

  /** Start over from a snapshot: a new stream without a position. */
  resync() {
    if (this.ended) return;
    this.close();
    this.seq = null;
    this.open();
  }

  end(reason) {
    this.ended = reason;
    this.connection = "ended";
    this.close();
    this.onChange();
  }

  receive(message) {
    if (message.type === "snapshot") {
      this.applySnapshot(message);
      this.recent?.(message); // the timeline reads the log again: it may have missed entries
    } else {
      if (this.seq !== null && message.seq <= this.seq) return; // already applied
      this.seq = message.seq;
      this.apply(message.type, message.data);
      this.onMessage(message);
      this.recent?.(message); // the timeline, while it is shown
    }
    if (this.connection === "connecting" || this.connection === "reconnecting") {
      this.setConnection(this.catchUpTo === null || this.seq >= this.catchUpTo ? "live" : "catching_up");
    }
    this.settle();
    this.onChange();
  }

  applySnapshot({ seq, data }) {
    this.seq = seq;
    this.event = data.event;
    this.proposals = new Map(data.proposals.map((p) => [p.id, p]));
    this.memberships = new Map(data.memberships.map((m) => [m.id, m]));
    this.pending.clear();
    this.comments.clear();
    this.onMessage({ type: "snapshot", seq });
  }

  apply(type, data) {
    switch (type) {
      case "event.updated": {
        // Hidden tallies are shown once the event closes: a fresh snapshot has the counts.
        const reveals = this.event?.hidden_tallies && this.event.status === "OPEN" && data.status === "CLOSED";
        this.event = { ...this.event, ...data };
        if (reveals) setTimeout(() => this.resync(), 0);
        break;
      }
      case "event.deleted":
        this.end("deleted");
        break;
      case "proposal.created":
      case "proposal.updated":
        this.proposals.set(data.id, data);
        break;
      case "vote.cast":
      case "vote.withdrawn":
        this.applyVote(type, data);
        break;
      case "comment.created":
      case "comment.updated":
      case "comment.deleted": {
        this.comments.get(data.proposal_id)?.set(data.id, data); // threads not opened load later
        break;
      }
      case "membership.requested":
      case "membership.updated":
      case "membership.joined":
        this.memberships.set(data.id, data);
        break;
      case "membership.removed":
        this.memberships.delete(data.id);
        if (data.user_id === this.me.id) this.end(data.reason === "left" ? "left" : "removed");
        break;
    }
  }

  applyVote(type, data) {
    const proposal = this.proposals.get(data.proposal_id);
    if (!proposal) return;
    proposal.vote_count = data.vote_count;
    const mine = data.user?.id === this.me.id;
    if (mine) {
      if (type === "vote.cast") this.myVotes.add(data.proposal_id);
      else this.myVotes.delete(data.proposal_id);
    }
    if (mine || (data.user === null && this.pending.has(data.proposal_id))) {
      this.pending.delete(data.proposal_id);
    }
  }

  /** Vote, or withdraw my vote: shown at once, settled by the stream, undone if refused. */
  async toggleVote(proposalId) {
    const change = this.voted(proposalId) ? -1 : +1;
    this.pending.set(proposalId, change);
    this.onChange();
    const url = `/events/${this.eventId}/proposals/${proposalId}/votes`;
    try {
      if (change > 0) await post(url);
      else await del(`${url}/me`);
      if (change > 0) this.myVotes.add(proposalId);
      else this.myVotes.delete(proposalId);
    } catch (error) {
      this.pending.delete(proposalId);
      if (error.code === "already_voted") this.myVotes.add(proposalId);
      if (error.code === "vote_not_found") this.myVotes.delete(proposalId);
      this.onChange();
      throw error;
    }
  }

  /** The count to show: the stream's, plus my change the stream has not confirmed yet. */
  count(proposal) {
    if (proposal.vote_count === null || proposal.vote_count === undefined) return null;
    return proposal.vote_count + (this.pending.get(proposal.id) ?? 0);
  }

  voted(proposalId) {
    const change = this.pending.get(proposalId);
    if (change !== undefined) return change > 0;
    return this.myVotes.has(proposalId);
  }

  myRole() {
    for (const membership of this.memberships.values()) {
      if (membership.user_id === this.me.id && membership.status === "APPROVED") return membership.role;
    }
    return null;
  }
}
