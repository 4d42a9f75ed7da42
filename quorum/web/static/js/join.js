// An invitation link (/#/join/{token}): the event's preview, then join or ask to join.
// A request waits here, checking every few seconds, and opens the board once approved.
import { html, useEffect, useState } from "../vendor/htm-preact-standalone.js";
import { get, post } from "./api.js";
import { t } from "./i18n.js";
import { ErrorBox, go, useAction } from "./ui.js";

export function JoinPage({ token }) {
  const [preview, setPreview] = useState(null);
  const [waiting, setWaiting] = useState(null); // the event id of my pending request
  const [rejected, setRejected] = useState(false);
  const { error, busy, run } = useAction();

  useEffect(() => {
    run(async () => setPreview(await get(`/invitations/${encodeURIComponent(token)}`)));
  }, [token]);

  useEffect(() => {
    if (!waiting) return undefined;
    const timer = setInterval(async () => {
      const mine = await get(`/events/${waiting}/memberships/me`).catch(() => null);
      if (mine?.status === "APPROVED") go(`#/events/${waiting}`);
      if (mine?.status === "REJECTED") setRejected(true);
    }, 1500);
    return () => clearInterval(timer);
  }, [waiting]);

  const accept = () =>
    run(async () => {
      const membership = await post(`/invitations/${encodeURIComponent(token)}/accept`);
      if (membership.status === "APPROVED") go(`#/events/${membership.event_id}`);
      else setWaiting(membership.event_id);
    });

  return html`<section class="panel">
    <h1 tabindex="-1">${preview ? preview.title : t("join.title")}</h1>
    ${preview &&
    html`<p>${preview.description}</p>
      <p class="muted">${t("join.organized_by", { name: preview.organizer.display_name })}</p>`}
    <${ErrorBox} error=${error} />
    ${rejected
      ? html`<p role="status">${t("join.rejected")}</p>`
      : waiting
        ? html`<p role="status">${t("join.asked")}</p>`
        : preview &&
          html`<button type="button" onClick=${accept} disabled=${busy}>
            ${t(preview.auto_approve ? "join.join" : "join.ask")}
          </button>`}
  </section>`;
}
