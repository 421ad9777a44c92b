// Dial list (M6, A1–A6): the table with every column, paged for a million rows; add,
// delete, move, skip; fill from planned events, missed calls or a file (with a progress
// bar and the rejected-rows report); ABC sort; Calling / Pause (presets + custom) /
// Resume / Stop, and the pause countdown. The list selector's counts follow the shown
// list's pages, so adding or deleting an entry never leaves "Main (0)" behind.

import { h, clear, pager, modal, confirm, loading } from "../dom.js";
import { icon } from "../icons.js";
import { followImport } from "../import_progress.js";

const LIMIT = 100;
const DEFAULT_PRESETS = [5, 10, 15, 30, 60];

function countdown(untilIso) {
  const left = Math.max(0, (new Date(untilIso).getTime() - Date.now()) / 1000);
  const m = Math.floor(left / 60);
  const s = String(Math.floor(left % 60)).padStart(2, "0");
  return `${m}:${s}`;
}

export default {
  id: "dial-list",
  titleKey: "nav.dial_list",
  icon: "dial_list",
  requires: ["/api/dial-list", "/api/dial-lists", "/api/dialer", "/api/dialer/start"],

  async mount(root, ctx) {
    const { t, i18n, api, store, toast } = ctx;
    let listId = ctx.params.list ? Number(ctx.params.list) : null;
    let offset = 0;
    // The entries first: the list of lists counts every list's states (seconds on a
    // million entries), and the agent's database answers one query at a time, so it
    // is asked for only once the first page is in.
    const firstPage = api.get("/api/dial-list", { list: listId || undefined, limit: LIMIT, offset: 0 });
    const listsLoaded = firstPage.catch(() => null).then(() => api.get("/api/dial-lists")).catch((err) => err);
    let dialer = await api.get("/api/dialer");
    let lists = [];
    let listsKnown = false;

    // ---------------------------------------------------------------- controls
    const listSelect = h("select", { id: "dial-list-select", "aria-label": t("dial_list.list") });
    const stateBadge = h("span", { class: "badge", id: "dialer-state" });
    const timer = h("span", { class: "countdown", id: "pause-countdown", hidden: true });
    const current = h("div", { class: "small muted", id: "dialer-current" });
    const startButton = h("button", { type: "button", class: "good", id: "dialer-start", onclick: () => command("start", listId ? { list: listId } : {}) }, icon("play"), t("dialer.start"));
    const pauseButton = h("button", { type: "button", id: "dialer-pause", onclick: () => pauseMenu() }, icon("pause"), t("dialer.pause"));
    const resumeButton = h("button", { type: "button", class: "good", id: "dialer-resume", onclick: () => command("resume") }, icon("play"), t("dialer.resume"));
    const stopButton = h("button", { type: "button", class: "danger", id: "dialer-stop", onclick: () => command("stop") }, icon("stop"), t("dialer.stop"));
    const skipButton = h("button", { type: "button", id: "dialer-skip", title: t("dialer.skip"), onclick: () => command("skip") }, icon("skip"), t("dialer.skip"));

    const fillButton = h("button", { type: "button", id: "dial-list-fill", onclick: () => fillMenu() }, icon("plus"), t("dial_list.fill"));
    const sortButton = h("button", { type: "button", id: "dial-list-sort", onclick: () => sortMenu() }, t("dial_list.abc_sort"));
    const newListButton = h("button", { type: "button", class: "icon", title: t("dial_list.new_list"), "aria-label": t("dial_list.new_list"), onclick: () => newList() }, icon("plus"));

    const body = h("div", { id: "dial-list-body" }, loading());
    root.append(
      h(
        "section",
        { class: "card" },
        h("div", { class: "row" }, h("strong", {}, t("dialer.title")), stateBadge, timer, h("span", { class: "spacer grow" })),
        current,
        h("div", { class: "row", style: { marginTop: "6px" } }, startButton, pauseButton, resumeButton, stopButton, skipButton),
      ),
      h("div", { class: "toolbar" }, listSelect, newListButton, h("span", { class: "spacer" }), fillButton, sortButton),
      body,
    );
    listSelect.addEventListener("change", async () => {
      listId = Number(listSelect.value);
      await api.post(`/api/dial-lists/${listId}/activate`).catch((err) => toast(i18n.errorText(err), "error"));
      reload(0);
    });

    function renderDialer(view) {
      dialer = view || dialer;
      const state = dialer.state || "idle";
      stateBadge.textContent = t(`dialer.state.${state}`);
      stateBadge.className = `badge ${state === "paused" ? "postponed" : state === "idle" ? "" : "done"}`;
      const running = state !== "idle";
      startButton.hidden = running;
      pauseButton.hidden = !running || state === "paused";
      resumeButton.hidden = state !== "paused";
      stopButton.disabled = !running;
      skipButton.disabled = !running;
      timer.hidden = !(state === "paused" && dialer.paused_until);
      if (!timer.hidden) timer.textContent = countdown(dialer.paused_until);
      const cur = dialer.current;
      current.textContent = cur
        ? t("dialer.current", { number: cur.number, contact: cur.contact || "" })
        : dialer.finished
          ? t("dialer.finished")
          : dialer.next_call_at && state !== "paused"
            ? t("dialer.next_at", { time: i18n.time(dialer.next_call_at) })
            : "";
    }

    const tick = setInterval(() => {
      if (!timer.hidden && dialer.paused_until) timer.textContent = countdown(dialer.paused_until);
    }, 500);

    async function command(name, payload) {
      try {
        renderDialer(await api.post(`/api/dialer/${name}`, payload || {}));
      } catch (err) {
        toast(i18n.errorText(err), "error");
      }
    }

    function pauseMenu() {
      const presets = dialer.pause_presets && dialer.pause_presets.length ? dialer.pause_presets : DEFAULT_PRESETS;
      const custom = h("input", { type: "number", min: "1", max: "1440", step: "1", id: "pause-custom", placeholder: t("dialer.pause_custom") });
      let dialog = null;
      const choose = (minutes) => {
        dialog.close();
        command("pause", minutes ? { minutes } : {});
      };
      dialog = modal({
        title: t("dialer.pause_title"),
        body: h(
          "div",
          { class: "stack" },
          h(
            "div",
            { class: "row" },
            presets.map((m) => h("button", { type: "button", dataset: { minutes: String(m) }, onclick: () => choose(m) }, t("dialer.minutes", { n: m }))),
          ),
          h("div", { class: "row" }, custom, h("button", { type: "button", class: "primary", id: "pause-custom-ok", onclick: () => {
            const n = Number(custom.value);
            if (!Number.isInteger(n) || n < 1 || n > 1440) {
              toast(t("dialer.pause_invalid"), "error");
              return;
            }
            choose(n);
          } }, t("action.ok"))),
          h("button", { type: "button", onclick: () => choose(null) }, t("dialer.pause_until_resumed")),
        ),
        actions: [{ label: t("action.cancel") }],
      });
    }

    // ---------------------------------------------------------------- lists
    async function loadLists(pending) {
      const answer = await (pending || api.get("/api/dial-lists").catch((err) => err));
      if (answer instanceof Error) {
        lists = [];
        toast(i18n.errorText(answer), "error");
      } else {
        lists = answer.items || [];
      }
      listsKnown = true;
      clear(listSelect);
      if (!listId) {
        const active = lists.find((l) => l.active) || lists[0];
        listId = active ? active.id : null;
      }
      for (const list of lists) {
        listSelect.append(h("option", { value: String(list.id), selected: list.id === listId }, `${list.name} (${i18n.number(list.total)})`));
      }
      listSelect.hidden = lists.length === 0;
    }

    async function newList() {
      const name = h("input", { id: "new-list-name", placeholder: t("dial_list.new_list_name") });
      modal({
        title: t("dial_list.new_list"),
        body: name,
        actions: [
          { label: t("action.cancel") },
          {
            label: t("action.save"),
            kind: "primary",
            onClick: async () => {
              try {
                const made = await api.post("/api/dial-lists", { name: name.value.trim() || t("dial_list.untitled"), active: true });
                listId = made.id;
                await loadLists();
                reload(0);
              } catch (err) {
                toast(i18n.errorText(err), "error");
                return false;
              }
              return undefined;
            },
          },
        ],
      });
    }

    // ---------------------------------------------------------------- the table
    async function reload(at, pending) {
      offset = at;
      let page;
      try {
        page = await (pending || api.get("/api/dial-list", { list: listId || undefined, limit: LIMIT, offset }));
      } catch (err) {
        clear(body).append(h("div", { class: "error-box", role: "alert" }, i18n.errorText(err)));
        return;
      }
      render(page);
    }

    function actions(entry) {
      const button = (name, title, onclick, extra = {}) =>
        h("button", { type: "button", class: "icon", title: t(title), "aria-label": t(title), dataset: { act: name, id: String(entry.id) }, onclick, ...extra }, icon(name));
      return h(
        "td",
        { class: "nowrap" },
        button("up", "dial_list.move_up", () => move(entry, "up")),
        button("down", "dial_list.move_down", () => move(entry, "down")),
        button("skip", "dial_list.skip", () => skip(entry), { disabled: entry.state === "skipped" }),
        button("trash", "action.delete", () => remove(entry)),
      );
    }

    // The shown list's count in the selector, from the page just read (its total is the
    // list's size): no recount of every list (seconds at a million entries).
    function showCount(page) {
      const shown = page.list || (listId ? { id: listId } : null);
      if (!shown || page.total === null || page.total === undefined) return;
      if (!listsKnown) return; // the first loadLists() is on its way
      const list = lists.find((l) => l.id === shown.id);
      if (!list) {
        loadLists(); // the list is new (the first entry made "Main"): show it
        return;
      }
      list.total = page.total;
      if (shown.name) list.name = shown.name;
      const option = listSelect.querySelector(`option[value="${list.id}"]`);
      if (option) option.textContent = `${list.name} (${i18n.number(list.total)})`;
    }

    function render(page) {
      showCount(page);
      clear(body);
      if (!page.items.length) {
        body.append(h("div", { class: "empty", id: "dial-list-empty" }, t("dial_list.empty")));
        return;
      }
      const currentId = dialer.current && dialer.current.entry_id;
      const rows = page.items.map((e) =>
        h(
          "tr",
          { dataset: { id: String(e.id), state: e.state }, class: e.id === currentId ? "selected" : "" },
          h("td", { class: "num" }, e.position),
          h("td", {}, e.contact ? (e.contact.id ? h("a", { href: `#/contacts/${e.contact.id}` }, e.contact.name) : e.contact.name) : ""),
          h("td", { class: "mono nowrap" }, e.number),
          h("td", { class: "small" }, e.detail || ""),
          h("td", { class: "nowrap small", title: e.reason || "" }, i18n.time(e.next_dial_at)),
          h("td", { class: "num" }, e.attempts),
          h("td", { class: "small" }, e.sort_value || ""),
          h("td", { class: "small" }, e.planned_event || ""),
          h("td", {}, h("span", { class: `badge ${e.state}` }, t(`entry.state.${e.state}`)), e.last_outcome ? h("div", { class: "small muted" }, t(`outcome.${e.last_outcome}`)) : null),
          actions(e),
        ),
      );
      const cols = ["#", "contact", "number", "detail", "next_dial_at", "attempts", "sort_field", "planned_event", "state", ""];
      body.append(
        h(
          "div",
          { class: "table-wrap" },
          h(
            "table",
            { id: "dial-list-table" },
            h("thead", {}, h("tr", {}, cols.map((c) => h("th", { class: c === "#" || c === "attempts" ? "num" : "" }, c === "#" || c === "" ? c : t(`dial_list.col.${c}`))))),
            h("tbody", {}, rows),
          ),
        ),
        pager({ offset, limit: LIMIT, total: page.total, nextOffset: page.next_offset, shown: page.items.length, onPage: reload }),
      );
    }

    async function move(entry, direction) {
      try {
        await api.post(`/api/dial-list/entries/${entry.id}/move`, { direction });
        reload(offset);
      } catch (err) {
        toast(i18n.errorText(err), "error");
      }
    }

    async function skip(entry) {
      try {
        await api.post(`/api/dial-list/entries/${entry.id}/skip`);
        reload(offset);
      } catch (err) {
        toast(i18n.errorText(err), "error");
      }
    }

    async function remove(entry) {
      if (!(await confirm(t("dial_list.delete_confirm", { number: entry.number }), { danger: true, okLabel: t("action.delete") }))) return;
      try {
        await api.del(`/api/dial-list/entries/${entry.id}`);
        reload(offset);
      } catch (err) {
        toast(i18n.errorText(err), "error");
      }
    }

    // ---------------------------------------------------------------- filling
    function fillMenu() {
      let dialog = null;
      const mode = h("select", { id: "fill-mode", "aria-label": t("dial_list.fill_mode") }, ["append", "replace"].map((m) => h("option", { value: m }, t(`dial_list.mode.${m}`))));
      const number = h("input", { id: "add-number", type: "tel", placeholder: t("dial_list.add_number") });
      const file = h("input", { id: "fill-file", type: "file", accept: ".csv,.xls,.xlsx,.ods,text/csv" });
      const item = (id, key, onclick) => h("button", { type: "button", id, style: { width: "100%" }, onclick }, t(key));
      dialog = modal({
        title: t("dial_list.fill"),
        body: h(
          "div",
          { class: "stack" },
          h("div", { class: "field" }, h("label", {}, t("dial_list.fill_mode")), mode),
          h("div", { class: "row" }, number, h("button", { type: "button", class: "primary", id: "add-number-ok", onclick: () => { dialog.close(); addNumber(number.value, mode.value); } }, icon("plus"), t("action.add"))),
          item("fill-planned", "dial_list.fill_planned", async () => { dialog.close(); if (await replaceAgreed(mode.value)) fill({ source: "planned", mode: mode.value }); }),
          item("fill-missed", "dial_list.fill_missed", async () => { dialog.close(); if (await replaceAgreed(mode.value)) fill({ source: "missed", from: "pbx", mode: mode.value }); }),
          h("div", { class: "field" }, h("label", { for: "fill-file" }, t("dial_list.fill_file")), file),
        ),
        actions: [{ label: t("action.close") }],
      });
      file.addEventListener("change", async () => {
        if (!file.files.length) return;
        dialog.close();
        if (await replaceAgreed(mode.value)) importFile(file.files[0], mode.value);
      });
    }

    // "Replace" drops the list's entries, their attempts and postponements: asked first
    // when there is something to lose (a file of refused rows keeps the list anyway).
    async function replaceAgreed(mode) {
      const shown = lists.find((l) => l.id === listId);
      if (mode !== "replace" || !shown || !shown.total) return true;
      return confirm(t("dial_list.replace_confirm", { name: shown.name, count: i18n.number(shown.total) }), { danger: true, okLabel: t("dial_list.mode.replace") });
    }

    async function addNumber(text, mode) {
      if (!text.trim()) return;
      try {
        const answer = await api.post("/api/dial-list", { entries: [{ number: text.trim() }], mode }, { list: listId || undefined });
        report(answer);
        reload(0);
      } catch (err) {
        toast(i18n.errorText(err), "error");
      }
    }

    async function fill(body) {
      try {
        const answer = await api.post("/api/dial-list/fill", body, { list: listId || undefined });
        report(answer);
        await loadLists();
        reload(0);
      } catch (err) {
        toast(i18n.errorText(err), "error");
      }
    }

    async function importFile(fileObject, mode) {
      const bar = h("progress", { id: "import-progress", max: "1", value: "0" });
      const label = h("div", { class: "small muted", id: "import-stage" }, t("dial_list.uploading", { name: fileObject.name }));
      const dialog = modal({ title: t("dial_list.fill_file"), body: h("div", { class: "stack" }, label, bar), actions: [] });
      const form = new FormData();
      form.append("file", fileObject);
      // The agent's reading and storing of it, once the bytes are sent (live "import").
      const work = followImport(store, ["dial_list", "dial-list"], { bar, label });
      try {
        const answer = await api.upload("/api/dial-list/import", form, {
          params: { list: listId || undefined, mode },
          onProgress: (fraction) => {
            if (work.heard()) return;
            bar.value = String(fraction);
            if (fraction >= 1) {
              label.textContent = t("dial_list.processing");
              bar.removeAttribute("value"); // indeterminate until the agent tells how far
            }
          },
        });
        dialog.close();
        report(answer);
        await loadLists();
        reload(0);
      } catch (err) {
        dialog.close();
        toast(i18n.errorText(err), "error");
      } finally {
        work.off();
      }
    }

    function report(answer) {
      const rejected = answer.rejected || [];
      if (!rejected.length) {
        toast(t("dial_list.accepted", { n: answer.accepted }), "ok");
        return;
      }
      modal({
        title: t("dial_list.import_report"),
        wide: true,
        body: h(
          "div",
          { class: "stack", id: "import-report" },
          h("p", {}, t("dial_list.accepted_rejected", { accepted: answer.accepted, rejected: rejected.length })),
          h(
            "div",
            { class: "table-wrap", style: { maxHeight: "50vh" } },
            h(
              "table",
              { id: "rejected-rows" },
              h("thead", {}, h("tr", {}, h("th", { class: "num" }, t("dial_list.col.row")), h("th", {}, t("dial_list.col.column")), h("th", {}, t("dial_list.col.reason")))),
              h("tbody", {}, rejected.map((r) => h("tr", {}, h("td", { class: "num" }, r.row), h("td", {}, r.column), h("td", {}, r.reason)))),
            ),
          ),
        ),
        actions: [{ label: t("action.close"), kind: "primary" }],
      });
    }

    function sortMenu() {
      let dialog = null;
      const go = async (descending) => {
        dialog.close();
        try {
          await api.post("/api/dial-list/sort", { by: "abc", descending }, { list: listId || undefined });
          reload(0);
        } catch (err) {
          toast(i18n.errorText(err), "error");
        }
      };
      dialog = modal({
        title: t("dial_list.abc_sort"),
        body: h(
          "div",
          { class: "stack" },
          h("button", { type: "button", id: "sort-asc", style: { width: "100%" }, onclick: () => go(false) }, t("dial_list.sort_asc")),
          h("button", { type: "button", id: "sort-desc", style: { width: "100%" }, onclick: () => go(true) }, t("dial_list.sort_desc")),
        ),
        actions: [{ label: t("action.cancel") }],
      });
    }

    // ---------------------------------------------------------------- live
    let refreshTimer = null;
    const off = store.on("dialer", (view) => {
      renderDialer(view);
      clearTimeout(refreshTimer);
      refreshTimer = setTimeout(() => reload(offset), 400);
    });

    renderDialer(dialer);
    await reload(0, firstPage);
    await loadLists(listsLoaded);
    return () => {
      off();
      clearInterval(tick);
      clearTimeout(refreshTimer);
    };
  },
};
