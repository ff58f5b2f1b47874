// Small time-series charts (uPlot) of an instance's monitoring samples.
import { html } from "htm/preact";
import { useEffect, useRef } from "preact/hooks";
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";

export function Chart({ title, xs, ys, unit }) {
  const box = useRef(null);
  useEffect(() => {
    if (!box.current) return undefined;
    const plot = new uPlot(
      {
        width: 300,
        height: 140,
        legend: { show: false },
        scales: { x: { time: true } },
        series: [{}, { label: title, stroke: "#2563eb", width: 2, fill: "rgba(37,99,235,0.1)" }],
        axes: [{ size: 30 }, { size: 50, values: (_u, vals) => vals.map((v) => (unit ? unit(v) : String(v))) }],
      },
      [xs, ys],
      box.current,
    );
    return () => plot.destroy();
  }, [xs, ys]);
  const last = ys.length ? ys[ys.length - 1] : null;
  const text = last === null || last === undefined ? "no samples yet" : unit ? unit(last) : String(last);
  return html`<figure class="chart">
    <figcaption>${title}: <span class="chart-last">${text}</span></figcaption>
    <div ref=${box} role="img" aria-label=${`${title} over time, latest ${text}`}></div>
  </figure>`;
}

export function mib(v) {
  return v === null || v === undefined ? "" : `${(v / 1048576).toFixed(v < 10485760 ? 1 : 0)} MiB`;
}

// Samples come newest first; charts go oldest to newest.
export function seriesOf(samples) {
  const ordered = [...samples].filter((s) => s.at).reverse();
  const xs = ordered.map((s) => Date.parse(s.at) / 1000);
  const pick = (fn) => ordered.map((s) => {
    const v = fn(s);
    return typeof v === "number" ? v : null;
  });
  return {
    xs,
    memory: pick((s) => s.container && s.container.memory_bytes),
    connections: pick((s) => s.engine && s.engine.connections),
    restarts: pick((s) => s.container && s.container.restarts),
  };
}
