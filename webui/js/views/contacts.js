// Contacts (U7): the list with search, a contact's card (phones to dial, attributes,
// statistics M5, events), and the edit form; import from a file.

import { h, clear, pager, modal, confirm, debounce, loading, showFieldErrors } from "../dom.js";
import { icon } from "../icons.js";
import { contactBlocks } from "../stats.js";
import { openEventForm } from "../event_form.js";
import { followImport } from "../import_progress.js";

const LIMIT = 50;

export default {
  id: "contacts",
  titleKey: "nav.contacts",
  icon: "contacts",
  requires: ["/api/contacts", "/api/contacts/{id}"],

  mount(root, ctx) {
    if (ctx.args[0]) return card(root, ctx, ctx.args[0]);
    return list(root, ctx);
  },
};

function list(root, ctx) {
  const { t, i18n, api, toast } = ctx;
  let offset = 0;
  const search = h("input", { type: "search", id: "contact-search", placeholder: t("contacts.search"), "aria-label": t("contacts.search"), value: ctx.params.q || "" });
  const add = h("button", { type: "button", class: "primary", id: "contact-new", onclick: () => editContact(ctx, null, (c) => ctx.navigate(`contacts/${c.id}`)) }, icon("plus"), t("action.new"));
  const importButton = ctx.has("/api/contacts/import")
    ? h("button", { type: "button", id: "contact-import", onclick: () => importContacts(ctx, () => reload(0)) }, t("contacts.import"))
    : null;
  const body = h("div", { id: "contacts-body" }, loading());
  root.append(h("div", { class: "toolbar" }, search, add, importButton), body);
  search.addEventListener("input", debounce(() => reload(0), 300));

  async function reload(at) {
    offset = at;
    let page;
    try {
      page = await api.get("/api/contacts", { q: search.value.trim(), limit: LIMIT, offset });
    } catch (err) {
      clear(body).append(h("div", { class: "error-box", role: "alert" }, i18n.errorText(err)));
      return;
    }
    clear(body);
    if (!page.items.length) {
      body.append(h("div", { class: "empty", id: "contacts-empty" }, t("contacts.empty")));
      return;
    }
    const rows = page.items.map((c) =>
      h(
        "tr",
        { dataset: { id: String(c.id) }, style: { cursor: "pointer" }, onclick: () => ctx.navigate(`contacts/${c.id}`) },
        h("td", {}, h("strong", {}, c.name || "—"), c.company ? h("div", { class: "small muted" }, c.company) : null),
        h("td", { class: "mono small" }, (c.phones || []).map((p) => p.number).join(", ")),
        h("td", {}, c.abc ? h("span", { class: "badge" }, c.abc) : ""),
        h("td", { class: "small muted nowrap" }, i18n.time(c.last_contact_at)),
      ),
    );
    body.append(
      h(
        "div",
        { class: "table-wrap" },
        h(
          "table",
          { id: "contacts-table" },
          h("thead", {}, h("tr", {}, h("th", {}, t("contacts.col.name")), h("th", {}, t("contacts.col.phones")), h("th", {}, "ABC"), h("th", {}, t("contacts.col.last_contact")))),
          h("tbody", {}, rows),
        ),
      ),
      pager({ offset, limit: LIMIT, total: page.total, nextOffset: page.next_offset, shown: page.items.length, onPage: reload }),
    );
  }
  reload(0);
}

async function card(root, ctx, id) {
  const { t, i18n, api, toast } = ctx;
  root.append(loading());
  let contact;
  try {
    contact = await api.get(`/api/contacts/${encodeURIComponent(id)}`);
  } catch (err) {
    clear(root).append(h("div", { class: "error-box", role: "alert" }, i18n.errorText(err)));
    return;
  }
  clear(root);
  const header = h(
    "div",
    { class: "toolbar" },
    h("button", { type: "button", class: "icon", title: t("contacts.back"), "aria-label": t("contacts.back"), onclick: () => ctx.navigate("contacts") }, "‹"),
    h("h2", { style: { margin: 0, fontSize: "16px" }, id: "contact-name" }, contact.name || "—"),
    contact.abc ? h("span", { class: "badge" }, `ABC: ${contact.abc}`) : null,
    h("span", { class: "spacer" }),
    h("button", { type: "button", id: "contact-edit", onclick: () => editContact(ctx, contact, () => ctx.navigate(`contacts/${contact.id}?r=${Date.now()}`)) }, icon("edit"), t("action.edit")),
    h("button", { type: "button", class: "danger icon", title: t("action.delete"), "aria-label": t("action.delete"), onclick: () => remove() }, icon("trash")),
  );
  const phones = h(
    "ul",
    { class: "lines", id: "contact-phones" },
    (contact.phones || []).map((p) =>
      h(
        "li",
        {},
        h("span", { class: "who" }, h("span", { class: "mono" }, p.number), " ", h("span", { class: "state" }, [p.kind, p.person].filter(Boolean).join(" · "))),
        h("button", { type: "button", class: "icon good", title: t("action.call"), "aria-label": t("action.call"), onclick: () => dial(p.number) }, icon("phone")),
      ),
    ),
  );
  const attrs = Object.entries(contact.attributes || {});
  const details = h(
    "dl",
    { class: "info" },
    h("dt", {}, t("contacts.col.company")),
    h("dd", {}, contact.company || "—"),
    h("dt", {}, t("contacts.col.responsible")),
    h("dd", {}, contact.responsible_ext || "—"),
    h("dt", {}, t("contacts.col.last_contact")),
    h("dd", {}, i18n.dateTime(contact.last_contact_at) || "—"),
    attrs.map(([k, v]) => [h("dt", {}, k), h("dd", {}, typeof v === "object" ? JSON.stringify(v) : String(v))]),
  );
  const stats = h("div", { id: "contact-stats" });
  const events = h("div", { id: "contact-events" });
  root.append(
    header,
    h(
      "div",
      { class: "phone-grid" },
      h("div", {}, h("section", { class: "card" }, h("h3", {}, t("contacts.phones")), phones), h("section", { class: "card" }, h("h3", {}, t("contacts.details")), details)),
      h("div", {}, h("section", { class: "card" }, h("h3", {}, t("phone.contact_stats")), stats), h("section", { class: "card" }, h("h3", {}, t("nav.events")), events)),
    ),
  );
  if (contact.deleted) header.append(h("span", { class: "badge failed" }, t("contacts.deleted")));
  contactBlocks(ctx, stats, contact.id);
  loadEvents();

  async function loadEvents() {
    if (!ctx.has("/api/contacts/{id}/events")) return;
    try {
      const page = await api.get(`/api/contacts/${contact.id}/events`, { limit: 20 });
      clear(events);
      if (!page.items.length) events.append(h("div", { class: "empty small" }, t("events.empty")));
      for (const e of page.items) {
        events.append(
          h(
            "div",
            { class: "row small", style: { cursor: "pointer", padding: "3px 0" }, onclick: () => openEventForm(ctx, e) },
            h("span", { class: `badge ${e.state}` }, t(`event.state.${e.state}`)),
            h("span", { class: "grow" }, e.kind || "", e.notes ? ` — ${e.notes.slice(0, 60)}` : ""),
            h("span", { class: "muted" }, i18n.time(e.planned_at || e.created_at)),
          ),
        );
      }
    } catch (_) {
      /* events are optional on the card */
    }
  }

  async function dial(number) {
    try {
      await api.post("/api/dial", { number });
      toast(t("phone.dialing", { number }), "ok");
    } catch (err) {
      toast(i18n.errorText(err), "error");
    }
  }

  async function remove() {
    if (!(await confirm(t("contacts.delete_confirm", { name: contact.name }), { danger: true, okLabel: t("action.delete") }))) return;
    try {
      await api.del(`/api/contacts/${contact.id}`);
      ctx.navigate("contacts");
    } catch (err) {
      toast(i18n.errorText(err), "error");
    }
  }
}

// The edit form: name, company, responsible operator, phones (number, kind, person),
// attributes as JSON. Field errors from the agent show beside their fields.
export function editContact(ctx, contact, onSaved) {
  const { t, i18n, api, toast } = ctx;
  const c = contact || { name: "", company: "", phones: [{ number: "" }], attributes: {}, responsible_ext: "" };
  const name = h("input", { name: "name", id: "contact-form-name", value: c.name || "" });
  const company = h("input", { name: "company", value: c.company || "" });
  const responsible = h("input", { name: "responsible_ext", value: c.responsible_ext || "" });
  const attributes = h("textarea", { name: "attributes", rows: 3 }, JSON.stringify(c.attributes || {}, null, 1));
  const phoneRows = h("div", { class: "stack", id: "contact-form-phones" });
  const addPhone = (p = {}) => {
    const row = h(
      "div",
      { class: "row phone-row" },
      h("input", { class: "grow", name: "number", type: "tel", placeholder: t("phone.number"), value: p.number || "", style: { flex: "2 1 120px" } }),
      h("input", { name: "kind", placeholder: t("contacts.phone_kind"), value: p.kind || "", style: { flex: "1 1 70px" } }),
      h("input", { name: "person", placeholder: t("contacts.phone_person"), value: p.person || "", style: { flex: "1 1 90px" } }),
      h("button", { type: "button", class: "icon", title: t("action.delete"), "aria-label": t("action.delete"), onclick: () => row.remove() }, icon("close")),
    );
    phoneRows.append(row);
  };
  (c.phones && c.phones.length ? c.phones : [{}]).forEach(addPhone);
  const field = (key, labelKey, control) => h("div", { class: "field", dataset: { field: key } }, h("label", {}, t(labelKey)), control);
  const form = h(
    "form",
    { class: "stack", id: "contact-form", onsubmit: (e) => e.preventDefault() },
    field("name", "contacts.col.name", name),
    field("company", "contacts.col.company", company),
    h("div", { class: "field", dataset: { field: "phones" } }, h("label", {}, t("contacts.phones")), phoneRows, h("button", { type: "button", class: "link", onclick: () => addPhone() }, `+ ${t("contacts.add_phone")}`)),
    field("responsible_ext", "contacts.col.responsible", responsible),
    field("attributes", "contacts.attributes", attributes),
  );
  modal({
    title: contact ? t("contacts.edit") : t("contacts.new"),
    body: form,
    wide: true,
    actions: [
      { label: t("action.cancel") },
      {
        id: "contact-save",
        label: t("action.save"),
        kind: "primary",
        onClick: async () => {
          let attrs;
          try {
            attrs = JSON.parse(attributes.value || "{}");
          } catch (_) {
            showFieldErrors(form, [{ field: "attributes", text: t("settings.invalid.json") }], () => "");
            return false;
          }
          const phones = [...phoneRows.querySelectorAll(".phone-row")]
            .map((row) => ({
              number: row.querySelector("[name=number]").value.trim(),
              kind: row.querySelector("[name=kind]").value.trim() || null,
              person: row.querySelector("[name=person]").value.trim() || null,
            }))
            .filter((p) => p.number);
          const body = { name: name.value.trim(), company: company.value.trim() || null, phones, attributes: attrs, responsible_ext: responsible.value.trim() || null };
          try {
            const saved = contact ? await api.put(`/api/contacts/${contact.id}`, body) : await api.post("/api/contacts", body);
            toast(t("contacts.saved"), "ok");
            onSaved && onSaved(saved);
            return undefined;
          } catch (err) {
            // The agent names the field by its JSON path ("phones[0].number",
            // "attributes.city"); the form has one field per top-level name. The text is
            // the error's message in the window's language (i18n.errorText), never the
            // agent's English; an error no field holds is a toast.
            const key = err.field ? err.field.split(/[.[]/)[0] : "";
            const shown = key && showFieldErrors(form, [{ field: key, text: i18n.errorText(err) }], () => "");
            if (!shown) toast(i18n.errorText(err), "error");
            return false;
          }
        },
      },
    ],
  });
}

function importContacts(ctx, onDone) {
  const { t, i18n, api, toast, store } = ctx;
  const file = h("input", { type: "file", id: "contact-import-file", accept: ".csv,.xls,.xlsx,.ods" });
  const bar = h("progress", { max: "1", value: "0", hidden: true, id: "contact-import-progress" });
  const stage = h("div", { class: "small muted", id: "contact-import-stage" });
  const out = h("div", { class: "small" });
  const dialog = modal({
    title: t("contacts.import"),
    body: h("div", { class: "stack" }, file, bar, stage, out),
    actions: [{ label: t("action.close") }],
  });
  file.addEventListener("change", async () => {
    if (!file.files.length) return;
    const form = new FormData();
    form.append("file", file.files[0]);
    bar.hidden = false;
    // The agent's reading and storing, once the bytes are sent (live topic "import").
    const work = followImport(store, "contacts", { bar, label: stage });
    try {
      const answer = await api.upload("/api/contacts/import", form, {
        onProgress: (f) => {
          if (work.heard()) return;
          if (f >= 1) {
            bar.removeAttribute("value");
            stage.textContent = t("dial_list.processing");
          } else bar.value = String(f);
        },
      });
      bar.hidden = true;
      stage.textContent = "";
      clear(out).append(
        h("p", {}, t("dial_list.accepted_rejected", { accepted: answer.accepted, rejected: (answer.rejected || []).length })),
        (answer.rejected || []).slice(0, 200).map((r) => h("div", { class: "muted" }, `${r.row} · ${r.column}: ${r.reason}`)),
      );
      onDone && onDone();
    } catch (err) {
      bar.hidden = true;
      toast(i18n.errorText(err), "error");
      dialog.close();
    } finally {
      work.off();
    }
  });
}
