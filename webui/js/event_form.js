// The event form that opens on answer (U8, C2, A5): Save records it, Decline marks the
// call "unimportant" (the history import never loads it) and lets auto-dial go on.

import { h, modal, showFieldErrors } from "./dom.js";

const open = new Set(); // event ids with a form on screen: one form per event

function localInput(iso) {
  if (!iso) return "";
  const d = new Date(iso);
  const pad = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

async function loadEvent(ctx, given) {
  // Always the stored event: a live message or a list row may be older than it.
  return ctx.api.get(`/api/events/${encodeURIComponent(given.id)}`);
}

export async function openEventForm(ctx, given) {
  const { t, i18n, api, toast } = ctx;
  if (!given || given.id === undefined || open.has(String(given.id))) return;
  open.add(String(given.id));
  let event;
  try {
    event = await loadEvent(ctx, given);
  } catch (err) {
    open.delete(String(given.id));
    toast(i18n.errorText(err), "error");
    return;
  }
  const form = h("form", { id: "event-form", class: "stack", onsubmit: (e) => e.preventDefault() });
  const kind = h("input", { name: "kind", id: "event-kind", value: event.kind || "" });
  const importance = h("input", { name: "importance", id: "event-importance", value: event.importance ?? "" });
  const planned = h("input", { type: "datetime-local", name: "planned_at", id: "event-planned", value: localInput(event.planned_at) });
  const notes = h("textarea", { name: "notes", id: "event-notes", rows: 4, style: { fontFamily: "inherit", fontSize: "13px" } }, event.notes || "");
  const field = (name, labelKey, control) =>
    h("div", { class: "field", dataset: { field: name } }, h("label", {}, t(labelKey)), control);
  form.append(
    h(
      "dl",
      { class: "info" },
      h("dt", {}, t("event.number")),
      h("dd", { class: "mono" }, event.number || ""),
      h("dt", {}, t("event.call")),
      h("dd", { class: "mono small" }, event.call_uuid || "—"),
    ),
    field("kind", "event.kind", kind),
    field("importance", "event.importance", importance),
    field("planned_at", "event.planned_at", planned),
    field("notes", "event.notes", notes),
  );

  async function send(action) {
    const body = {};
    if (action !== "decline") {
      body.kind = kind.value.trim();
      body.importance = importance.value.trim();
      body.notes = notes.value;
      body.planned_at = planned.value ? new Date(planned.value).toISOString() : null;
    }
    try {
      const path = `/api/events/${encodeURIComponent(event.id)}`;
      if (action === "edit") await api.put(path, body);
      else await api.post(`${path}/${action}`, body);
      toast(t(action === "decline" ? "event.declined" : "event.saved"), "ok");
      return true;
    } catch (err) {
      // Each refused field in the window's language (i18n.errorText), beside its field;
      // one the form does not show (call_uuid, fields…) is a toast.
      const refused = err.fields && err.fields.length ? err.fields : err.field ? [err] : [];
      const errors = refused.map((e) => ({ field: e.field, text: i18n.errorText(e) }));
      if (!errors.length || !showFieldErrors(form, errors, () => "")) toast(i18n.errorText(err), "error");
      return false;
    }
  }

  // An open event is saved or declined (A5); a saved one may still be edited.
  const actions =
    event.state === "open"
      ? [
          { id: "decline", label: t("event.decline"), kind: "danger", onClick: async () => ((await send("decline")) ? undefined : false) },
          { id: "save", label: t("event.save"), kind: "primary", onClick: async () => ((await send("save")) ? undefined : false) },
        ]
      : event.state === "saved"
        ? [
            { label: t("action.close") },
            { id: "save", label: t("action.save"), kind: "primary", onClick: async () => ((await send("edit")) ? undefined : false) },
          ]
        : [{ label: t("action.close") }];
  if (event.state === "declined") for (const el of form.querySelectorAll("input, textarea")) el.disabled = true;
  modal({
    title: `${t("event.title")} · ${t(`event.state.${event.state}`)}`,
    body: form,
    onClose: () => open.delete(String(given.id)),
    actions,
  });
  if (event.state === "open") notes.focus(); // the operator writes while talking
}
