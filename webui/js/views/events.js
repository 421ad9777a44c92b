// Events (U8, A5): the list (open, planned, saved, declined), each opening in the event
// form; a new planned call.

import { h, clear, pager, modal, loading } from "../dom.js";
import { icon } from "../icons.js";
import { openEventForm } from "../event_form.js";

const LIMIT = 50;
const FILTERS = ["planned", "open", "saved", "declined", "all"];

export default {
  id: "events",
  titleKey: "nav.events",
  icon: "events",
  requires: ["/api/events", "/api/events/{id}/save"],

  mount(root, ctx) {
    const { t, i18n, api, store, toast } = ctx;
    if (ctx.args[0]) openEventForm(ctx, { id: ctx.args[0] });
    let offset = 0;
    const filter = h(
      "select",
      { id: "events-filter", "aria-label": t("events.filter") },
      FILTERS.map((f) => h("option", { value: f, selected: f === (ctx.params.filter || "planned") }, t(`events.filter.${f}`))),
    );
    const scope = h(
      "select",
      { id: "events-scope", "aria-label": t("filter.scope") },
      ["mine", "team"].map((s) => h("option", { value: s }, t(`scope.${s}`))),
    );
    const add = ctx.has("/api/events")
      ? h("button", { type: "button", class: "primary", id: "event-new", onclick: () => newEvent() }, icon("plus"), t("events.new"))
      : null;
    const body = h("div", { id: "events-body" }, loading());
    root.append(h("div", { class: "toolbar" }, filter, scope, h("span", { class: "spacer" }), add), body);
    filter.addEventListener("change", () => reload(0));
    scope.addEventListener("change", () => reload(0));

    function params() {
      const f = filter.value;
      const p = { scope: scope.value, limit: LIMIT, offset };
      if (f === "planned") p.planned = 1;
      else if (f !== "all") p.state = f;
      return p;
    }

    async function reload(at) {
      offset = at;
      let page;
      try {
        page = await api.get("/api/events", params());
      } catch (err) {
        clear(body).append(h("div", { class: "error-box", role: "alert" }, i18n.errorText(err)));
        return;
      }
      clear(body);
      if (!page.items.length) {
        body.append(h("div", { class: "empty", id: "events-empty" }, t("events.empty")));
        return;
      }
      const rows = page.items.map((e) =>
        h(
          "tr",
          { dataset: { id: String(e.id), state: e.state }, style: { cursor: "pointer" }, onclick: () => openEventForm(ctx, e) },
          h("td", { class: "nowrap" }, i18n.time(e.planned_at || e.created_at)),
          h("td", {}, h("span", { class: `badge ${e.state}` }, t(`event.state.${e.state}`))),
          h("td", {}, e.kind || "", e.notes ? h("div", { class: "small muted" }, e.notes.slice(0, 80)) : null),
          h("td", { class: "mono small" }, e.number || ""),
          h("td", { class: "small" }, e.importance || ""),
        ),
      );
      body.append(
        h(
          "div",
          { class: "table-wrap" },
          h(
            "table",
            { id: "events-table" },
            h("thead", {}, h("tr", {}, h("th", {}, t("events.col.when")), h("th", {}, t("events.col.state")), h("th", {}, t("event.kind")), h("th", {}, t("event.number")), h("th", {}, t("event.importance")))),
            h("tbody", {}, rows),
          ),
        ),
        pager({ offset, limit: LIMIT, total: page.total, nextOffset: page.next_offset, shown: page.items.length, onPage: reload }),
      );
    }

    function newEvent() {
      const number = h("input", { type: "tel", name: "number", id: "new-event-number" });
      const kind = h("input", { name: "kind", value: t("events.kind_call") });
      const planned = h("input", { type: "datetime-local", name: "planned_at", id: "new-event-planned" });
      const notes = h("textarea", { name: "notes", rows: 3, style: { fontFamily: "inherit" } });
      const field = (labelKey, control) => h("div", { class: "field" }, h("label", {}, t(labelKey)), control);
      modal({
        title: t("events.new"),
        body: h("div", { class: "stack" }, field("event.number", number), field("event.kind", kind), field("event.planned_at", planned), field("event.notes", notes)),
        actions: [
          { label: t("action.cancel") },
          {
            label: t("action.save"),
            kind: "primary",
            onClick: async () => {
              try {
                await api.post("/api/events", {
                  number: number.value.trim() || null,
                  kind: kind.value.trim(),
                  planned_at: planned.value ? new Date(planned.value).toISOString() : null,
                  notes: notes.value,
                  state: "open",
                });
                reload(0);
                return undefined;
              } catch (err) {
                toast(i18n.errorText(err), "error");
                return false;
              }
            },
          },
        ],
      });
    }

    let timer = null;
    const off = store.on("event", () => {
      clearTimeout(timer);
      timer = setTimeout(() => reload(offset), 300);
    });
    reload(0);
    return () => {
      off();
      clearTimeout(timer);
    };
  },
};
