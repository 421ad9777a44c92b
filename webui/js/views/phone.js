// Phone (M1, M2, M4, M5): number field with search, keypad, Dial / Hang up / Redial /
// DND with a timer; the lines (talking line bold, drop any line); call info and the
// contact's statistics. Keyboard: digits type, Enter dials, Esc hangs up.

import { h, clear, debounce, modal } from "../dom.js";
import { icon } from "../icons.js";
import { contactStats, contactBlocks } from "../stats.js";
import { knownZone, tomorrowAt } from "../zones.js";

const KEYS = [
  ["1", ""], ["2", "ABC"], ["3", "DEF"],
  ["4", "GHI"], ["5", "JKL"], ["6", "MNO"],
  ["7", "PQRS"], ["8", "TUV"], ["9", "WXYZ"],
  ["*", ""], ["0", "+"], ["#", ""],
];
const DIALABLE = /^[0-9*#+]$/;
const LAST_DIALED = "phonet-agent.last-dialed";

function lineSeconds(line, now) {
  const from = line.answered_at || line.started_at;
  return from ? (now - new Date(from).getTime()) / 1000 : 0;
}

export default {
  id: "phone",
  titleKey: "nav.phone",
  icon: "phone",
  requires: ["/api/status", "/api/dial", "/api/hangup"],

  mount(root, ctx) {
    const { t, i18n, api, store, toast } = ctx;
    let selected = ctx.params.call || null; // the line or call shown in Call info
    let suggestionIndex = -1;
    let suggestionItems = [];
    let busy = false;

    // ---------------------------------------------------------------- the dial panel
    const number = h("input", {
      id: "number",
      type: "tel",
      inputmode: "tel",
      autocomplete: "off",
      spellcheck: "false",
      placeholder: t("phone.number_placeholder"),
      "aria-label": t("phone.number"),
      value: ctx.params.number || "",
    });
    const suggestions = h("div", { class: "suggestions", role: "listbox", hidden: true });
    const dialButton = h(
      "button",
      { class: "good", type: "button", id: "dial", onclick: () => dial() },
      icon("phone"),
      t("phone.dial"),
    );
    const hangupButton = h(
      "button",
      { class: "danger", type: "button", id: "hangup", onclick: () => hangup() },
      icon("hangup"),
      t("phone.hangup"),
    );
    const redialButton = h(
      "button",
      { type: "button", id: "redial", onclick: () => redial() },
      icon("redial"),
      t("phone.redial"),
    );
    const dndButton = h("button", { type: "button", id: "dnd", onclick: () => dndMenu() });
    const keypad = h(
      "div",
      { class: "keypad" },
      KEYS.map(([key, letters]) =>
        h(
          "button",
          { type: "button", dataset: { key }, onclick: () => press(key) },
          h("span", {}, key, letters ? h("small", {}, letters) : null),
        ),
      ),
    );
    const backspace = h(
      "button",
      {
        type: "button",
        class: "icon",
        title: t("phone.backspace"),
        "aria-label": t("phone.backspace"),
        onclick: () => {
          number.value = number.value.slice(0, -1);
          number.focus();
          suggest();
        },
      },
      icon("backspace"),
    );

    const linesList = h("ul", { class: "lines", id: "lines" });
    const linesEmpty = h("div", { class: "empty small" }, t("phone.no_lines"));
    const info = h("div", { id: "call-info" });
    const stats = h("div", { id: "contact-stats" });

    root.append(
      h(
        "div",
        { class: "phone-grid" },
        h(
          "section",
          { class: "card dial-panel" },
          h("div", { class: "number-row" }, number, backspace, suggestions),
          keypad,
          h("div", { class: "call-actions" }, dialButton, hangupButton),
          h("div", { class: "secondary-actions" }, redialButton, dndButton),
        ),
        h(
          "div",
          {},
          h("section", { class: "card" }, h("h3", {}, t("phone.lines")), linesList, linesEmpty),
          h("section", { class: "card" }, h("h3", {}, t("phone.call_info")), info),
          h("section", { class: "card" }, h("h3", {}, t("phone.contact_stats")), stats),
        ),
      ),
    );

    // ---------------------------------------------------------------- actions
    function press(key) {
      number.value += key;
      number.focus();
      suggest();
    }

    async function dial(text) {
      const value = (text ?? number.value).trim();
      if (!value) {
        toast(t("phone.enter_number"), "error");
        number.focus();
        return;
      }
      if (busy) return;
      busy = true;
      dialButton.disabled = true;
      hideSuggestions();
      try {
        const answer = await api.post("/api/dial", { number: value });
        sessionStorage.setItem(LAST_DIALED, value);
        selected = answer.uuid || selected;
        toast(t("phone.dialing", { number: value }), "ok");
        // tel: ;ext= — makeCall cannot carry it, so the operator dials it after the answer.
        if (answer.extension_ignored) {
          toast(t("popup.extension_ignored", { ext: answer.extension_ignored }), "info", 8000);
        }
      } catch (err) {
        toast(i18n.errorText(err), "error");
      } finally {
        busy = false;
        dialButton.disabled = false;
      }
    }

    async function hangup(uuid) {
      try {
        await api.post("/api/hangup", uuid ? { uuid } : {});
      } catch (err) {
        toast(err.status === 409 ? t("phone.nothing_to_hang_up") : i18n.errorText(err), "error");
      }
    }

    async function redial() {
      let last = sessionStorage.getItem(LAST_DIALED);
      if (!last) {
        try {
          const page = await api.get("/api/journal", { limit: 20 });
          const out = page.items.find((row) => row.direction === "out");
          last = out ? out.number : null;
        } catch (_) {
          last = null;
        }
      }
      if (!last) {
        toast(t("phone.nothing_to_redial"), "error");
        return;
      }
      number.value = last;
      dial(last);
    }

    // B12's "until tomorrow 09:00" is the team's 09:00 (team.time_zone), as in the tray,
    // whatever zone this computer is set to.
    let teamZone = null;
    async function zone() {
      if (teamZone) return teamZone;
      try {
        const settings = await api.get("/api/settings");
        teamZone = knownZone(settings.team && settings.team.time_zone);
      } catch (_) {
        return Intl.DateTimeFormat().resolvedOptions().timeZone; // this once; asked again next time
      }
      return teamZone;
    }
    const offSettings = store.on("settings", () => {
      teamZone = null;
    });

    async function dndMenu() {
      const status = store.status();
      if (status.dnd && status.dnd.on) {
        setDnd({ on: false });
        return;
      }
      dndButton.disabled = true;
      let tomorrow;
      try {
        tomorrow = tomorrowAt(await zone());
      } finally {
        dndButton.disabled = false;
      }
      const choices = [
        ["dnd.for_30m", { on: true, minutes: 30 }],
        ["dnd.for_1h", { on: true, minutes: 60 }],
        ["dnd.until_tomorrow", { on: true, until: tomorrow.toISOString() }],
        ["dnd.until_off", { on: true }],
      ];
      const dialog = modal({
        title: t("dnd.title"),
        body: h(
          "div",
          { class: "stack" },
          choices.map(([key, body]) =>
            h(
              "button",
              {
                type: "button",
                style: { width: "100%" },
                dataset: { dnd: key },
                onclick: () => {
                  dialog.close();
                  setDnd(body);
                },
              },
              t(key),
            ),
          ),
        ),
        actions: [{ label: t("action.cancel") }],
      });
    }

    async function setDnd(body) {
      try {
        await api.post("/api/dnd", body);
        toast(t(body.on ? "dnd.switched_on" : "dnd.switched_off"), "ok");
      } catch (err) {
        toast(i18n.errorText(err), "error");
      }
    }

    // ---------------------------------------------------------------- search (M1)
    const suggest = debounce(async () => {
      const text = number.value.trim();
      if (text.length < 2) {
        hideSuggestions();
        return;
      }
      const items = [];
      const seen = new Set();
      const digits = text.replace(/\D/g, "");
      if (digits.length >= 2) {
        try {
          const page = await api.get("/api/journal/search", { number: digits, limit: 30, scope: "mine" });
          for (const row of page.items) {
            if (seen.has(row.number)) continue;
            seen.add(row.number);
            items.push({ number: row.number, label: row.contact ? row.contact.name : "", kind: "recent" });
            if (items.length >= 5) break;
          }
        } catch (_) {
          /* a number fragment the journal cannot search: no suggestions */
        }
      }
      if (ctx.has("/api/contacts")) {
        try {
          const page = await api.get("/api/contacts", { q: text, limit: 6 });
          for (const contact of page.items || []) {
            for (const phone of contact.phones || []) {
              if (seen.has(phone.number)) continue;
              seen.add(phone.number);
              items.push({
                number: phone.number,
                label: [contact.name, phone.person].filter(Boolean).join(" · "),
                kind: "contact",
              });
            }
          }
        } catch (_) {
          /* contact search is optional */
        }
      }
      if (document.activeElement !== number) return;
      showSuggestions(items.slice(0, 8));
    }, 180);

    function showSuggestions(items) {
      suggestionItems = items;
      suggestionIndex = -1;
      clear(suggestions);
      if (!items.length) {
        hideSuggestions();
        return;
      }
      items.forEach((item, index) => {
        suggestions.append(
          h(
            "button",
            {
              type: "button",
              role: "option",
              dataset: { index: String(index) },
              onmousedown: (e) => e.preventDefault(),
              onclick: () => pick(index),
            },
            h("span", { class: "mono" }, item.number),
            h("span", { class: "muted small" }, item.label || t(`phone.suggestion.${item.kind}`)),
          ),
        );
      });
      suggestions.hidden = false;
    }

    function hideSuggestions() {
      suggestions.hidden = true;
      suggestionItems = [];
      suggestionIndex = -1;
    }

    function pick(index) {
      const item = suggestionItems[index];
      if (!item) return;
      number.value = item.number;
      hideSuggestions();
      number.focus();
    }

    function moveSuggestion(step) {
      if (suggestions.hidden || !suggestionItems.length) return false;
      suggestionIndex = (suggestionIndex + step + suggestionItems.length) % suggestionItems.length;
      [...suggestions.children].forEach((el, i) => el.classList.toggle("active", i === suggestionIndex));
      return true;
    }

    number.addEventListener("input", suggest);
    number.addEventListener("blur", () => setTimeout(hideSuggestions, 150));
    number.addEventListener("keydown", (e) => {
      if (e.key === "ArrowDown" && moveSuggestion(1)) e.preventDefault();
      else if (e.key === "ArrowUp" && moveSuggestion(-1)) e.preventDefault();
      else if (e.key === "Enter") {
        e.preventDefault();
        if (suggestionIndex >= 0) pick(suggestionIndex);
        else dial();
      } else if (e.key === "Escape") {
        e.preventDefault();
        if (!suggestions.hidden) hideSuggestions();
        else hangup();
      }
    });

    // Typing anywhere on the page (not in another field): digits type, Enter dials, Esc hangs up.
    ctx.onKey((e) => {
      const target = e.target;
      if (target !== document.body && target.closest("input, textarea, select, [contenteditable]")) return;
      if (e.ctrlKey || e.metaKey || e.altKey) return;
      if (DIALABLE.test(e.key)) {
        e.preventDefault();
        press(e.key);
      } else if (e.key === "Enter" && target.tagName !== "BUTTON") {
        e.preventDefault();
        dial();
      } else if (e.key === "Escape") {
        e.preventDefault();
        hangup();
      } else if (e.key === "Backspace") {
        e.preventDefault();
        number.value = number.value.slice(0, -1);
      }
    });

    // ---------------------------------------------------------------- lines (M2)
    function renderLines(status) {
      clear(linesList);
      const lines = status.lines || [];
      linesEmpty.hidden = lines.length > 0;
      const now = Date.now();
      for (const line of lines) {
        const item = h(
          "li",
          {
            class: [line.talking ? "talking" : "", line.uuid === selected ? "selected" : ""].join(" "),
            dataset: { uuid: line.uuid, state: line.state },
            onclick: () => {
              selected = line.uuid;
              renderLines(store.status());
              renderInfo();
            },
          },
          h("span", { class: "badge" }, t(`direction.${line.direction}`)),
          h(
            "span",
            { class: "who" },
            line.contact ? `${line.contact} · ` : "",
            h("span", { class: "mono" }, line.number),
            " ",
            h("span", { class: "state" }, t(`line.state.${line.state}`)),
          ),
          h("span", { class: "timer", dataset: { since: line.answered_at || line.started_at || "" } },
            i18n.duration(lineSeconds(line, now))),
          h(
            "button",
            {
              type: "button",
              class: "icon danger",
              title: t("phone.drop_line"),
              "aria-label": t("phone.drop_line"),
              dataset: { drop: line.uuid },
              onclick: (e) => {
                e.stopPropagation();
                hangup(line.uuid);
              },
            },
            icon("close"),
          ),
        );
        linesList.append(item);
      }
      hangupButton.disabled = lines.length === 0;
      const dnd = status.dnd || {};
      clear(dndButton).append(
        icon("moon"),
        dnd.on
          ? dnd.until
            ? t("dnd.off_until", { time: i18n.time(dnd.until) })
            : t("dnd.switch_off")
          : t("dnd.switch_on"),
      );
      dndButton.classList.toggle("danger", Boolean(dnd.on));
      dndButton.setAttribute("aria-pressed", dnd.on ? "true" : "false");
      if (!selected && lines.length) selected = (lines.find((l) => l.talking) || lines[0]).uuid;
    }

    const tick = setInterval(() => {
      const now = Date.now();
      for (const el of linesList.querySelectorAll(".timer")) {
        if (el.dataset.since) el.textContent = i18n.duration((now - new Date(el.dataset.since).getTime()) / 1000);
      }
    }, 1000);

    // ---------------------------------------------------------------- call info (M4, M5)
    let infoFor = null;

    async function renderInfo() {
      const status = store.status();
      const line = (status.lines || []).find((l) => l.uuid === selected);
      let call = line ? { ...line, live: true } : null;
      if (!call && selected) {
        try {
          call = await api.get(`/api/calls/${encodeURIComponent(selected)}`);
        } catch (_) {
          call = null;
        }
      }
      const key = call ? `${call.uuid}/${call.state || ""}/${call.answered_at || call.answer_at || ""}` : "";
      if (key === infoFor) return;
      infoFor = key;
      clear(info);
      clear(stats);
      if (!call) {
        info.append(h("div", { class: "empty small" }, t("phone.no_call_selected")));
        stats.append(h("div", { class: "empty small" }, t("phone.no_call_selected")));
        return;
      }
      const start = call.answered_at || call.started_at || call.answer_at || call.dial_at;
      const contactName = typeof call.contact === "string" ? call.contact : call.contact && call.contact.name;
      const rows = [
        ["phone.info.id", h("span", { class: "mono", id: "call-uuid" }, call.uuid)],
        ["phone.info.start", i18n.dateTime(start)],
        ["phone.info.number", h("span", { class: "mono" }, call.number)],
        ["phone.info.direction", t(`direction.${call.direction}`)],
        ["phone.info.contact", contactName || t("phone.info.unknown")],
      ];
      if (!call.live) {
        rows.push(["phone.info.talk", i18n.duration(call.talk_s)]);
        if (call.outcome) rows.push(["phone.info.outcome", t(`outcome.${call.outcome}`)]);
      }
      const dl = h("dl", { class: "info" }, rows.map(([k, v]) => [h("dt", {}, t(k)), h("dd", {}, v)]));
      info.append(dl);
      if (call.direction !== "internal") {
        contactDetails(call, dl);
        contactStats(ctx, stats, call.number);
      } else {
        stats.append(h("div", { class: "empty small" }, t("phone.internal_call")));
      }
    }

    async function contactDetails(call, dl) {
      if (!ctx.has("/api/contacts/lookup")) return;
      try {
        const found = await api.get("/api/contacts/lookup", { number: call.number });
        const contact = (found.matches || [])[0];
        if (contact) {
          const phone = (contact.phones || []).find((p) => p.number === call.number) || {};
          const details = [contact.company, phone.kind, phone.person].filter(Boolean).join(" · ");
          if (details) dl.append(h("dt", {}, t("phone.info.details")), h("dd", {}, details));
          dl.append(
            h("dt", {}, t("phone.info.card")),
            h("dd", {}, h("a", { href: `#/contacts/${contact.id}` }, contact.name || String(contact.id))),
          );
          contactBlocks(ctx, stats, contact.id);
        } else if (found.hint) {
          const hint = found.hint;
          const text = [hint.region, hint.operator].filter(Boolean).join(" · ");
          if (text) dl.append(h("dt", {}, t("phone.info.hint")), h("dd", {}, text));
          if (hint.seen_before)
            dl.append(h("dt", {}, t("phone.info.seen_before")), h("dd", {}, i18n.dateTime(hint.seen_before)));
        }
        if (contact && ctx.has("/api/events")) {
          const events = await api.get("/api/events", { contact_id: contact.id, state: "open", limit: 1 });
          const next = (events.items || [])[0];
          if (next) {
            dl.append(
              h("dt", {}, t("phone.info.planned_event")),
              h("dd", {}, h("a", { href: `#/events/${next.id}` }, i18n.dateTime(next.planned_at) || next.kind || `#${next.id}`)),
            );
          }
        }
      } catch (_) {
        /* details are a bonus; the call info stands without them */
      }
    }

    // ---------------------------------------------------------------- wiring
    const offStatus = store.on("status", (status) => {
      renderLines(status);
      renderInfo();
    });
    renderLines(store.status());
    renderInfo();
    number.focus();

    return () => {
      offStatus();
      offSettings();
      clearInterval(tick);
    };
  },
};
