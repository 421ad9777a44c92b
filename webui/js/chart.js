// A small SVG bar chart (grouped bars, one group per label). Our own ~60 lines
// instead of a vendored library: the window draws at most a few hundred bars.

const NS = "http://www.w3.org/2000/svg";

function el(tag, attrs, text) {
  const node = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  if (text !== undefined) node.textContent = text;
  return node;
}

// barChart({labels: [...], series: [{name, values: [...], className}], height, title})
export function barChart({ labels, series, height = 160, title = "" }) {
  // Wide enough that it scales down in a narrow window rather than up in a wide one.
  const width = Math.max(560, labels.length * (series.length * 10 + 8) + 40);
  const top = 8;
  const bottom = 22;
  const left = 30;
  const plotH = height - top - bottom;
  const max = Math.max(1, ...series.flatMap((s) => s.values));
  const svg = el("svg", {
    class: "chart",
    viewBox: `0 0 ${width} ${height}`,
    role: "img",
    "aria-label": title,
    preserveAspectRatio: "xMinYMin meet",
  });
  if (title) svg.append(el("title", {}, title));
  const step = (width - left - 4) / Math.max(1, labels.length);
  const barW = Math.max(3, Math.min(18, (step - 6) / series.length));
  svg.append(el("line", { class: "axis", x1: left, y1: top + plotH, x2: width, y2: top + plotH }));
  const ticks = [...new Set([Math.round(max / 2), max])].filter((v) => v > 0);
  for (const value of ticks) {
    const y = top + plotH - plotH * (value / max);
    svg.append(el("line", { class: "axis", x1: left, y1: y, x2: width, y2: y, "stroke-dasharray": "2 3" }));
    svg.append(el("text", { x: left - 4, y: y + 3, "text-anchor": "end" }, String(value)));
  }
  const every = Math.ceil(labels.length / Math.max(1, Math.floor((width - left) / 40)));
  labels.forEach((label, i) => {
    const x0 = left + i * step + (step - barW * series.length) / 2;
    series.forEach((s, j) => {
      const value = s.values[i] || 0;
      const barH = (value / max) * plotH;
      const rect = el("rect", {
        class: `bar ${s.className || ""}`.trim(),
        x: x0 + j * barW,
        y: top + plotH - barH,
        width: barW - 1,
        height: Math.max(0, barH),
        rx: 1.5,
      });
      rect.append(el("title", {}, `${label} · ${s.name}: ${value}`));
      svg.append(rect);
    });
    if (i % every === 0) {
      svg.append(el("text", { x: left + i * step + step / 2, y: height - 6, "text-anchor": "middle" }, label));
    }
  });
  return svg;
}
