// What the page knows now, fed by the live channel; views subscribe by topic.
//
// Topics are the hub's (agent/hub.py): hello, status, popup, dialer, job, open,
// settings, event… plus "live" (true/false: whether the channel is open) and
// "language" (the window's new language, after the page was built in it).

const listeners = new Map(); // topic -> Set(fn)
const last = new Map(); // topic -> the last data

export function on(topic, fn) {
  if (!listeners.has(topic)) listeners.set(topic, new Set());
  listeners.get(topic).add(fn);
  return () => listeners.get(topic).delete(fn);
}

export function emit(topic, data) {
  last.set(topic, data);
  for (const fn of [...(listeners.get(topic) || [])]) {
    try {
      fn(data);
    } catch (err) {
      console.warn(`listener of ${topic} failed`, err);
    }
  }
}

export function latest(topic) {
  return last.get(topic);
}

export function status() {
  return last.get("status") || { connected: false, link: "offline", lines: [], dnd: {} };
}
