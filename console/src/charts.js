// Small time-series charts (uPlot) of an instance's monitoring samples.
import { html } from "htm/preact";
import { useEffect, useRef } from "preact/hooks";
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";

export function Chart({ title, xs, ys, unit = "" }) {
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
        // uPlot's own tick labels; the unit goes in the caption.
        axes: [{ size: 30 }, { size: 56 }],
      },
      [xs, ys],
      box.current,
    );
    return () => plot.destroy();
  }, [xs, ys]);
  const last = ys.length ? ys[ys.length - 1] : null;
  const text = last === null || last === undefined ? "no samples yet" : `${last}${unit ? ` ${unit}` : ""}`;
  return html`<figure class="chart">
    <figcaption>${title}: <span class="chart-last">${text}</span></figcaption>
    <div ref=${box} role="img" aria-label=${`${title} over time, latest ${text}`}></div>
  </figure>`;
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
    memory: pick((s) => s.container && typeof s.container.memory_bytes === "number"
      ? Math.round(s.container.memory_bytes / 104857.6) / 10 : null),
    connections: pick((s) => s.engine && s.engine.connections),
    restarts: pick((s) => s.container && s.container.restarts),
  };
}
