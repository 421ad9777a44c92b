// Journal (M3, B8): every finished call, filtered by date, direction, outcome, operator
// and number; paged; exported to xlsx. The first page refreshes itself as calls end.

import { h, clear, debounce, pager, loading } from "../dom.js";
import { icon } from "../icons.js";

const LIMIT = 50;
const DIRECTIONS = ["in", "out", "internal"];
const OUTCOMES = ["answered", "no_answer", "busy", "congested", "failed", "not_reached"];

function select(name, options, labelKey, t, value) {
  return h(
    "select",
    { name, "aria-label": t(labelKey) },
    h("option", { value: "" }, t(labelKey)),
    options.map((o) => h("option", { value: o, selected: o === value }, t(`${name}.${o}`))),
  );
}

export default {
  id: "journal",
  titleKey: "nav.journal",
  icon: "journal",
  requires: ["/api/journal/search"],

  mount(root, ctx) {
    const { t, i18n, api, store, toast } = ctx;
    const filters = {
      from: ctx.params.from || "",
      to: ctx.params.to || "",
      direction: ctx.params.direction || "",
      outcome: ctx.params.outcome || "",
      scope: ctx.params.scope || "mine",
      operator: ctx.params.operator || "",
      number: ctx.params.number || "",
    };
    let offset = 0;

    const form = h(
      "form",
      { class: "toolbar", id: "journal-filters", onsubmit: (e) => (e.preventDefault(), reload(0)) },
      h("input", { type: "date", name: "from", value: filters.from, "aria-label": t("filter.from"), title: t("filter.from") }),
      h("input", { type: "date", name: "to", value: filters.to, "aria-label": t("filter.to"), title: t("filter.to") }),
      select("direction", DIRECTIONS, "filter.direction", t, filters.direction),
      select("outcome", OUTCOMES, "filter.outcome", t, filters.outcome),
      h(
        "select",
        { name: "scope", "aria-label": t("filter.scope") },
        ["mine", "team"].map((s) => h("option", { value: s, selected: s === filters.scope }, t(`scope.${s}`))),
      ),
      h("input", { name: "operator", placeholder: t("filter.operator"), value: filters.operator, "aria-label": t("filter.operator"), style: { width: "90px" } }),
      h("input", { name: "number", type: "search", placeholder: t("filter.number"), value: filters.number, "aria-label": t("filter.number"), style: { width: "140px" } }),
      h("button", { type: "submit", class: "primary" }, icon("search"), t("action.apply")),
      h("span", { class: "spacer" }),
      h("button", { type: "button", id: "journal-export", onclick: () => exportXlsx() }, icon("download"), t("action.export_xlsx")),
    );
    for (const el of form.querySelectorAll("select, input[type=date]")) el.addEventListener("change", () => reload(0));
    form.querySelector("[name=number]").addEventListener("input", debounce(() => reload(0), 400));
    form.querySelector("[name=operator]").addEventListener("input", debounce(() => reload(0), 400));

    const body = h("div", { id: "journal-body" }, loading());
    root.append(form, body);

    function readFilters() {
      const data = new FormData(form);
      for (const key of Object.keys(filters)) filters[key] = (data.get(key) || "").toString().trim();
      const params = { ...filters };
      if (params.operator) params.scope = "team";
      return params;
    }

    async function reload(at) {
      offset = at;
      const params = readFilters();
      let page;
      try {
        page = await api.get("/api/journal/search", { ...params, limit: LIMIT, offset });
      } catch (err) {
        clear(body).append(h("div", { class: "error-box", role: "alert" }, i18n.errorText(err)));
        return;
      }
      render(page);
    }

    function render(page) {
      clear(body);
      if (!page.items.length) {
        body.append(h("div", { class: "empty", id: "journal-empty" }, t("journal.empty")));
        return;
      }
      const rows = page.items.map((row) =>
        h(
          "tr",
          { dataset: { uuid: row.uuid }, onclick: () => ctx.navigate(`phone?call=${row.uuid}`), style: { cursor: "pointer" } },
          h("td", { class: "nowrap" }, i18n.time(row.end_at)),
          h("td", {}, h("span", { class: "badge" }, t(`direction.${row.direction}`))),
          h("td", { class: "mono" }, row.number, row.contact ? h("div", { class: "small muted" }, row.contact.name) : null),
          h("td", { class: "num" }, i18n.duration(row.talk_s)),
          h("td", {}, row.outcome ? h("span", { class: `badge ${row.outcome}` }, t(`outcome.${row.outcome}`)) : ""),
          h("td", { class: "small muted" }, row.operator_ext),
        ),
      );
      body.append(
        h(
          "div",
          { class: "table-wrap" },
          h(
            "table",
            { id: "journal-table" },
            h(
              "thead",
              {},
              h(
                "tr",
                {},
                h("th", {}, t("journal.col.end_at")),
                h("th", {}, t("journal.col.direction")),
                h("th", {}, t("journal.col.number")),
                h("th", { class: "num" }, t("journal.col.talk_s")),
                h("th", {}, t("journal.col.outcome")),
                h("th", {}, t("journal.col.operator")),
              ),
            ),
            h("tbody", {}, rows),
          ),
        ),
        pager({
          offset,
          limit: LIMIT,
          total: page.total,
          nextOffset: page.next_offset,
          shown: page.items.length,
          onPage: reload,
        }),
      );
    }

    async function exportXlsx() {
      try {
        const name = await api.download("/api/journal/export", { ...readFilters(), lang: i18n.language() }, "journal.xlsx");
        toast(t("export.done", { name }), "ok");
      } catch (err) {
        toast(i18n.errorText(err), "error");
      }
    }

    // A call written to the journal changes the first page; later pages stay put.
    const refresh = debounce(() => offset === 0 && reload(0), 300);
    const off = store.on("journal", refresh);

    reload(0);
    return off;
  },
};
