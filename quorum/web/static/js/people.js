// For organizers and admins: join requests (live, from the board's state), members with
// their roles, removal, and invitation links (made, listed, revoked).
import { html, useEffect, useState } from "../vendor/htm-preact-standalone.js";
import { del, get, patch, post } from "./api.js";
import { t } from "./i18n.js";
import { ErrorBox, announce, useAction } from "./ui.js";

export function People({ board, me }) {
  const action = useAction();
  const all = [...board.memberships.values()];
  const requests = all.filter((m) => m.status === "PENDING");
  const members = all.filter((m) => m.status === "APPROVED");
  const url = (m) => `/events/${board.eventId}/memberships/${m.id}`;
  const decide = (m, status) => action.run(() => patch(url(m), { status }));
  const setRole = (m, role) => action.run(() => patch(url(m), { role }));
  const remove = (m) => {
    if (confirm(t("members.remove.confirm", { name: m.user.display_name }))) action.run(() => del(url(m)));
  };
  return html`<section class="panel people" aria-labelledby="people-title">
    <h2 id="people-title">${t("members.title")}</h2>
    <${ErrorBox} error=${action.error} />
    <h3>${t("members.requests")}</h3>
    ${requests.length === 0 && html`<p class="muted">${t("members.none_pending")}</p>`}
    <ul class="requests">
      ${requests.map(
        (m) => html`<li key=${m.id} data-membership=${m.id}>
          <span>${m.user.display_name}</span>
          <button type="button" onClick=${() => decide(m, "APPROVED")}>${t("members.approve")}</button>
          <button type="button" class="secondary" onClick=${() => decide(m, "REJECTED")}>${t("members.reject")}</button>
        </li>`,
      )}
    </ul>
    <ul class="members">
      ${members.map((m) => html`<${Member} key=${m.id} membership=${m} me=${me} setRole=${setRole} remove=${remove} />`)}
    </ul>
    <${Invite} eventId=${board.eventId} />
  </section>`;
}

function Member({ membership: m, me, setRole, remove }) {
  const fixed = m.role === "ORGANIZER" || m.user_id === me.id;
  const id = `role-${m.id}`;
  return html`<li data-membership=${m.id}>
    <span>${m.user.display_name}</span>
    ${fixed
      ? html`<span class="muted">${t(`role.${m.role}`)}</span>`
      : html`<label class="visually-hidden" for=${id}>${t("members.role", { name: m.user.display_name })}</label>
          <select id=${id} value=${m.role} onChange=${(e) => setRole(m, e.target.value)}>
            <option value="MEMBER">${t("role.MEMBER")}</option>
            <option value="ADMIN">${t("role.ADMIN")}</option>
          </select>
          <button type="button" class="danger" onClick=${() => remove(m)}
            aria-label=${`${t("members.remove")}: ${m.user.display_name}`}>${t("members.remove")}</button>`}
  </li>`;
}

function Invite({ eventId }) {
  const [auto, setAuto] = useState(false);
  const [link, setLink] = useState("");
  const [links, setLinks] = useState(null); // the event's invitations, newest first
  const action = useAction();
  const base = `/events/${eventId}/invitations`;
  const reload = async () => setLinks((await get(`${base}?limit=100`)).items);
  useEffect(() => {
    action.run(reload);
  }, [eventId]);
  const create = () =>
    action.run(async () => {
      const invitation = await post(base, { auto_approve: auto });
      setLink(`${location.origin}/#/join/${invitation.token}`);
      await reload();
    });
  const revoke = (invitation) => {
    if (!confirm(t("invite.revoke.confirm"))) return;
    action.run(async () => {
      await del(`${base}/${invitation.id}`);
      announce(t("invite.revoked.done"));
      await reload();
    });
  };
  const copy = async () => {
    await navigator.clipboard?.writeText(link).catch(() => {});
    announce(t("invite.copied"));
  };
  return html`<div class="invite">
    <h3>${t("invite.title")}</h3>
    <div class="check">
      <input id="invite-auto" type="checkbox" checked=${auto} onChange=${(e) => setAuto(e.target.checked)} />
      <label for="invite-auto">${t("invite.auto")}</label>
    </div>
    <button type="button" onClick=${create} disabled=${action.busy}>${t("invite.create")}</button>
    <${ErrorBox} error=${action.error} />
    ${link &&
    html`<div class="field">
      <label for="invite-link">${t("invite.link")}</label>
      <input id="invite-link" readonly value=${link} onFocus=${(e) => e.target.select()} />
      <button type="button" onClick=${copy}>${t("invite.copy")}</button>
    </div>`}
    ${links && links.length === 0 && html`<p class="muted">${t("invite.none")}</p>`}
    <ul class="invitations">
      ${(links ?? []).map((invitation, i) => html`<${Invitation} key=${invitation.id} invitation=${invitation}
        number=${links.length - i} revoke=${revoke} busy=${action.busy} />`)}
    </ul>
  </div>`;
}

function Invitation({ invitation: inv, number, revoke, busy }) {
  const expired = new Date(inv.expires_at).getTime() <= Date.now();
  const state = inv.revoked_at ? "revoked" : expired ? "expired" : "active";
  const uses = inv.max_uses === null ? t("invite.uses", { n: inv.uses }) : t("invite.uses_of", { n: inv.uses, max: inv.max_uses });
  const name = t("invite.name", { n: number });
  return html`<li data-invitation=${inv.id} data-state=${state}>
    <strong>${name}</strong>
    <span class="badge">${t(`invite.state.${state}`)}</span>
    <span class="muted"> ${t(inv.auto_approve ? "invite.kind.auto" : "invite.kind.ask")} · ${uses} ·
      ${t("invite.expires")} <time datetime=${inv.expires_at}>${new Date(inv.expires_at).toLocaleString()}</time></span>
    ${state === "active" &&
    html` <button type="button" class="danger" onClick=${() => revoke(inv)} disabled=${busy}
        aria-label=${t("invite.revoke.label", { name })}>${t("invite.revoke")}</button>`}
  </li>`;
}
