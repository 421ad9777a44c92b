// Call popups inside the window (live topic "popup"; C3, B6, B12, B13).
//
// The desktop popup is the call's loud voice, with its buttons; in the window a popup
// is a one-line strip under the tabs that says the same (the titles and lines of
// agent/desktop/popup_text.py) and does what the window does best: a click opens the
// call on the Phone page, where Hang up, the event form and the contact are. Only a
// missed call has a button of its own (Call back): there is no line left to act on.
//
// One strip per call, replaced as the call moves (dial → ring → answer → hang-up). A
// live call's strip stays while the call lasts (it goes when the call leaves the
// status's lines, should its hang-up be lost); an ended call's fades; a missed one
// stays until dismissed. On the Phone page the lines list shows live calls already, so
// there only their end is shown. Under DND a missed call whose ring was silenced stays
// silent, as on the desktop (agent/desktop/popups.py).

import { h } from "./dom.js";
import { t, duration } from "./i18n.js";

const FADE_MS = 8000;
const MAX_SHOWN = 3;
const LIVE_KINDS = new Set(["dial", "ring", "answer"]);

export function missed(popup) {
  const talked = popup.talk_s !== null && popup.talk_s !== undefined;
  return popup.kind === "hangup" && popup.direction === "in" && !talked;
}

export function popupTitle(popup) {
  const who = popup.contact || popup.number;
  switch (popup.kind) {
    case "dial":
      return t("popup.title.dial", { who });
    case "ring":
      return t("popup.title.ring", { who });
    case "answer":
      return t("popup.title.answer", { who });
    default:
      if (missed(popup)) return t("popup.title.missed", { who });
      if (popup.talk_s !== null && popup.talk_s !== undefined) {
        return t("popup.title.ended_talk", { talk: duration(popup.talk_s) });
      }
      return t(popup.direction !== "in" ? "popup.title.no_answer" : "popup.hangup");
  }
}

// The popup's body as one line: number (direction), who, and the first B13 fact.
export function popupLine(popup) {
  const direction = {
    in: t("popup.direction.in"),
    out: t("popup.direction.out"),
    internal: t("popup.direction.internal"),
  }[popup.direction] || popup.direction;
  const named = [popup.contact, popup.company].filter(Boolean).join(" — ");
  const context = (popup.context || [])[0];
  return [`${popup.number} (${direction})`, named, context].filter(Boolean).join(" · ");
}

// banners({ box, open(target), dial(number), view() → the page's id, dnd() → bool })
// → { show(popup), status(status) }, fed by the shell's live channel.
export function banners({ box, open, dial, view, dnd }) {
  const shown = new Map(); // call_uuid -> {el, timer, live}
  const heard = new Set(); // calls something was shown for (B12: a silenced ring's miss)
  const lined = new Set(); // calls the status's lines have held

  function dismiss(uuid) {
    const item = shown.get(uuid);
    if (!item) return;
    clearTimeout(item.timer);
    item.el.remove();
    shown.delete(uuid);
  }

  function button(label, kind, action, onclick) {
    return h(
      "button",
      {
        type: "button",
        class: kind,
        dataset: { action },
        "aria-label": label,
        title: label,
        onclick: (e) => {
          e.stopPropagation();
          onclick();
        },
      },
      action === "close" ? "×" : label,
    );
  }

  function show(popup) {
    if (!popup || !popup.call_uuid) return;
    const uuid = popup.call_uuid;
    const isMissed = missed(popup);
    if (isMissed && dnd() && !heard.has(uuid) && !shown.has(uuid)) return;
    dismiss(uuid);
    const live = LIVE_KINDS.has(popup.kind);
    if (live) heard.add(uuid);
    else heard.delete(uuid);
    if (live && view() === "phone") return; // the Phone page's lines show it
    const kind = isMissed ? "missed" : popup.kind;
    const openCall = () => {
      dismiss(uuid);
      open(`call:${uuid}`);
    };
    const el = h(
      "div",
      {
        class: `call-banner ${kind}`,
        role: popup.kind === "ring" ? "alert" : "status",
        dataset: { uuid, kind },
        tabindex: "0",
        title: t("popup.action.open"),
        onclick: openCall,
        onkeydown: (e) => {
          if (e.target !== e.currentTarget || (e.key !== "Enter" && e.key !== "Escape")) return;
          e.preventDefault();
          e.stopPropagation(); // not the Phone page's Enter (dial) or Esc (hang up)
          if (e.key === "Enter") openCall();
          else dismiss(uuid);
        },
      },
      h(
        "div",
        { class: "call-banner-text" },
        h("strong", {}, popupTitle(popup)),
        h("span", { class: "small muted" }, popupLine(popup)),
      ),
      isMissed
        ? button(t("popup.action.call_back"), "good small-button", "call_back", () => {
            dismiss(uuid);
            dial(popup.number);
          })
        : null,
      button(t("action.close"), "icon link close", "close", () => dismiss(uuid)),
    );
    box.prepend(el);
    const timer = live || isMissed ? null : setTimeout(() => dismiss(uuid), FADE_MS);
    shown.set(uuid, { el, timer, live });
    while (shown.size > MAX_SHOWN) dismiss(shown.keys().next().value);
  }

  // A live call's strip goes with its line, should the hang-up's popup never come.
  function status(current) {
    const now = new Set(((current && current.lines) || []).map((line) => line.uuid));
    for (const uuid of now) lined.add(uuid);
    for (const [uuid, item] of [...shown]) {
      if (item.live && lined.has(uuid) && !now.has(uuid)) dismiss(uuid);
    }
    for (const uuid of [...lined]) if (!now.has(uuid)) lined.delete(uuid);
  }

  return { show, status };
}
