// The window's shell: token, language, navigation, the live channel, deep links.
//
// Pages are ES modules under views/ with the shape
//   export default { id, titleKey, icon, requires: ["/api/…"], parent?, mount(root, ctx) → unmount? }
// A page whose endpoints the agent does not serve (read from /api/openapi.json) is
// left out of the navigation, so the window works with whatever features are built.
// A page with a `parent` is not in the tab row (which must fit 420 px): it is a
// section of its parent's page, reached through the section links atop both.

import * as api from "./api.js";
import * as i18n from "./i18n.js";
import * as store from "./store.js";
import { h, clear, toast, modal, confirm } from "./dom.js";
import { icon } from "./icons.js";
import { openEventForm } from "./event_form.js";
import { banners } from "./call_banner.js";

const VIEW_MODULES = [
  "phone",
  "dial_list",
  "missed",
  "callbacks",
  "journal",
  "report",
  "contacts",
  "events",
  "settings",
  "health",
  "jobs",
  "license",
];

const state = {
  modules: {},
  ui: null,
  views: [],
  current: null,
  unmount: null,
  keyHandler: null,
  paths: {},
  calls: null, // call_banner.js: popups as strips under the tabs
};

function showFatal(titleKey, detailKey) {
  const root = document.getElementById("app");
  clear(root);
  root.append(
    h(
      "div",
      { class: "fatal" },
      h("h1", {}, i18n.t(titleKey)),
      h("p", {}, i18n.t(detailKey)),
    ),
  );
}

async function loadViews(paths) {
  // All at once: the browser fetches the modules in parallel, the order stays ours.
  const loaded = await Promise.all(
    VIEW_MODULES.map((name) =>
      import(`./views/${name}.js`).catch((err) => {
        if (name !== "license") console.warn(`view ${name} not loaded`, err);
        return null;
      }),
    ),
  );
  const views = [];
  VIEW_MODULES.forEach((name, index) => {
    const module = loaded[index];
    if (!module) return;
    state.modules[name] = module;
    const view = module.default;
    if (!view || !view.id || typeof view.mount !== "function") return;
    const needs = view.requires || [];
    if (needs.every((path) => path in paths)) views.push(view);
  });
  return views;
}

// ------------------------------------------------------------------ routing

export function parseRoute(hash) {
  const text = (hash || "").replace(/^#\/?/, "");
  const [pathPart, queryPart] = text.split("?");
  const parts = pathPart.split("/").filter(Boolean).map(decodeURIComponent);
  const params = Object.fromEntries(new URLSearchParams(queryPart || ""));
  return { view: parts[0] || "phone", args: parts.slice(1), params };
}

export function navigate(path) {
  const target = `#/${path.replace(/^#?\/?/, "")}`;
  if (window.location.hash === target) route();
  else window.location.hash = target;
}

// The pages shown as one in the tab row: a parent and its sections.
function family(view) {
  const head = (view.parent && state.views.find((v) => v.id === view.parent)) || view;
  return [head, ...state.views.filter((v) => v.parent === head.id)];
}

function sectionLinks(members, current) {
  return h(
    "nav",
    { class: "subtabs sections", id: "sections", "aria-label": i18n.t("nav.sections") },
    members.map((v) =>
      h(
        "a",
        {
          href: `#/${v.id}`,
          dataset: { view: v.id },
          class: v.id === current.id ? "active" : "",
          "aria-current": v.id === current.id ? "page" : null,
        },
        i18n.t(v.titleKey),
      ),
    ),
  );
}

function route() {
  const { view: id, args, params } = parseRoute(window.location.hash);
  const view = state.views.find((v) => v.id === id) || state.views[0];
  if (!view) return;
  if (state.unmount) {
    try {
      state.unmount();
    } catch (err) {
      console.warn("unmount failed", err);
    }
  }
  state.unmount = null;
  state.keyHandler = null;
  state.current = view;
  const tab = view.parent && state.views.some((v) => v.id === view.parent) ? view.parent : view.id;
  for (const link of document.querySelectorAll("nav.tabs a")) {
    const active = link.dataset.view === tab;
    link.classList.toggle("active", active);
    if (active) {
      link.setAttribute("aria-current", "page");
      link.scrollIntoView({ block: "nearest", inline: "nearest" });
    } else link.removeAttribute("aria-current");
  }
  const root = clear(document.getElementById("view"));
  root.dataset.view = view.id;
  delete root.dataset.ready;
  document.title = `${i18n.t(view.titleKey)} · Phonet Agent`;
  const ctx = context({ args, params });
  const members = family(view);
  let mountPoint = root;
  if (members.length > 1) {
    mountPoint = h("div", { class: "section-body" });
    root.append(sectionLinks(members, view), mountPoint);
  }
  Promise.resolve(view.mount(mountPoint, ctx))
    .then((unmount) => {
      if (state.current === view) state.unmount = typeof unmount === "function" ? unmount : null;
      root.dataset.ready = "1";
    })
    .catch((err) => {
      root.append(h("div", { class: "error-box", role: "alert" }, i18n.errorText(err)));
      root.dataset.ready = "1";
    });
}

function context(extra) {
  return {
    api,
    t: i18n.t,
    i18n,
    h,
    toast,
    modal,
    store,
    ui: state.ui,
    paths: state.paths,
    has: (path) => path in state.paths,
    navigate,
    onKey(handler) {
      state.keyHandler = handler;
    },
    ...extra,
  };
}

// Deep links: ?open=call:UUID (a popup was clicked), contact:ID, event:ID, number:N, page:NAME.
export function openTarget(target) {
  const [kind, ...rest] = String(target || "").split(":");
  const value = rest.join(":");
  if (!value) return;
  switch (kind) {
    case "call":
      navigate(`phone?call=${encodeURIComponent(value)}`);
      break;
    case "number":
      navigate(`phone?number=${encodeURIComponent(value)}`);
      break;
    case "contact":
      navigate(`contacts/${encodeURIComponent(value)}`);
      break;
    case "event":
      openEventForm(context({}), { id: value });
      break;
    case "page":
      navigate(value);
      break;
    default:
      break;
  }
}

// ------------------------------------------------------------------ the frame

function buildNav() {
  const nav = document.querySelector("nav.tabs");
  clear(nav);
  for (const view of state.views) {
    if (view.parent && state.views.some((v) => v.id === view.parent)) continue;
    nav.append(
      h(
        "a",
        {
          href: `#/${view.id}`,
          dataset: { view: view.id },
          title: i18n.t(view.titleKey),
        },
        icon(view.icon || view.id),
        h("span", { class: "label" }, i18n.t(view.titleKey)),
      ),
    );
  }
}

function renderStatus(status) {
  const dot = document.getElementById("link-dot");
  const link = status.link || (status.connected ? "online" : "offline");
  dot.className = `link-dot ${link}`;
  dot.title = i18n.t(`link.${link}`);
  document.getElementById("link-text").textContent = i18n.t(`link.${link}`);
  const toggle = document.getElementById("link-toggle");
  toggle.hidden = !("/api/connect" in state.paths);
  toggle.textContent = i18n.t(link === "online" ? "link.disconnect" : "link.connect");
  toggle.dataset.action = link === "online" ? "disconnect" : "connect";
  document.getElementById("ext").textContent = status.extension
    ? i18n.t("header.extension", { ext: status.extension })
    : "";
  const dnd = document.getElementById("dnd-chip");
  dnd.hidden = !(status.dnd && status.dnd.on);
  dnd.textContent = status.dnd && status.dnd.until
    ? i18n.t("dnd.until", { time: i18n.time(status.dnd.until) })
    : i18n.t("dnd.on");
  const dialer = document.getElementById("dialer-chip");
  const dstate = status.dialer && status.dialer.state;
  dialer.hidden = !dstate || dstate === "idle";
  if (dstate) dialer.textContent = i18n.t(`dialer.state.${dstate}`);
}

// Connect / Disconnect (M3): the live link, on the operator's word.
async function toggleLink() {
  const toggle = document.getElementById("link-toggle");
  const action = toggle.dataset.action;
  if (action === "disconnect" && !(await confirm(i18n.t("link.disconnect_confirm")))) return;
  try {
    await api.post(`/api/${action}`);
  } catch (err) {
    toast(i18n.errorText(err), "error");
  }
}

function onLiveMessage(message) {
  const { topic, data } = message;
  if (topic === "hello") {
    store.emit("status", data.status);
    if (data.language && data.language !== i18n.language()) changeLanguage(data.language);
    return;
  }
  if (topic === "ping" || topic === "pong") return;
  if (topic === "status" && data && data.dialer === undefined) {
    data.dialer = store.status().dialer;
  }
  store.emit(topic, data);
  if (topic === "popup" && state.calls) state.calls.show(data);
  // "open" comes as {target: "event:7"} (the window launcher) or {kind, id} (features).
  if (topic === "open" && data && data.target) openTarget(data.target);
  else if (topic === "open" && data && data.kind && data.id !== undefined) openTarget(`${data.kind}:${data.id}`);
  if (topic === "settings" && data && data.language && data.language !== i18n.language()) {
    changeLanguage(data.language);
  }
}

// Every open window switches at once (docs/window.md, B7): the frame and the page are
// built again; a dialog that outlives the page (the first-run licence form) hears the
// store topic "language" and builds itself again.
async function changeLanguage(lang) {
  await i18n.setLanguage(lang);
  i18n.apply(document.body);
  buildNav();
  renderStatus(store.status());
  route();
  store.emit("language", lang);
}

function globalKeys(e) {
  if (document.querySelector(".backdrop")) return; // a dialog owns the keyboard
  if (state.keyHandler) state.keyHandler(e);
}

// ------------------------------------------------------------------ start

async function start() {
  const token = api.takeTokenFromUrl();
  const query = new URLSearchParams(window.location.search);
  const openAtStart = query.get("open");
  if (openAtStart) window.history.replaceState(null, "", window.location.pathname);
  // Everything the first screen needs, asked for at once.
  const english = i18n.setLanguage("en").catch((err) => console.warn("messages unavailable", err));
  if (!token) {
    await english;
    showFatal("fatal.no_token", "fatal.no_token_detail");
    return;
  }
  const paths = api.openapiPaths().then((found) => loadViews(found).then((views) => [found, views]));
  const status = api.get("/api/status").catch((err) => err);
  try {
    state.ui = await api.get("/api/ui");
  } catch (err) {
    await english;
    if (err.status === 401) showFatal("fatal.bad_token", "fatal.no_token_detail");
    else showFatal("fatal.unreachable", "fatal.unreachable_detail");
    return;
  }
  await english;
  if (state.ui.language !== "en") await i18n.setLanguage(state.ui.language);
  i18n.apply(document.body);
  [state.paths, state.views] = await paths;
  buildNav();
  store.on("status", renderStatus);
  store.on("status", (status) => state.calls && state.calls.status(status));
  document.getElementById("link-toggle").addEventListener("click", toggleLink);
  store.on("live", (open) => document.body.classList.toggle("live-lost", !open));
  const first = await status;
  if (first instanceof Error) toast(i18n.errorText(first), "error");
  else store.emit("status", first);
  state.calls = banners({
    box: document.getElementById("call-banners"),
    open: openTarget,
    dial: (number) =>
      api.post("/api/dial", { number }).catch((err) => toast(i18n.errorText(err), "error")),
    view: () => (state.current ? state.current.id : ""),
    dnd: () => Boolean(store.status().dnd && store.status().dnd.on),
  });
  api.live(onLiveMessage, (open) => store.emit("live", open));
  window.addEventListener("hashchange", route);
  document.addEventListener("keydown", globalKeys);
  if (openAtStart) openTarget(openAtStart);
  if (!openAtStart || !window.location.hash) route();
  document.body.dataset.ready = "1";
  window.phonetOpen = openTarget; // the window process may call it
  const license = state.modules.license;
  if (license && typeof license.offerAtFirstRun === "function" && state.views.some((v) => v.id === "license")) {
    license.offerAtFirstRun(context({})).catch((err) => console.warn("licence offer failed", err));
  }
}

start();
