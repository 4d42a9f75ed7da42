// My account: display name, password change, sign out everywhere.
import { html, useState } from "../vendor/htm-preact-standalone.js";
import { patch, post } from "./api.js";
import { t } from "./i18n.js";
import { ErrorBox, Field, announce, useAction } from "./ui.js";

export function AccountPage({ me, onChange, onSignedOut }) {
  const [name, setName] = useState(me.display_name);
  const [current, setCurrent] = useState("");
  const [next, setNext] = useState("");
  const [done, setDone] = useState("");
  const nameAction = useAction();
  const passwordAction = useAction();
  const everywhere = useAction();

  const saveName = (e) => {
    e.preventDefault();
    nameAction.run(async () => {
      onChange(await patch("/me", { display_name: name }));
      setDone(t("account.saved"));
      announce(t("account.saved"));
    });
  };
  const changePassword = (e) => {
    e.preventDefault();
    passwordAction.run(async () => {
      await post("/me/password", { current_password: current, new_password: next });
      setCurrent("");
      setNext("");
      setDone(t("account.changed"));
      announce(t("account.changed"));
    });
  };
  const signOutEverywhere = () =>
    everywhere.run(async () => {
      await post("/me/sessions/revoke");
      onSignedOut();
    });

  return html`<section>
    <h1 tabindex="-1">${t("account.title")}</h1>
    <p role="status">${done}</p>
    <form class="panel" onSubmit=${saveName}>
      <${Field} id="account-name" label=${t("account.name")} value=${name} onInput=${setName} required />
      <${ErrorBox} error=${nameAction.error} />
      <button type="submit" disabled=${nameAction.busy}>${t("account.save_name")}</button>
    </form>
    <form class="panel" onSubmit=${changePassword}>
      <h2>${t("account.password")}</h2>
      <${Field} id="account-current" label=${t("account.current")} type="password" value=${current}
        onInput=${setCurrent} autocomplete="current-password" required />
      <${Field} id="account-new" label=${t("account.new")} type="password" value=${next}
        onInput=${setNext} autocomplete="new-password" minlength="8" required />
      <${ErrorBox} error=${passwordAction.error} />
      <button type="submit" disabled=${passwordAction.busy}>${t("account.change")}</button>
    </form>
    <div class="panel">
      <${ErrorBox} error=${everywhere.error} />
      <button type="button" class="danger" onClick=${signOutEverywhere}>${t("account.everywhere")}</button>
    </div>
  </section>`;
}
