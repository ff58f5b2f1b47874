// Small time-series charts (uPlot) of an instance's metrics: one or more lines, limits
// dashed; as wide as their box (a phone's screen too).
import { html } from "htm/preact";
import { useEffect, useRef, useState } from "preact/hooks";
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";

const COLORS = ["#2563eb", "#b91c1c", "#047857", "#7c3aed"];

function useWidth(ref) {
  const [width, setWidth] = useState(300);
  useEffect(() => {
    if (!ref.current) return undefined;
    const el = ref.current;
    const measure = () => setWidth(Math.max(200, Math.min(560, Math.floor(el.clientWidth))));
    measure();
    const obs = new ResizeObserver(measure);
    obs.observe(ref.current);
    return () => obs.disconnect();
  }, []);
  return width;
}

// lines: [{label, ys, limit?}]; fmt formats a value for the axis and the caption.
export function Chart({ title, xs, lines, fmt = (v) => String(v) }) {
  const outer = useRef(null);
  const box = useRef(null);
  const width = useWidth(outer);
  useEffect(() => {
    if (!box.current) return undefined;
    const plot = new uPlot(
      {
        width,
        height: 150,
        legend: { show: false },
        scales: { x: { time: true } },
        series: [
          {},
          ...lines.map((l, i) => ({
            label: l.label,
            stroke: COLORS[i % COLORS.length],
            width: l.limit ? 1 : 2,
            dash: l.limit ? [6, 4] : undefined,
            spanGaps: true,
          })),
        ],
        axes: [{ size: 30 }, { size: 76, values: (_u, vals) => vals.map((v) => fmt(v)) }],
      },
      [xs, ...lines.map((l) => l.ys)],
      box.current,
    );
    return () => plot.destroy();
  }, [xs, lines, width]);
  const last = (ys) => {
    for (let i = ys.length - 1; i >= 0; i -= 1) if (typeof ys[i] === "number") return ys[i];
    return null;
  };
  const parts = lines.map((l) => {
    const v = last(l.ys);
    return v === null ? null : `${l.label} ${fmt(v)}`;
  }).filter(Boolean);
  const text = parts.length ? parts.join(", ") : "no samples yet";
  return html`<figure class="chart" ref=${outer}>
    <figcaption>${title}: <span class="chart-last">${text}</span></figcaption>
    <div ref=${box} role="img" aria-label=${`${title} over time, latest ${text}`}></div>
  </figure>`;
}
