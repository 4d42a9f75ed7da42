// Translations: one catalogue per language (../i18n/*.js), chosen from the browser's
// language unless the person picked one (kept in localStorage).
import en from "../i18n/en.js";
import ko from "../i18n/ko.js";

export const LANGUAGES = { en: "English", ko: "한국어" };
const CATALOGUES = { en, ko };
const KEY = "quorum.lang";

function initial() {
  const saved = localStorage.getItem(KEY);
  if (saved in CATALOGUES) return saved;
  return (navigator.language || "en").toLowerCase().startsWith("ko") ? "ko" : "en";
}

let current = initial();
document.documentElement.lang = current;

export function language() {
  return current;
}

export function setLanguage(lang) {
  current = lang in CATALOGUES ? lang : "en";
  localStorage.setItem(KEY, current);
  document.documentElement.lang = current;
}

/** The string for ``key`` with ``{name}`` placeholders filled in. */
export function t(key, params = {}) {
  const text = CATALOGUES[current][key] ?? en[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (_, name) => String(params[name] ?? ""));
}
