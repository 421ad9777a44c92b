// Settings (M3): team (G1–G6) and operator (U1–U10) tabs, built from the agent's own
// list of settings (/api/settings/fields), so a setting added in agent/core/settings.py
// appears here by itself. Every field's problem is shown beside it; secrets are
// write-only ("set" / "not set", a new value replaces, Remove deletes).

import { h, clear, showFieldErrors, loading } from "../dom.js";
import { icon } from "../icons.js";

const SCOPES = ["operator", "team"];
const DAYS = [1, 2, 3, 4, 5, 6, 7];
const RETRY_KINDS = ["no_answer", "busy", "failed"];

function same(a, b) {
  return JSON.stringify(a) === JSON.stringify(b);
}

export default {
  id: "settings",
  titleKey: "nav.settings",
  icon: "settings",
  requires: ["/api/settings", "/api/settings/fields"],

  async mount(root, ctx) {
    const { t, i18n, api, toast } = ctx;
    let scope = ctx.args[0] === "team" ? "team" : "operator";
    root.append(loading());
    let [fields, values] = await Promise.all([api.get("/api/settings/fields"), api.get("/api/settings")]);
    clear(root);

    const tabs = h("div", { class: "subtabs", role: "tablist" });
    const form = h("form", { id: "settings-form", novalidate: true, onsubmit: (e) => (e.preventDefault(), save()) });
    const saveButton = h("button", { type: "submit", class: "primary", id: "settings-save" }, icon("check"), t("action.save"));
    const resetButton = h("button", { type: "button", onclick: () => render() }, t("action.revert"));
    root.append(tabs, form);
    const readers = {}; // "scope.name" -> () => value | {error}

    function label(name) {
      const key = `settings.field.${name}`;
      return i18n.has(key) ? t(key) : name;
    }

    function renderTabs() {
      clear(tabs);
      for (const s of SCOPES) {
        tabs.append(
          h(
            "button",
            {
              type: "button",
              role: "tab",
              id: `tab-${s}`,
              "aria-selected": s === scope ? "true" : "false",
              onclick: () => {
                scope = s;
                render();
              },
            },
            t(`settings.scope.${s}`),
          ),
        );
      }
    }

    function render() {
      renderTabs();
      clear(form);
      for (const key of Object.keys(readers)) delete readers[key];
      const grid = h("div", { class: "form-grid" });
      for (const field of fields[scope]) grid.append(fieldFor(scope, field, values[scope][field.name]));
      form.append(grid, h("div", { class: "sticky-actions" }, resetButton, saveButton));
    }

    function fieldFor(s, field, value) {
      const key = `${s}.${field.name}`;
      const id = `f-${s}-${field.name}`;
      // The doc (English, from agent/core/settings.py) explains a setting that has no
      // translated label yet; translated labels carry the meaning themselves.
      const translated = i18n.has(`settings.field.${field.name}`);
      const hint = field.doc && !translated ? h("div", { class: "hint" }, field.doc) : null;
      const box = (control, extraClass = "") =>
        h("div", { class: `field ${extraClass}`.trim(), dataset: { field: key } }, control, hint);

      if (field.type === "bool") {
        const input = h("input", { type: "checkbox", id, name: key, checked: Boolean(value) });
        readers[key] = () => input.checked;
        return h(
          "div",
          { class: "field check", dataset: { field: key } },
          input,
          h("div", {}, h("label", { for: id }, label(field.name)), hint),
        );
      }
      if (field.type === "secret") return secretField(key, id, field, value, hint);
      if (field.name === "calling_window") return callingWindow(key, id, field, value, hint);
      if (field.name === "retry") return retryRules(key, id, field, value, hint);
      if (field.name === "language") {
        const select = h(
          "select",
          { id, name: key },
          h("option", { value: "" }, t("settings.language.os")),
          ["uk", "ru", "en"].map((l) => h("option", { value: l, selected: l === value }, t(`language.${l}`))),
        );
        readers[key] = () => select.value;
        return box([h("label", { for: id }, label(field.name)), select]);
      }
      if (field.type === "enum") {
        const select = h(
          "select",
          { id, name: key },
          field.options.map((o) => {
            const optionKey = `settings.option.${field.name}.${o}`;
            return h("option", { value: o, selected: o === value }, i18n.has(optionKey) ? t(optionKey) : o);
          }),
        );
        readers[key] = () => select.value;
        return box([h("label", { for: id }, label(field.name)), select]);
      }
      if (field.type === "int" || field.type === "float") {
        const input = h("input", {
          type: "number",
          id,
          name: key,
          step: field.type === "int" ? "1" : "any",
          value: value ?? "",
        });
        readers[key] = () => {
          if (input.value.trim() === "") return { error: t("settings.invalid.required") };
          const n = Number(input.value);
          if (!Number.isFinite(n) || (field.type === "int" && !Number.isInteger(n)))
            return { error: t(field.type === "int" ? "settings.invalid.whole" : "settings.invalid.number") };
          return n;
        };
        return box([h("label", { for: id }, label(field.name)), input]);
      }
      if (field.type === "str") {
        const input = h("input", { type: "text", id, name: key, value: value ?? "", autocomplete: "off" });
        readers[key] = () => input.value;
        return box([h("label", { for: id }, label(field.name)), input]);
      }
      // Objects and lists: JSON, checked here before it is sent.
      const area = h("textarea", { id, name: key, rows: 3, spellcheck: "false" }, JSON.stringify(value ?? null, null, 1));
      readers[key] = () => {
        try {
          return JSON.parse(area.value);
        } catch (_) {
          return { error: t("settings.invalid.json") };
        }
      };
      return box([h("label", { for: id }, label(field.name)), area]);
    }

    function secretField(key, id, field, state, hint) {
      const isSet = Boolean(state && state.set);
      const input = h("input", {
        type: "password",
        id,
        name: key,
        autocomplete: "new-password",
        placeholder: t(isSet ? "settings.secret.replace" : "settings.secret.enter"),
      });
      let remove = false;
      const status = h("span", { class: `badge ${isSet ? "done" : ""} secret-state`, dataset: { secret: key } }, t(isSet ? "settings.secret.set" : "settings.secret.not_set"));
      const removeButton = h(
        "button",
        {
          type: "button",
          class: "link",
          hidden: !isSet,
          onclick: () => {
            remove = !remove;
            removeButton.textContent = t(remove ? "settings.secret.keep" : "settings.secret.remove");
            input.disabled = remove;
          },
        },
        t("settings.secret.remove"),
      );
      readers[key] = () => (remove ? { secret: null } : input.value ? { secret: input.value } : { unchanged: true });
      return h(
        "div",
        { class: "field", dataset: { field: key } },
        h("label", { for: id }, label(field.name), " ", status, " ", removeButton),
        input,
        hint,
      );
    }

    function callingWindow(key, id, field, value, hint) {
      const on = h("input", { type: "checkbox", id, checked: value !== null && value !== undefined });
      const v = value || { start: "09:00", end: "20:00", days: [1, 2, 3, 4, 5, 6] };
      const start = h("input", { type: "time", value: v.start, "aria-label": t("settings.window.start") });
      const end = h("input", { type: "time", value: v.end, "aria-label": t("settings.window.end") });
      const days = DAYS.map((d) => h("input", { type: "checkbox", value: String(d), checked: v.days.includes(d) }));
      const details = h(
        "div",
        { class: "stack" },
        h("div", { class: "row" }, start, "–", end),
        h("div", { class: "days" }, days.map((box, i) => h("label", {}, box, t(`weekday.${i + 1}`)))),
      );
      const sync = () => (details.hidden = !on.checked);
      on.addEventListener("change", sync);
      sync();
      readers[key] = () =>
        on.checked
          ? { start: start.value, end: end.value, days: days.filter((b) => b.checked).map((b) => Number(b.value)) }
          : null;
      return h(
        "div",
        { class: "field", dataset: { field: key } },
        h("div", { class: "row" }, on, h("label", { for: id }, label(field.name))),
        details,
        hint,
      );
    }

    function retryRules(key, id, field, value, hint) {
      const inputs = {};
      const grid = h("div", { class: "retry-grid", id }, h("span"), h("span", { class: "muted" }, t("settings.retry.postpone_min")), h("span", { class: "muted" }, t("settings.retry.retries")));
      for (const kind of RETRY_KINDS) {
        const rule = (value && value[kind]) || { postpone_min: 0, retries: 0 };
        inputs[kind] = {
          postpone_min: h("input", { type: "number", min: "0", step: "1", value: rule.postpone_min, "aria-label": `${t(`outcome.${kind}`)} ${t("settings.retry.postpone_min")}` }),
          retries: h("input", { type: "number", min: "0", step: "1", value: rule.retries, "aria-label": `${t(`outcome.${kind}`)} ${t("settings.retry.retries")}` }),
        };
        grid.append(h("span", {}, t(`outcome.${kind}`)), inputs[kind].postpone_min, inputs[kind].retries);
      }
      readers[key] = () =>
        Object.fromEntries(
          RETRY_KINDS.map((kind) => [
            kind,
            { postpone_min: Number(inputs[kind].postpone_min.value), retries: Number(inputs[kind].retries.value) },
          ]),
        );
      return h("div", { class: "field", dataset: { field: key } }, h("label", {}, label(field.name)), grid, hint);
    }

    async function save() {
      const change = {};
      const localErrors = [];
      for (const [key, read] of Object.entries(readers)) {
        const [s, name] = key.split(".");
        const value = read();
        if (value && typeof value === "object" && "error" in value) {
          localErrors.push({ scope: s, field: name, text: value.error });
          continue;
        }
        if (value && typeof value === "object" && "unchanged" in value) continue;
        const next = value && typeof value === "object" && "secret" in value ? value.secret : value;
        if (value && typeof value === "object" && "secret" in value) {
          (change[s] = change[s] || {})[name] = next;
        } else if (!same(next, values[s][name])) {
          (change[s] = change[s] || {})[name] = next;
        }
      }
      if (localErrors.length) {
        showFieldErrors(form, localErrors);
        toast(t("settings.fix_errors"), "error");
        return;
      }
      if (!Object.keys(change).length) {
        toast(t("settings.nothing_changed"));
        return;
      }
      saveButton.disabled = true;
      try {
        const answer = await api.put("/api/settings", change);
        values = answer;
        render();
        const restart = (answer.restart || []).map((n) => label(n.split(".")[1]));
        toast(restart.length ? t("settings.saved_restart", { names: restart.join(", ") }) : t("settings.saved"), "ok", 6000);
      } catch (err) {
        if (err.fields && err.fields.length) {
          showFieldErrors(
            form,
            err.fields.map((e) => ({
              ...e,
              text: i18n.has(e.message_key) ? t(e.message_key, { message: e.message }) : e.message,
            })),
          );
          toast(t("settings.fix_errors"), "error");
        } else {
          toast(i18n.errorText(err), "error");
        }
      } finally {
        saveButton.disabled = false;
      }
    }

    render();
  },
};
