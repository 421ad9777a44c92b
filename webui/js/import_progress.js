// What the agent does with an uploaded file, shown while the upload's answer is awaited.
//
// The upload's own progress (XMLHttpRequest) ends when the bytes are sent; reading and
// storing a large file takes longer. The agent publishes that work on the live channel,
// topic "import" (agent/api/routes_contacts.py progress_to_hub):
//   {kind, stage: "reading", done: the spreadsheet row reached, total?: rows}
//   {kind, stage: "storing", done: N, total: M}
//   {kind, stage: "done", done: N}
// followImport() moves a <progress> and a label with the messages of one kind; the bar
// stays indeterminate while no total is known.

import { t, number } from "./i18n.js";

// Returns {heard() → whether a message came, off()}.
export function followImport(store, kinds, { bar, label }) {
  const wanted = new Set(Array.isArray(kinds) ? kinds : [kinds]);
  let heard = false;
  const off = store.on("import", (message) => {
    if (!message || !wanted.has(message.kind)) return;
    heard = true;
    const done = Number(message.done) || 0;
    const total = Number(message.total) || 0;
    bar.dataset.stage = message.stage || "";
    if (total > 0) {
      bar.max = 1;
      bar.value = Math.min(done / total, 1);
    } else {
      bar.removeAttribute("value");
    }
    if (message.stage === "reading") {
      label.textContent = total
        ? t("import.reading_of", { done: number(done), total: number(total) })
        : t("import.reading", { done: number(done) });
    } else if (message.stage === "storing") {
      label.textContent = t("import.storing", { done: number(done), total: number(total) });
    } else if (message.stage === "done") {
      label.textContent = t("import.stored", { done: number(done) });
    }
  });
  return { heard: () => heard, off };
}
