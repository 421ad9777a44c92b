// The only caller of fetch() (and of XMLHttpRequest, for upload progress) in the web UI.
//
// The token arrives once in the URL fragment (#token=…, contracts.md §4): it is moved
// into sessionStorage and the fragment is cleared, so it never reaches the history,
// a bookmark or a Referer. Every /api/ request carries it as a bearer header; the
// live channel takes it as ?token= (browsers cannot set headers on a WebSocket).

const TOKEN_KEY = "phonet-agent.token";

export class ApiError extends Error {
  constructor(status, body) {
    const error = (body && body.error) || {};
    super(error.message || `HTTP ${status}`);
    this.status = status;
    this.code = error.code || "http_error";
    this.field = error.field || null;
    this.fields = error.fields || [];
  }
}

export function takeTokenFromUrl() {
  const hash = window.location.hash || "";
  const match = hash.match(/(?:^#|&)token=([^&]+)/);
  if (match) {
    sessionStorage.setItem(TOKEN_KEY, decodeURIComponent(match[1]));
    const url = window.location.pathname + window.location.search;
    window.history.replaceState(null, "", url);
  }
  return token();
}

export function token() {
  return sessionStorage.getItem(TOKEN_KEY) || "";
}

function url(path, params) {
  const u = new URL(path, window.location.origin);
  if (params) {
    for (const [key, value] of Object.entries(params)) {
      if (value !== undefined && value !== null && value !== "") u.searchParams.set(key, value);
    }
  }
  return u.toString();
}

function headers(extra) {
  return { Authorization: `Bearer ${token()}`, ...(extra || {}) };
}

async function parse(response) {
  const type = response.headers.get("content-type") || "";
  const body = type.includes("json") ? await response.json().catch(() => null) : null;
  if (!response.ok) throw new ApiError(response.status, body);
  return body;
}

export async function request(method, path, { params, body } = {}) {
  const init = { method, headers: headers() };
  if (body !== undefined) {
    init.body = JSON.stringify(body);
    init.headers["Content-Type"] = "application/json";
  }
  let response;
  try {
    response = await fetch(url(path, params), init);
  } catch (err) {
    throw new ApiError(0, { error: { code: "agent_unreachable", message: String(err) } });
  }
  return parse(response);
}

export const get = (path, params) => request("GET", path, { params });
export const post = (path, body, params) => request("POST", path, { body: body ?? {}, params });
export const put = (path, body) => request("PUT", path, { body });
export const del = (path, params) => request("DELETE", path, { params });

// A multipart upload with progress (fetch cannot report upload progress).
export function upload(path, form, { params, onProgress } = {}) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", url(path, params));
    xhr.setRequestHeader("Authorization", `Bearer ${token()}`);
    xhr.upload.onprogress = (e) => {
      if (onProgress && e.lengthComputable) onProgress(e.loaded / e.total);
    };
    xhr.onload = () => {
      let body = null;
      try {
        body = JSON.parse(xhr.responseText);
      } catch (_) {
        body = null;
      }
      if (xhr.status >= 200 && xhr.status < 300) resolve(body);
      else reject(new ApiError(xhr.status, body));
    };
    xhr.onerror = () =>
      reject(new ApiError(0, { error: { code: "agent_unreachable", message: "network error" } }));
    xhr.send(form);
  });
}

// Fetch a file (xlsx, zip) with the token and hand it to the browser as a download.
export async function download(path, params, fallbackName) {
  let response;
  try {
    response = await fetch(url(path, params), { headers: headers() });
  } catch (err) {
    throw new ApiError(0, { error: { code: "agent_unreachable", message: String(err) } });
  }
  if (!response.ok) await parse(response);
  const blob = await response.blob();
  const disposition = response.headers.get("content-disposition") || "";
  const named = disposition.match(/filename="([^"]+)"/);
  const link = document.createElement("a");
  link.href = URL.createObjectURL(blob);
  link.download = named ? named[1] : fallbackName;
  document.body.appendChild(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(link.href), 60_000);
  return link.download;
}

// The messages of one language (not under /api/: no token, no data).
export async function messagesOf(lang) {
  const response = await fetch(url(`/i18n/${lang}.json`), { cache: "no-cache" });
  if (!response.ok) throw new Error(`no messages for ${lang}`);
  return response.json();
}

export async function openapiPaths() {
  const response = await fetch(url("/api/openapi.json"));
  const doc = await parse(response);
  return doc.paths || {};
}

// The live channel: calls onMessage({topic, data}); reconnects with a growing pause.
// Returns {close()}; onState(true|false) reports whether the channel is open.
export function live(onMessage, onState) {
  let socket = null;
  let closed = false;
  let delay = 500;
  let timer = null;

  function connect() {
    const scheme = window.location.protocol === "https:" ? "wss:" : "ws:";
    const address = `${scheme}//${window.location.host}/api/live?token=${encodeURIComponent(token())}`;
    socket = new WebSocket(address);
    socket.onopen = () => {
      delay = 500;
      onState && onState(true);
    };
    socket.onmessage = (e) => {
      let message;
      try {
        message = JSON.parse(e.data);
      } catch (_) {
        return;
      }
      onMessage(message);
    };
    socket.onclose = () => {
      onState && onState(false);
      if (closed) return;
      timer = setTimeout(connect, delay);
      delay = Math.min(delay * 2, 10_000);
    };
    socket.onerror = () => {
      /* onclose follows */
    };
  }
  connect();
  return {
    close() {
      closed = true;
      clearTimeout(timer);
      if (socket) socket.close();
    },
  };
}
