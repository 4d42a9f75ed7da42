// Small shared pieces: the polite announcer, error text, labelled fields, routing.
import { html, useState } from "../vendor/htm-preact-standalone.js";
import { t } from "./i18n.js";

/** Say ``text`` to screen readers without moving focus (the aria-live region in main.js). */
export function announce(text) {
  const region = document.getElementById("announcer");
  if (!region) return;
  region.textContent = "";
  setTimeout(() => (region.textContent = text), 50);
}

export function errorText(error) {
  if (!error) return "";
  if (error.status === 0) return t("error.network");
  const detail = error.problem?.detail;
  return detail ? `${detail} (${error.code})` : t("error.generic", { code: error.code });
}

export function ErrorBox({ error }) {
  return html`<p class="error" role="alert">${error ? errorText(error) : ""}</p>`;
}

export function Field({ id, label, type = "text", value, onInput, ...rest }) {
  return html`<div class="field">
    <label for=${id}>${label}</label>
    <input id=${id} type=${type} value=${value} onInput=${(e) => onInput(e.target.value)} ...${rest} />
  </div>`;
}

/** A submit handler that runs ``action``, keeps its error, and disables the form meanwhile. */
export function useAction() {
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const run = async (action) => {
    setBusy(true);
    setError(null);
    try {
      return await action();
    } catch (caught) {
      setError(caught);
      return undefined;
    } finally {
      setBusy(false);
    }
  };
  return { error, busy, run, setError };
}

export function go(hash) {
  if (location.hash === hash) window.dispatchEvent(new HashChangeEvent("hashchange"));
  else location.hash = hash;
}

export function formatDuration(ms) {
  const minutes = Math.max(0, Math.floor(ms / 60000));
  const days = Math.floor(minutes / 1440);
  const hours = Math.floor((minutes % 1440) / 60);
  const rest = minutes % 60;
  if (days) return `${days}d ${hours}h`;
  if (hours) return `${hours}h ${rest}m`;
  return `${rest}m ${Math.max(0, Math.floor(ms / 1000) % 60)}s`;
}
