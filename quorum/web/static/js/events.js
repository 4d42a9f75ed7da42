// My events (approved, pending and declined requests) and the form that creates one.
import { html, useEffect, useState } from "../vendor/htm-preact-standalone.js";
import { get, post } from "./api.js";
import { t } from "./i18n.js";
import { ErrorBox, Field, go, useAction } from "./ui.js";

export function EventsPage() {
  const [events, setEvents] = useState(null);
  const { error, run } = useAction();
  useEffect(() => {
    run(async () => setEvents((await get("/events?membership=all&limit=100")).items));
  }, []);
  return html`<section>
    <h1 tabindex="-1">${t("events.title")}</h1>
    <${ErrorBox} error=${error} />
    ${events === null
      ? html`<p>${t("loading")}</p>`
      : events.length === 0
        ? html`<p>${t("events.none")}</p>`
        : html`<ul class="events">${events.map((event) => html`<${EventItem} key=${event.id} event=${event} />`)}</ul>`}
    <${CreateEvent} />
  </section>`;
}

function EventItem({ event }) {
  const mine = event.my_membership;
  const approved = mine.status === "APPROVED";
  return html`<li class="panel event-item">
    ${approved ? html`<a href=${`#/events/${event.id}`}>${event.title}</a>` : html`<span>${event.title}</span>`}
    <span class="badge">${t(`events.status.${event.status}`)}</span>
    <span class="muted">${approved ? t(`role.${mine.role}`) : t(`events.my.${mine.status}`)}</span>
  </li>`;
}

function CreateEvent() {
  const [title, setTitle] = useState("");
  const [description, setDescription] = useState("");
  const [threshold, setThreshold] = useState("2");
  const [deadline, setDeadline] = useState("");
  const [anonymous, setAnonymous] = useState(false);
  const [hidden, setHidden] = useState(false);
  const { error, busy, run } = useAction();
  const submit = (e) => {
    e.preventDefault();
    run(async () => {
      const event = await post("/events", {
        title,
        description,
        vote_threshold: threshold ? Number(threshold) : null,
        closes_at: deadline ? new Date(deadline).toISOString() : null,
        anonymous_votes: anonymous,
        hidden_tallies: hidden,
      });
      go(`#/events/${event.id}`);
    });
  };
  return html`<section class="panel">
    <h2>${t("events.create")}</h2>
    <form onSubmit=${submit}>
      <${Field} id="event-title" label=${t("events.field.title")} value=${title} onInput=${setTitle} required maxlength="200" />
      <div class="field">
        <label for="event-description">${t("events.field.description")}</label>
        <textarea id="event-description" value=${description} onInput=${(e) => setDescription(e.target.value)}></textarea>
      </div>
      <${Field} id="event-threshold" label=${t("events.field.threshold")} type="number" min="1"
        value=${threshold} onInput=${setThreshold} />
      <${Field} id="event-deadline" label=${t("events.field.deadline")} type="datetime-local"
        value=${deadline} onInput=${setDeadline} />
      <div class="check">
        <input id="event-anonymous" type="checkbox" checked=${anonymous} onChange=${(e) => setAnonymous(e.target.checked)} />
        <label for="event-anonymous">${t("events.field.anonymous")}</label>
      </div>
      <div class="check">
        <input id="event-hidden" type="checkbox" checked=${hidden} onChange=${(e) => setHidden(e.target.checked)} />
        <label for="event-hidden">${t("events.field.hidden")}</label>
      </div>
      <${ErrorBox} error=${error} />
      <button type="submit" disabled=${busy}>${t("events.submit")}</button>
    </form>
  </section>`;
}
