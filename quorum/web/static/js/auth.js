// Log in and register; both end with a browser session (cookie) and the /me body.
import { html, useState } from "../vendor/htm-preact-standalone.js";
import { login, post } from "./api.js";
import { t } from "./i18n.js";
import { ErrorBox, Field, useAction } from "./ui.js";

export function AuthPage({ onLoggedIn }) {
  const [registering, setRegistering] = useState(false);
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [name, setName] = useState("");
  const { error, busy, run, setError } = useAction();

  const submit = (e) => {
    e.preventDefault();
    run(async () => {
      if (registering) await post("/auth/register", { email, password, display_name: name });
      try {
        onLoggedIn(await login(email, password));
      } catch (caught) {
        if (caught.status === 401) caught.problem = { ...caught.problem, detail: t("auth.failed") };
        throw caught;
      }
    });
  };
  const title = t(registering ? "auth.register.title" : "auth.login.title");
  return html`<section class="auth panel">
    <h1 tabindex="-1">${title}</h1>
    <form onSubmit=${submit}>
      <${Field} id="email" label=${t("auth.email")} type="email" value=${email} onInput=${setEmail}
        autocomplete="username" required />
      ${registering &&
      html`<${Field} id="name" label=${t("auth.display_name")} value=${name} onInput=${setName}
        autocomplete="name" required />`}
      <${Field} id="password" label=${t("auth.password")} type="password" value=${password}
        onInput=${setPassword} required minlength=${registering ? 8 : 1}
        autocomplete=${registering ? "new-password" : "current-password"} />
      <${ErrorBox} error=${error} />
      <button type="submit" disabled=${busy}>${t(registering ? "auth.register" : "auth.login")}</button>
    </form>
    <button type="button" class="link" onClick=${() => { setRegistering(!registering); setError(null); }}>
      ${t(registering ? "auth.to_login" : "auth.to_register")}
    </button>
  </section>`;
}
