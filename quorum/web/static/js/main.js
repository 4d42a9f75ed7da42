// The page's entry point: who is logged in (GET /me with the session cookie), the
// header with navigation and language, and the route in the URL's hash:
// #/ my events, #/events/{id} a board, #/join/{token} an invitation, #/account.
import { html, render, useEffect, useState } from "../vendor/htm-preact-standalone.js";
import { get, logout, whenUnauthorized } from "./api.js";
import { AccountPage } from "./account.js";
import { AuthPage } from "./auth.js";
import { BoardPage } from "./board.js";
import { EventsPage } from "./events.js";
import { LANGUAGES, language, setLanguage, t } from "./i18n.js";
import { JoinPage } from "./join.js";
import { ErrorBox, go } from "./ui.js";

function route() {
  const parts = location.hash.replace(/^#\/?/, "").split("/");
  if (parts[0] === "events" && parts[1]) return { page: "board", id: parts[1] };
  if (parts[0] === "join" && parts[1]) return { page: "join", token: parts[1] };
  if (parts[0] === "account") return { page: "account" };
  return { page: "events" };
}

function App() {
  const [me, setMe] = useState(undefined); // undefined: asking; null: logged out
  const [where, setWhere] = useState(route());
  const [, setLang] = useState(language());
  const [error, setError] = useState(null);

  useEffect(() => {
    whenUnauthorized(() => setMe(null));
    get("/me").then(setMe, (e) => {
      if (e.status !== 401) setError(e);
      setMe(null);
    });
    const onHash = () => setWhere(route());
    window.addEventListener("hashchange", onHash);
    return () => window.removeEventListener("hashchange", onHash);
  }, []);
  useEffect(() => {
    // A new page: move focus to its heading, so keyboard and screen reader users start there.
    requestAnimationFrame(() => document.querySelector("main h1")?.focus());
  }, [JSON.stringify(where), me === null]); // a new page, not the same one routed again

  const changeLanguage = (lang) => {
    setLanguage(lang);
    setLang(lang);
  };
  const signOut = async () => {
    await logout().catch(() => {});
    setMe(null);
    go("#/");
  };

  return html`
    <a class="skip" href="#main" onClick=${(e) => { e.preventDefault(); document.getElementById("main").focus(); }}>${t("app.skip")}</a>
    <header class="top">
      <a class="brand" href="#/">${t("app.name")}</a>
      ${me &&
      html`<nav aria-label=${t("nav.main")}>
        <a href="#/">${t("nav.events")}</a>
        <a href="#/account">${t("nav.account")} (${me.display_name})</a>
        <button type="button" class="link" onClick=${signOut}>${t("nav.logout")}</button>
      </nav>`}
      <label for="language" class="visually-hidden">${t("app.language")}</label>
      <select id="language" value=${language()} onChange=${(e) => changeLanguage(e.target.value)}>
        ${Object.entries(LANGUAGES).map(([code, name]) => html`<option value=${code}>${name}</option>`)}
      </select>
    </header>
    <main id="main" tabindex="-1">
      <${ErrorBox} error=${error} />
      ${me === undefined ? html`<p>${t("loading")}</p>` : me === null ? html`
        ${where.page === "join" && html`<p class="panel">${t("join.login_first")}</p>`}
        <${AuthPage} onLoggedIn=${setMe} />` : page(where, me, setMe)}
    </main>
    <div id="announcer" class="visually-hidden" aria-live="polite" role="status"></div>`;
}

function page(where, me, setMe) {
  switch (where.page) {
    case "board":
      return html`<${BoardPage} key=${where.id} eventId=${where.id} me=${me} />`;
    case "join":
      return html`<${JoinPage} token=${where.token} />`;
    case "account":
      return html`<${AccountPage} me=${me} onChange=${setMe} onSignedOut=${() => { setMe(null); go("#/"); }} />`;
    default:
      return html`<${EventsPage} />`;
  }
}

const root = document.getElementById("app");
root.textContent = "";
render(html`<${App} />`, root);
