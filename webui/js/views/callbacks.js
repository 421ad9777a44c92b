// The callback queue (B11): missed calls, postponed dial-list numbers and robot answers
// in one list, ordered by when each is due.

import { h, clear, loading } from "../dom.js";
import { icon } from "../icons.js";

export default {
  id: "callbacks",
  titleKey: "nav.callbacks",
  icon: "callbacks",
  requires: ["/api/callbacks"],

  mount(root, ctx) {
    const { t, i18n, api, store, toast } = ctx;
    const body = h("div", { id: "callbacks-body" }, loading());
    root.append(body);

    async function reload() {
      let page;
      try {
        page = await api.get("/api/callbacks", { limit: 200 });
      } catch (err) {
        clear(body).append(h("div", { class: "error-box", role: "alert" }, i18n.errorText(err)));
        return;
      }
      clear(body);
      if (!page.items.length) {
        body.append(h("div", { class: "empty", id: "callbacks-empty" }, t("callbacks.empty")));
        return;
      }
      const now = Date.now();
      const rows = page.items.map((item) =>
        h(
          "tr",
          { dataset: { kind: item.kind } },
          h("td", { class: "nowrap" }, h("span", { class: new Date(item.due_at).getTime() <= now ? "badge no_answer" : "badge" }, i18n.time(item.due_at))),
          h("td", {}, h("span", { class: "badge" }, t(`callbacks.kind.${item.kind}`))),
          h("td", { class: "mono" }, item.number, item.contact ? h("div", { class: "small muted" }, item.contact.name) : null),
          h("td", { class: "small muted" }, item.claimed_by ? t("missed.claimed_by", { who: item.claimed_by }) : ""),
          h(
            "td",
            { class: "right" },
            h("button", { type: "button", class: "icon good", title: t("action.call"), "aria-label": t("action.call"), onclick: () => call(item) }, icon("phone")),
          ),
        ),
      );
      body.append(
        h(
          "div",
          { class: "table-wrap" },
          h(
            "table",
            { id: "callbacks-table" },
            h("thead", {}, h("tr", {}, h("th", {}, t("callbacks.col.due")), h("th", {}, t("callbacks.col.kind")), h("th", {}, t("journal.col.number")), h("th", {}), h("th", {}))),
            h("tbody", {}, rows),
          ),
        ),
      );
    }

    async function call(item) {
      try {
        await api.post("/api/dial", { number: item.number });
        toast(t("phone.dialing", { number: item.number }), "ok");
      } catch (err) {
        toast(i18n.errorText(err), "error");
      }
    }

    let timer = null;
    const refresh = () => {
      clearTimeout(timer);
      timer = setTimeout(reload, 500);
    };
    const offs = [store.on("journal", refresh), store.on("dialer", refresh)];
    reload();
    return () => {
      offs.forEach((off) => off());
      clearTimeout(timer);
    };
  },
};
