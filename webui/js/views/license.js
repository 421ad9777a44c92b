// The licence: the licence tab (U10) and the first-run licence form (L1; issue 8).
//
// Mounting contract (agreed with the web UI shell, webui/js/app.js):
//   export default { id: "license", titleKey, icon, requires: ["/api/license"], mount(root, ctx) }
//     The licence page: client ID, client code, licences, active operators (the others
//     connected now on this database), expiry, and "Change key". While the agent has
//     no valid key (GET /api/license → required: true) the form is open on the page.
//   export function offerAtFirstRun(ctx) → Promise<boolean>
//     For the shell to call once after it started (manual §4: "at the first connection
//     the licence request form opens"): when the licence is required and the operator
//     has not put it off in this session, opens the form as a dialog. Never blocks:
//     without a key the agent runs as one seat (contracts.md §2).
//   export function openLicenseForm(ctx, { firstRun, onDone }) → the dialog
//     It follows the window's language (docs/window.md: every open window switches at
//     once): on the shell's store topic "language" it is built again in the new one,
//     keeping what was typed and the error shown.
// ctx is the shell's context: { api (get/post), t, i18n (has, dateTime, day…), h, toast,
// modal, store? (on) }.
// Texts use the message keys listed in docs/licensing.md, with English built in until
// agent/i18n/*.json carry them.
//
// Endpoints: GET /api/license, POST /api/license {key, client_code?, count?} (422 names
// the field), GET /api/license/request?client_code&count (the request text to copy).

const LATER_KEY = "phonet-agent.license-later";

function tr(ctx, key, english, values) {
  const known = ctx.i18n && typeof ctx.i18n.has === "function" && ctx.i18n.has(key);
  let text = known ? ctx.t(key, values) : english;
  if (!known && values) {
    text = text.replace(/\{(\w+)\}/g, (whole, name) =>
      values[name] === undefined || values[name] === null ? whole : String(values[name]),
    );
  }
  return text;
}

// An error from the agent in words. The agent's English message is the most specific
// ("the key is for client code 14360570, not 32855961"); in another language the
// translation of its code (license.malformed, license.other_client_code…, and any other
// code the way every page finds it: i18n.errorText), never the English.
function errorText(ctx, err) {
  const i18n = ctx.i18n || {};
  const english = !i18n.language || i18n.language() === "en";
  if (english && err && err.message) return err.message;
  if (i18n.errorText) return i18n.errorText(err);
  if (err && err.code && i18n.has && i18n.has(err.code)) return ctx.t(err.code);
  return (err && err.message) || String(err);
}

async function copyText(text, fallbackArea) {
  try {
    if (navigator.clipboard && window.isSecureContext) {
      await navigator.clipboard.writeText(text);
      return true;
    }
  } catch (_) {
    /* fall back to selecting the text */
  }
  if (fallbackArea) {
    fallbackArea.focus();
    fallbackArea.select();
    try {
      return document.execCommand("copy");
    } catch (_) {
      return false;
    }
  }
  return false;
}

function field(ctx, name, labelKey, labelEn, hintKey, hintEn, control) {
  const { h } = ctx;
  control.id = control.id || `license-${name}`;
  control.name = name;
  const error = h("div", { class: "field-error", role: "alert", dataset: { errorFor: name } });
  error.hidden = true;
  const box = h(
    "div",
    { class: "field", dataset: { field: name } },
    h("label", { for: control.id }, tr(ctx, labelKey, labelEn)),
    control,
    hintKey ? h("div", { class: "hint" }, tr(ctx, hintKey, hintEn)) : null,
    error,
  );
  return { box, control, error };
}

// The licence request form (manual §4): client ID, client code, licence count, key.
function buildForm(ctx, licence, { onInstalled, onCancel, firstRun }) {
  const { h } = ctx;
  const fields = {
    client_id: field(
      ctx, "client_id", "license.client_id", "Client ID",
      "license.client_id_hint", "The unique ID of this database: send it to the vendor",
      h("input", { type: "text", readonly: true, class: "mono", value: licence.client_id }),
    ),
    client_code: field(
      ctx, "client_code", "license.client_code", "Client code (EDRPOU)",
      "license.client_code_hint", "Your company's EDRPOU code, 8 digits: send it to the vendor",
      h("input", {
        type: "text", inputmode: "numeric", autocomplete: "off", maxlength: "12",
        value: licence.client_code || "",
      }),
    ),
    count: field(
      ctx, "count", "license.count", "Number of licences",
      "license.count_hint", "How many operators work at the same time",
      h("input", { type: "number", min: "1", max: "9999", step: "1",
                   value: String(licence.key_count || Math.max(1, licence.count || 1)) }),
    ),
    key: field(
      ctx, "key", "license.key", "Product key",
      "license.key_hint", "The product key you received from the vendor (PA1-…)",
      h("textarea", { class: "mono", rows: "4", spellcheck: "false", autocomplete: "off",
                      placeholder: "PA1-…" }),
    ),
  };
  const requestArea = h("textarea", {
    class: "mono", rows: "4", readonly: true, name: "request",
    "aria-label": tr(ctx, "license.request_text", "The licence request"),
  });
  requestArea.hidden = true;
  const copyButton = h(
    "button",
    { type: "button", dataset: { action: "copy-request" } },
    tr(ctx, "license.copy_request", "Copy the request for the vendor"),
  );
  const requestNote = h("div", { class: "hint small muted", role: "status" });
  const formError = h("div", { class: "error-box", role: "alert" });
  formError.hidden = true;

  function clearErrors() {
    form.lastError = null;
    formError.hidden = true;
    for (const f of Object.values(fields)) {
      f.box.classList.remove("invalid");
      f.error.hidden = true;
      f.error.textContent = "";
      f.control.removeAttribute("aria-invalid");
    }
  }

  function showError(err) {
    form.lastError = err; // said again when the form is built in another language
    const target = err && err.field && fields[err.field];
    if (target) {
      target.box.classList.add("invalid");
      target.control.setAttribute("aria-invalid", "true");
      target.error.textContent = errorText(ctx, err);
      target.error.hidden = false;
      target.control.focus();
    } else {
      formError.textContent = errorText(ctx, err);
      formError.hidden = false;
    }
  }

  function countValue() {
    const raw = fields.count.control.value.trim();
    return /^\d+$/.test(raw) ? Number(raw) : raw;
  }

  copyButton.addEventListener("click", async () => {
    clearErrors();
    copyButton.disabled = true;
    try {
      const made = await ctx.api.get("/api/license/request", {
        client_code: fields.client_code.control.value,
        count: fields.count.control.value.trim(),
      });
      requestArea.value = made.text;
      requestArea.hidden = false;
      const copied = await copyText(made.text, requestArea);
      requestNote.textContent = copied
        ? tr(ctx, "license.request_copied", "Copied: paste it into a message to the vendor")
        : tr(ctx, "license.request_select", "Select the text and copy it to the vendor");
      requestNote.dataset.copied = copied ? "1" : "0";
    } catch (err) {
      showError(err);
    } finally {
      copyButton.disabled = false;
    }
  });

  const okButton = h(
    "button",
    { type: "submit", class: "primary", dataset: { action: "install" } },
    tr(ctx, "action.ok", "OK"),
  );
  const cancelButton = h(
    "button",
    { type: "button", dataset: { action: "later" } },
    firstRun ? tr(ctx, "license.later", "Later") : tr(ctx, "action.cancel", "Cancel"),
  );
  cancelButton.addEventListener("click", () => onCancel && onCancel());

  const form = h(
    "form",
    { class: "form-grid license-form", novalidate: true, dataset: { licenseForm: "1" } },
    firstRun
      ? h("p", { class: "muted" }, tr(ctx, "license.first_run_intro",
          "Send the vendor the client ID, your client code and the number of licences; " +
          "enter the product key you receive, then press OK. Until then the agent works " +
          "as one seat."))
      : null,
    fields.client_id.box,
    fields.client_code.box,
    fields.count.box,
    h("div", { class: "row" }, copyButton, requestNote),
    requestArea,
    fields.key.box,
    formError,
    h("div", { class: "row right" }, cancelButton, okButton),
  );
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    clearErrors();
    const key = fields.key.control.value.trim();
    if (!key) {
      showError({
        field: "key",
        code: "license.key_missing",
        message: tr(ctx, "license.key_missing", "Paste the product key"),
      });
      return;
    }
    okButton.disabled = true;
    try {
      const body = { key };
      const code = fields.client_code.control.value.trim();
      if (code) body.client_code = code;
      const count = countValue();
      if (count !== "") body.count = count;
      const installed = await ctx.api.post("/api/license", body);
      sessionStorage.removeItem(LATER_KEY);
      if (ctx.toast) {
        ctx.toast(
          tr(ctx, "license.installed", "Registered: {count} licences", { count: installed.count }),
          "ok",
        );
      }
      onInstalled && onInstalled(installed);
    } catch (err) {
      showError(err);
    } finally {
      okButton.disabled = false;
    }
  });
  form.showError = showError;
  return form;
}

// The same form in another language, in the place of the old one: what was typed and
// the request shown move over, the error shown is said again in the new language, and
// the focus stays on its field.
function replaceForm(from, to) {
  const focused = from.contains(document.activeElement) ? document.activeElement.name : null;
  for (const el of from.querySelectorAll("input[name], textarea[name]")) {
    if (el.name === "client_id") continue; // the agent's, not typed
    const twin = to.querySelector(`[name="${CSS.escape(el.name)}"]`);
    if (!twin) continue;
    twin.value = el.value;
    twin.hidden = el.hidden;
  }
  from.replaceWith(to);
  if (from.lastError) to.showError(from.lastError);
  const twin = focused && to.querySelector(`[name="${CSS.escape(focused)}"]`);
  if (twin) twin.focus();
}

function holderLabel(holder) {
  return holder.label || [holder.ext, holder.name].filter(Boolean).join(" ") || holder.agent_id;
}

function summary(ctx, licence) {
  const { h } = ctx;
  const day = (iso) => (ctx.i18n && ctx.i18n.dateTime ? ctx.i18n.dateTime(iso) : iso);
  const rows = [
    ["license.client_id", "Client ID", h("span", { class: "mono", dataset: { value: "client_id" } },
      licence.client_id)],
    ["license.client_code", "Client code (EDRPOU)", h("span", { dataset: { value: "client_code" } },
      licence.client_code || "—")],
    ["license.count", "Number of licences", h("span", { dataset: { value: "count" } },
      String(licence.count))],
    ["license.active", "Active now (others)", h("span", { dataset: { value: "active" } },
      licence.active.length
        ? `${licence.active.length}: ${licence.active.map(holderLabel).join(", ")}`
        : "0")],
    ["license.expires", "Expires", h("span", { dataset: { value: "expires" } },
      licence.expires_on
        ? `${licence.expires_on} (${tr(ctx, "license.until", "works until {time}",
            { time: day(licence.expires_at) })})`
        : licence.client_code ? tr(ctx, "license.never", "never") : "—")],
  ];
  const list = h("dl", { class: "info" });
  for (const [key, en, value] of rows) list.append(h("dt", {}, tr(ctx, key, en)), h("dd", {}, value));
  return list;
}

function stateLine(ctx, licence) {
  const { h } = ctx;
  // No key is a normal start (one seat); a key that stopped working is a problem.
  const kind = { licensed: "muted", unlicensed: "" }[licence.state] ?? "error-box";
  return h(
    "p",
    { class: kind || undefined, dataset: { licenseState: licence.state }, role: "status" },
    tr(ctx, `license.state.${licence.state}`, licence.message, {
      count: licence.count,
      until: licence.expires_on || "",
    }),
  );
}

async function mount(root, ctx) {
  const { h } = ctx;
  let alive = true;
  let editing = false;

  async function render() {
    let licence;
    try {
      licence = await ctx.api.get("/api/license");
    } catch (err) {
      root.replaceChildren(h("div", { class: "error-box", role: "alert" }, errorText(ctx, err)));
      return;
    }
    if (!alive) return;
    root.dataset.licenseState = licence.state;
    const showForm = licence.required || editing;
    const card = h(
      "section",
      { class: "card stack" },
      h("h3", {}, tr(ctx, "license.title", "Licence")),
      stateLine(ctx, licence),
      summary(ctx, licence),
      showForm
        ? null
        : h(
            "div",
            { class: "row" },
            h(
              "button",
              {
                type: "button",
                dataset: { action: "change-key" },
                onclick: () => {
                  editing = true;
                  render();
                },
              },
              tr(ctx, "license.change", "Change key"),
            ),
          ),
    );
    const parts = [card];
    if (showForm) {
      parts.push(
        h(
          "section",
          { class: "card" },
          h("h3", {}, licence.required
            ? tr(ctx, "license.form_title", "Licence request")
            : tr(ctx, "license.change_title", "New product key")),
          buildForm(ctx, licence, {
            firstRun: licence.required,
            onInstalled: () => {
              editing = false;
              render();
            },
            onCancel: () => {
              editing = false;
              if (licence.required) sessionStorage.setItem(LATER_KEY, "1");
              render();
            },
          }),
        ),
      );
    }
    root.replaceChildren(...parts);
  }

  await render();
  return () => {
    alive = false;
  };
}

export function openLicenseForm(ctx, { firstRun = false, onDone } = {}) {
  let dialog = null;
  let licence = null;
  let box = null;
  let stopFollowing = () => {};
  const makeForm = () =>
    buildForm(ctx, licence, {
      firstRun,
      onInstalled: (installed) => {
        dialog && dialog.close();
        onDone && onDone(installed);
      },
      onCancel: () => {
        if (firstRun) sessionStorage.setItem(LATER_KEY, "1");
        dialog && dialog.close();
      },
    });
  const body = (content) => {
    box = content;
    ctx.api.get("/api/license").then(
      (found) => {
        licence = found;
        content.append(makeForm());
      },
      (err) => content.append(ctx.h("div", { class: "error-box", role: "alert" }, errorText(ctx, err))),
    );
  };
  // The window's language changed (app.js changeLanguage): the title and the form again,
  // in the new language, as the pages behind the dialog are.
  function relabel() {
    if (!dialog) return;
    const title = dialog.element.querySelector("h2");
    if (title) title.textContent = tr(ctx, "license.form_title", "Licence request");
    const old = box && box.querySelector("form[data-license-form]");
    if (!old || !licence) return;
    replaceForm(old, makeForm());
  }
  dialog = ctx.modal({
    title: tr(ctx, "license.form_title", "Licence request"),
    body,
    actions: [],
    wide: true,
    onClose: () => stopFollowing(),
  });
  if (ctx.store && typeof ctx.store.on === "function") stopFollowing = ctx.store.on("language", relabel);
  return dialog;
}

export async function offerAtFirstRun(ctx) {
  if (sessionStorage.getItem(LATER_KEY)) return false;
  let licence;
  try {
    licence = await ctx.api.get("/api/license");
  } catch (_) {
    return false;
  }
  if (!licence.required) return false;
  openLicenseForm(ctx, { firstRun: true });
  return true;
}

export default {
  id: "license",
  titleKey: "nav.license",
  icon: "license",
  requires: ["/api/license"],
  mount,
};
