// The contact statistics block (M5, shown per U9): what our journal says about the
// number — calls, answered, talk time, the last call — with a chart of the last calls,
// and the contact's events and sales when the contacts feature serves them.

import { h, clear } from "./dom.js";
import { barChart } from "./chart.js";

export async function contactStats(ctx, root, number) {
  const { t, i18n, api } = ctx;
  clear(root);
  const part = h("div", { class: "stats-block" }); // first, whatever arrives later
  root.append(part);
  root = part;
  let page;
  try {
    page = await api.get("/api/journal/search", { number, scope: "team", limit: 100 });
  } catch (_) {
    root.append(h("div", { class: "empty small" }, t("stats.none")));
    return;
  }
  const rows = page.items || [];
  if (!rows.length) {
    root.append(h("div", { class: "empty small", id: "stats-empty" }, t("stats.first_contact")));
    return;
  }
  const answered = rows.filter((r) => r.outcome === "answered").length;
  const talk = rows.reduce((sum, r) => sum + (r.talk_s || 0), 0);
  root.append(
    h(
      "div",
      { class: "stats-row", id: "stats" },
      stat(page.total === null ? `${rows.length}+` : i18n.number(page.total ?? rows.length), t("stats.calls")),
      stat(i18n.number(answered), t("stats.completed")),
      stat(i18n.duration(talk), t("stats.talk")),
      stat(i18n.time(rows[0].end_at), t("stats.last_call")),
    ),
  );
  const last = rows.slice(0, 12).reverse();
  root.append(
    barChart({
      labels: last.map((r) => i18n.day((r.end_at || "").slice(0, 10))),
      series: [{ name: t("stats.talk_s"), values: last.map((r) => r.talk_s || 0) }],
      height: 110,
      title: t("stats.last_calls_chart"),
    }),
  );
  const list = h("ul", { class: "lines small" });
  for (const row of rows.slice(0, 5)) {
    list.append(
      h(
        "li",
        {},
        h("span", { class: "who" }, i18n.dateTime(row.end_at)),
        h("span", { class: `badge ${row.outcome || ""}` }, row.outcome ? t(`outcome.${row.outcome}`) : ""),
        h("span", { class: "timer" }, i18n.duration(row.talk_s)),
      ),
    );
  }
  root.append(h("div", { class: "small muted", style: { marginTop: "6px" } }, t("stats.last_calls")), list);
}

function stat(value, name) {
  return h("div", { class: "stat" }, h("div", { class: "value" }, value), h("div", { class: "name" }, name));
}

// The U9 blocks of a known contact (GET /api/contacts/{id}/stats): sales and events as
// a chart or a report, the last events as a list or a table — each as the operator's
// settings say (a block the operator hid comes as null).
export async function contactBlocks(ctx, root, contactId) {
  const { t, i18n, api } = ctx;
  if (!ctx.has("/api/contacts/{id}/stats")) return;
  let stats;
  try {
    stats = await api.get(`/api/contacts/${contactId}/stats`);
  } catch (_) {
    return;
  }
  const months = (rows) => rows.map((m) => m.month.slice(2).replace("-", "."));
  if (stats.sales) {
    const block = h("div", { class: "stats-block", id: "stats-sales" }, h("div", { class: "small muted" }, t("stats.sales")));
    block.append(
      h(
        "div",
        { class: "stats-row" },
        stat(stats.sales.total, t("stats.sales_total")),
        stat(i18n.number(stats.sales.count), t("stats.sales_count")),
        stat(stats.sales.last ? i18n.day(stats.sales.last.slice(0, 10)) : "—", t("stats.sales_last")),
      ),
    );
    if (stats.sales.view === "chart") {
      block.append(
        barChart({
          labels: months(stats.sales.by_month),
          series: [{ name: t("stats.sales"), values: stats.sales.by_month.map((m) => Number(m.amount)) }],
          height: 110,
          title: t("stats.sales"),
        }),
      );
    } else if (stats.sales.rows) {
      block.append(table([t("stats.date"), t("stats.amount")], stats.sales.rows.slice(0, 20).map((r) => [i18n.day(r.date), r.amount])));
    }
    root.append(block);
  }
  if (stats.events) {
    const block = h("div", { class: "stats-block", id: "stats-events" }, h("div", { class: "small muted" }, t("stats.events")));
    if (stats.events.view === "chart") {
      block.append(
        barChart({
          labels: months(stats.events.by_month),
          series: [{ name: t("stats.events"), values: stats.events.by_month.map((m) => m.count), className: "alt" }],
          height: 100,
          title: t("stats.events"),
        }),
      );
    } else {
      block.append(table([t("stats.month"), t("stats.events")], stats.events.by_month.filter((m) => m.count).map((m) => [m.month, m.count])));
    }
    root.append(block);
  }
  if (stats.last_events && stats.last_events.items.length) {
    const items = stats.last_events.items;
    const block = h("div", { class: "stats-block", id: "stats-last-events" }, h("div", { class: "small muted" }, t("stats.last_events")));
    if (stats.last_events.view === "table") {
      block.append(table([t("stats.date"), t("event.kind"), t("event.notes")], items.map((e) => [i18n.day((e.planned_at || e.created_at || "").slice(0, 10)), e.kind, e.notes])));
    } else {
      block.append(
        h(
          "ul",
          { class: "lines small" },
          items.map((e) =>
            h("li", { onclick: () => import("./event_form.js").then((m) => m.openEventForm(ctx, e)) },
              h("span", { class: `badge ${e.state}` }, t(`event.state.${e.state}`)),
              h("span", { class: "who" }, e.kind, e.notes ? ` — ${e.notes}` : ""),
              h("span", { class: "timer" }, i18n.time(e.planned_at || e.created_at))),
          ),
        ),
      );
    }
    root.append(block);
  }
}

function table(head, rows) {
  return h(
    "div",
    { class: "table-wrap" },
    h("table", {}, h("thead", {}, h("tr", {}, head.map((c) => h("th", {}, c)))), h("tbody", {}, rows.map((r) => h("tr", {}, r.map((c) => h("td", {}, c ?? "")))))),
  );
}
