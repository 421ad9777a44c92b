// Report "Completed calls" (M3, B8): calls whose talk exceeded G4, by operator and
// day, with a chart and an xlsx export.

import { h, clear, loading } from "../dom.js";
import { icon } from "../icons.js";
import { barChart } from "../chart.js";

function isoDate(d) {
  const pad = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
}

function presets() {
  const today = new Date();
  const weekAgo = new Date(today);
  weekAgo.setDate(today.getDate() - 6);
  const monthStart = new Date(today.getFullYear(), today.getMonth(), 1);
  const lastMonthStart = new Date(today.getFullYear(), today.getMonth() - 1, 1);
  const lastMonthEnd = new Date(today.getFullYear(), today.getMonth(), 0);
  return {
    week: [isoDate(weekAgo), isoDate(today)],
    month: [isoDate(monthStart), isoDate(today)],
    last_month: [isoDate(lastMonthStart), isoDate(lastMonthEnd)],
  };
}

export default {
  id: "report",
  titleKey: "nav.report",
  icon: "report",
  requires: ["/api/reports/completed"],

  mount(root, ctx) {
    const { t, i18n, api, toast } = ctx;
    const [from0, to0] = presets().week;
    const from = h("input", { type: "date", name: "from", value: ctx.params.from || from0, "aria-label": t("filter.from") });
    const to = h("input", { type: "date", name: "to", value: ctx.params.to || to0, "aria-label": t("filter.to") });
    const scope = h(
      "select",
      { name: "scope", "aria-label": t("filter.scope") },
      ["team", "mine"].map((s) => h("option", { value: s }, t(`scope.${s}`))),
    );
    const presetButtons = Object.entries(presets()).map(([key, [a, b]]) =>
      h("button", { type: "button", onclick: () => ((from.value = a), (to.value = b), load()) }, t(`report.preset.${key}`)),
    );
    const body = h("div", { id: "report-body" }, loading());
    root.append(
      h(
        "div",
        { class: "toolbar" },
        from,
        to,
        scope,
        ...presetButtons,
        h("span", { class: "spacer" }),
        h("button", { type: "button", id: "report-export", onclick: () => exportXlsx() }, icon("download"), t("action.export_xlsx")),
      ),
      body,
    );
    for (const el of [from, to, scope]) el.addEventListener("change", () => load());

    function params() {
      return { from: from.value, to: to.value, scope: scope.value };
    }

    async function load() {
      let report;
      try {
        report = await api.get("/api/reports/completed", params());
      } catch (err) {
        clear(body).append(h("div", { class: "error-box", role: "alert" }, i18n.errorText(err)));
        return;
      }
      render(report);
    }

    function render(report) {
      clear(body);
      const labels = report.days.map((d) => i18n.day(d));
      body.append(
        h(
          "div",
          { class: "card" },
          h(
            "div",
            { class: "stats-row" },
            stat(i18n.number(report.total.completed), t("report.completed")),
            stat(i18n.number(report.total.calls), t("report.calls")),
            stat(i18n.duration(report.total.talk_s), t("report.talk_s")),
          ),
          h("div", { class: "small muted", style: { margin: "6px 0" } }, t("report.rule", { seconds: report.completed_talk_s })),
          barChart({
            labels,
            series: [
              { name: t("report.calls"), values: report.by_day.map((d) => d.calls), className: "alt" },
              { name: t("report.completed"), values: report.by_day.map((d) => d.completed) },
            ],
            title: t("report.chart_title"),
          }),
        ),
      );
      if (!report.operators.length) {
        body.append(h("div", { class: "empty", id: "report-empty" }, t("report.empty")));
        return;
      }
      const head = h(
        "tr",
        {},
        h("th", {}, t("report.col.operator")),
        report.days.map((d) => h("th", { class: "num" }, i18n.day(d))),
        h("th", { class: "num" }, t("report.col.total")),
      );
      const rows = report.operators.map((op) =>
        h(
          "tr",
          { dataset: { ext: op.ext } },
          h("td", { class: "nowrap" }, op.ext, op.name ? h("span", { class: "muted" }, ` ${op.name}`) : null),
          op.days.map((d) => h("td", { class: "num", title: t("report.cell", d) }, d.completed || "")),
          h("td", { class: "num" }, h("strong", {}, op.total.completed)),
        ),
      );
      rows.push(
        h(
          "tr",
          {},
          h("td", {}, h("strong", {}, t("report.total"))),
          report.by_day.map((d) => h("td", { class: "num" }, h("strong", {}, d.completed || ""))),
          h("td", { class: "num" }, h("strong", {}, report.total.completed)),
        ),
      );
      body.append(
        h("div", { class: "table-wrap" }, h("table", { id: "report-table" }, h("thead", {}, head), h("tbody", {}, rows))),
      );
    }

    async function exportXlsx() {
      try {
        const name = await api.download(
          "/api/reports/completed/export",
          { ...params(), lang: i18n.language() },
          "completed-calls.xlsx",
        );
        toast(t("export.done", { name }), "ok");
      } catch (err) {
        toast(i18n.errorText(err), "error");
      }
    }

    load();
  },
};

function stat(value, name) {
  return h("div", { class: "stat" }, h("div", { class: "value" }, value), h("div", { class: "name" }, name));
}
