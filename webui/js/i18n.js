// Messages and formats in the window's language (B7): en, uk, ru.
//
// The texts come from the agent (/i18n/{lang}.json, agent/i18n/*.json), the same
// files the tray and popups use. A key missing in the language falls back to English,
// a key missing everywhere shows as itself. Times from the API are UTC; they are
// shown in the local time zone.

import { messagesOf as fetchMessages } from "./api.js";

let messages = {};
let english = {};
let current = "en";

export async function setLanguage(lang) {
  english = Object.keys(english).length ? english : await fetchMessages("en");
  messages = lang === "en" ? english : await fetchMessages(lang);
  current = lang;
  document.documentElement.lang = lang;
}

export function language() {
  return current;
}

export function has(key) {
  return key in messages || key in english;
}

export function t(key, values) {
  let text = messages[key] || english[key] || key;
  if (values) {
    text = text.replace(/\{(\w+)\}/g, (whole, name) =>
      values[name] === undefined || values[name] === null ? whole : String(values[name]),
    );
  }
  return text;
}

// Fill [data-i18n] (text), [data-i18n-title], [data-i18n-placeholder], [data-i18n-aria].
export function apply(root) {
  for (const el of root.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
  for (const el of root.querySelectorAll("[data-i18n-title]")) el.title = t(el.dataset.i18nTitle);
  for (const el of root.querySelectorAll("[data-i18n-placeholder]"))
    el.placeholder = t(el.dataset.i18nPlaceholder);
  for (const el of root.querySelectorAll("[data-i18n-aria]"))
    el.setAttribute("aria-label", t(el.dataset.i18nAria));
}

const LOCALES = { en: "en-GB", uk: "uk-UA", ru: "ru-RU" };

function locale() {
  return LOCALES[current] || "en-GB";
}

export function time(iso) {
  if (!iso) return "";
  const d = new Date(iso);
  const today = new Date();
  const sameDay = d.toDateString() === today.toDateString();
  const opts = sameDay
    ? { hour: "2-digit", minute: "2-digit", second: "2-digit" }
    : { day: "2-digit", month: "2-digit", hour: "2-digit", minute: "2-digit" };
  return d.toLocaleString(locale(), opts);
}

export function dateTime(iso) {
  if (!iso) return "";
  return new Date(iso).toLocaleString(locale(), {
    year: "numeric",
    month: "2-digit",
    day: "2-digit",
    hour: "2-digit",
    minute: "2-digit",
    second: "2-digit",
  });
}

export function day(isoDate) {
  if (!isoDate) return "";
  const [y, m, d] = isoDate.split("-").map(Number);
  return new Date(y, m - 1, d).toLocaleDateString(locale(), { day: "2-digit", month: "2-digit" });
}

export function duration(seconds) {
  if (seconds === null || seconds === undefined) return "";
  const s = Math.max(0, Math.round(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const rest = String(s % 60).padStart(2, "0");
  return h ? `${h}:${String(m).padStart(2, "0")}:${rest}` : `${m}:${rest}`;
}

export function number(n) {
  if (n === null || n === undefined) return "";
  return Number(n).toLocaleString(locale());
}

// A server error in words (contracts.md §4: {"error": {"code", "message", "field"?}}):
// the message of error.<code>, else of the code itself when it is a message key of its
// own (the server sends an error's key without "error.": "file.corrupt",
// "import.column_missing", "number.invalid"), else the server's English text.
// A message may name the field ({field}); `values` adds what the caller knows.
// tests/i18n/test_error_messages.py checks every code the API can send has one.
export function errorText(err, values) {
  if (!err) return "";
  const code = err.code || "";
  const keys = code ? [`error.${code}`] : [];
  if (code.includes(".")) keys.push(code);
  const key = keys.find((k) => has(k));
  if (key) return t(key, { field: err.field, ...(values || {}) });
  return err.message || String(err);
}
