// Missed calls (M7, B10): handled by themselves once called back or answered; "I'm
// calling back" claims a number for the team; fill the dial list from them.

import { h, clear, pager, loading } from "../dom.js";
import { icon } from "../icons.js";

const LIMIT = 50;

export default {
  id: "missed",
  titleKey: "nav.missed",
  icon: "missed",
  requires: ["/api/missed"],

  mount(root, ctx) {
    const { t, i18n, api, store, toast } = ctx;
    let offset = 0;
    const scope = h(
      "select",
      { id: "missed-scope", "aria-label": t("filter.scope") },
      ["mine", "team"].map((s) => h("option", { value: s, selected: s === (ctx.params.scope || "mine") }, t(`scope.${s}`))),
    );
    const fill = ctx.has("/api/dial-list/fill")
      ? h("button", { type: "button", id: "missed-fill", onclick: () => fillDialList() }, icon("dial_list"), t("missed.fill_dial_list"))
      : null;
    const body = h("div", { id: "missed-body" }, loading());
    root.append(h("div", { class: "toolbar" }, scope, h("span", { class: "spacer" }), fill), body);
    scope.addEventListener("change", () => reload(0));

    async function reload(at) {
      offset = at;
      try {
        render(await api.get("/api/missed", { scope: scope.value, limit: LIMIT, offset }));
      } catch (err) {
        clear(body).append(h("div", { class: "error-box", role: "alert" }, i18n.errorText(err)));
      }
    }

    function render(page) {
      clear(body);
      if (!page.items.length) {
        body.append(h("div", { class: "empty", id: "missed-empty" }, t("missed.empty")));
        return;
      }
      const me = ctx.ui && ctx.ui.extension;
      const rows = page.items.map((m) => {
        const claimedByMe = m.claimed_by && me && m.claimed_by.includes(me);
        return h(
          "tr",
          { dataset: { uuid: m.uuid, handled: m.handled ? "1" : "0" } },
          h("td", { class: "nowrap" }, i18n.time(m.end_at || m.dial_at)),
          h("td", { class: "mono" }, m.number, m.contact ? h("div", { class: "small muted" }, m.contact.name) : null),
          h(
            "td",
            {},
            m.handled
              ? h("span", { class: "badge handled" }, t("missed.handled"))
              : h("span", { class: "badge no_answer" }, t("missed.not_handled")),
            m.claimed_by ? h("div", { class: "small muted" }, t("missed.claimed_by", { who: m.claimed_by })) : null,
          ),
          h(
            "td",
            { class: "nowrap right" },
            h("button", { type: "button", class: "icon good", title: t("action.call"), "aria-label": t("action.call"), onclick: () => callBack(m) }, icon("phone")),
            ctx.has("/api/missed/claim") && !m.handled
              ? claimedByMe
                ? h("button", { type: "button", dataset: { release: m.number }, onclick: () => claim(m, false) }, t("missed.release"))
                : h("button", { type: "button", dataset: { claim: m.number }, disabled: Boolean(m.claimed_by), onclick: () => claim(m, true) }, t("missed.claim"))
              : null,
          ),
        );
      });
      body.append(
        h(
          "div",
          { class: "table-wrap" },
          h(
            "table",
            { id: "missed-table" },
            h("thead", {}, h("tr", {}, h("th", {}, t("missed.col.when")), h("th", {}, t("journal.col.number")), h("th", {}, t("missed.col.state")), h("th", {}))),
            h("tbody", {}, rows),
          ),
        ),
        pager({ offset, limit: LIMIT, total: page.total, nextOffset: page.next_offset, shown: page.items.length, onPage: reload }),
      );
    }

    async function callBack(m) {
      try {
        if (ctx.has("/api/missed/claim") && !m.claimed_by) await api.post("/api/missed/claim", { number: m.number });
        await api.post("/api/dial", { number: m.number });
        toast(t("phone.dialing", { number: m.number }), "ok");
        reload(offset);
      } catch (err) {
        toast(i18n.errorText(err), "error");
      }
    }

    async function claim(m, on) {
      try {
        await api.post(on ? "/api/missed/claim" : "/api/missed/release", { number: m.number });
        reload(offset);
      } catch (err) {
        toast(i18n.errorText(err), "error");
      }
    }

    async function fillDialList() {
      try {
        const answer = await api.post("/api/dial-list/fill", { source: "missed", from: "journal", mode: "append" });
        toast(t("dial_list.accepted", { n: answer.accepted }), "ok");
      } catch (err) {
        toast(i18n.errorText(err), "error");
      }
    }

    let timer = null;
    const off = store.on("journal", () => {
      clearTimeout(timer);
      timer = setTimeout(() => offset === 0 && reload(0), 400);
    });
    reload(0);
    return () => {
      off();
      clearTimeout(timer);
    };
  },
};
