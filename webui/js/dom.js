// Small DOM helpers: element builder, toasts, dialogs, a pager. No framework.

import { t, number } from "./i18n.js";

// h("button", {class: "primary", onclick: fn, "data-x": 1}, "text", child…)
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on") && typeof value === "function") {
      el.addEventListener(key.slice(2), value);
    } else if (key === "class") {
      el.className = value;
    } else if (key === "dataset") {
      Object.assign(el.dataset, value);
    } else if (key === "style" && typeof value === "object") {
      Object.assign(el.style, value);
    } else if (key in el && typeof value !== "string") {
      el[key] = value;
    } else if (value === true) {
      el.setAttribute(key, "");
    } else {
      el.setAttribute(key, value);
    }
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children) {
    if (child === undefined || child === null || child === false) continue;
    if (Array.isArray(child)) append(el, child);
    else el.append(child instanceof Node ? child : String(child));
  }
}

export function clear(el) {
  while (el.firstChild) el.firstChild.remove();
  return el;
}

export function debounce(fn, ms) {
  let timer = null;
  return (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), ms);
  };
}

export function toast(text, kind = "info", ms = 4000) {
  const box = document.getElementById("toasts");
  if (!box) return;
  const item = h("div", { class: `toast ${kind}`, role: kind === "error" ? "alert" : "status" }, text);
  box.append(item);
  setTimeout(() => item.remove(), ms);
}

// A modal dialog. actions: [{label, kind, onClick(close) → false keeps it open}]
export function modal({ title, body, actions = [], onClose, wide = false }) {
  const previous = document.activeElement;
  const backdrop = h("div", { class: "backdrop" });
  const content = h("div", { class: "dialog-body" });
  const footer = h("div", { class: "dialog-actions" });
  const dialog = h(
    "div",
    { class: `dialog${wide ? " wide" : ""}`, role: "dialog", "aria-modal": "true" },
    h("h2", {}, title || ""),
    content,
    footer,
  );
  backdrop.append(dialog);
  let done = false;
  function close() {
    if (done) return;
    done = true;
    backdrop.remove();
    document.removeEventListener("keydown", onKey, true);
    onClose && onClose();
    if (previous && previous.focus) previous.focus();
  }
  function onKey(e) {
    if (e.key === "Escape") {
      e.stopPropagation();
      e.preventDefault();
      close();
    }
  }
  for (const action of actions) {
    footer.append(
      h(
        "button",
        {
          class: action.kind || "",
          type: "button",
          dataset: action.id ? { action: action.id } : undefined,
          onclick: async () => {
            const keep = action.onClick ? await action.onClick(close) : undefined;
            if (keep !== false) close();
          },
        },
        action.label,
      ),
    );
  }
  if (typeof body === "function") body(content);
  else if (body) content.append(body);
  document.addEventListener("keydown", onKey, true);
  document.body.append(backdrop);
  const focusable = dialog.querySelector("input, select, textarea, button.primary, button");
  if (focusable) focusable.focus();
  return { close, element: dialog };
}

export function confirm(text, { okLabel, danger } = {}) {
  return new Promise((resolve) => {
    let answered = false;
    modal({
      title: t("dialog.confirm"),
      body: h("p", {}, text),
      onClose: () => answered || resolve(false),
      actions: [
        { label: t("action.cancel"), onClick: () => ((answered = true), resolve(false)) },
        {
          label: okLabel || t("action.ok"),
          kind: danger ? "danger" : "primary",
          onClick: () => ((answered = true), resolve(true)),
        },
      ],
    });
  });
}

// Paging controls for a list envelope {items, total, next_offset}.
export function pager({ offset, limit, total, nextOffset, shown, onPage }) {
  const from = shown ? offset + 1 : 0;
  const to = offset + shown;
  const label =
    total === null || total === undefined
      ? t("pager.range_open", { from: number(from), to: number(to) })
      : t("pager.range", { from: number(from), to: number(to), total: number(total) });
  return h(
    "div",
    { class: "pager" },
    h(
      "button",
      {
        type: "button",
        class: "icon",
        disabled: offset <= 0,
        "aria-label": t("pager.first"),
        title: t("pager.first"),
        onclick: () => onPage(0),
      },
      "«",
    ),
    h(
      "button",
      {
        type: "button",
        class: "icon",
        disabled: offset <= 0,
        "aria-label": t("pager.previous"),
        title: t("pager.previous"),
        onclick: () => onPage(Math.max(0, offset - limit)),
      },
      "‹",
    ),
    h("span", { class: "pager-label" }, label),
    h(
      "button",
      {
        type: "button",
        class: "icon",
        disabled: nextOffset === null || nextOffset === undefined,
        "aria-label": t("pager.next"),
        title: t("pager.next"),
        onclick: () => onPage(nextOffset),
      },
      "›",
    ),
  );
}

// Show server field errors beside inputs named like the fields (data-field="scope.name").
export function showFieldErrors(root, errors, scopeOf = (e) => e.scope) {
  for (const el of root.querySelectorAll(".field-error")) el.remove();
  for (const el of root.querySelectorAll(".invalid")) el.classList.remove("invalid");
  let first = null;
  for (const error of errors) {
    const key = scopeOf(error) ? `${scopeOf(error)}.${error.field}` : error.field;
    const holder = root.querySelector(`[data-field="${CSS.escape(key)}"]`);
    if (!holder) continue;
    holder.classList.add("invalid");
    holder.append(h("div", { class: "field-error", role: "alert" }, error.text || error.message));
    first = first || holder;
  }
  if (first) first.scrollIntoView({ block: "center" });
  return first;
}

export function empty(textKey) {
  return h("div", { class: "empty" }, t(textKey));
}

export function loading() {
  return h("div", { class: "loading", "aria-busy": "true" }, t("state.loading"));
}
