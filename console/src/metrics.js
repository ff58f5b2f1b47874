// An instance's metrics over 1 h, 6 h, 24 h or 7 d (GET /instances/{id}/metrics/history):
// CPU, memory with its limits (the container's; Redis's used_memory against maxmemory),
// connections against their limit, disk.
import { html } from "htm/preact";
import { useEffect, useMemo, useState } from "preact/hooks";
import { api, enc } from "./api.js";
import { Chart } from "./charts.js";
import { bytes, ErrorText } from "./ui.js";

const RANGES = ["1h", "6h", "24h", "7d"];

function series(points) {
  const xs = points.map((p) => Date.parse(p.at) / 1000);
  const pick = (k) => points.map((p) => (typeof p[k] === "number" ? p[k] : null));
  const has = (k) => points.some((p) => typeof p[k] === "number");
  const memory = [
    { label: "container", ys: pick("memory_bytes") },
    { label: "limit", ys: pick("memory_limit_bytes"), limit: true },
  ];
  if (has("engine_memory_bytes")) {
    memory.push({ label: "used_memory", ys: pick("engine_memory_bytes") });
    memory.push({ label: "maxmemory", ys: pick("engine_memory_limit_bytes"), limit: true });
  }
  const connections = [{ label: "connections", ys: pick("connections") }];
  if (has("connection_limit")) connections.push({ label: "limit", ys: pick("connection_limit"), limit: true });
  return {
    xs,
    cpu: [{ label: "CPU", ys: pick("cpu_percent") }],
    memory,
    connections,
    disk: [{ label: "disk", ys: pick("disk_bytes") }],
  };
}

const pct = (v) => `${Math.round(v * 10) / 10} %`;
const num = (v) => String(Math.round(v * 10) / 10);

export function Metrics({ inst }) {
  const [range, setRange] = useState("1h");
  const [data, setData] = useState(null);
  const [error, setError] = useState("");
  useEffect(() => {
    let stop = false;
    let timer = null;
    async function load() {
      try {
        const m = await api.get(`/instances/${enc(inst.id)}/metrics/history?range=${range}`);
        if (stop) return;
        setData(m);
        setError("");
        timer = setTimeout(load, Math.max(15, m.collect_interval || 15, m.step_seconds) * 1000);
      } catch (err) {
        if (!stop) setError(err.message);
      }
    }
    load();
    return () => {
      stop = true;
      clearTimeout(timer);
    };
  }, [inst.id, range]);
  const s = useMemo(() => (data ? series(data.points) : null), [data]);
  return html`<section aria-labelledby="met-title" class="card wide">
    <h2 id="met-title">Metrics</h2>
    <div class="buttons" role="group" aria-label="Time range">
      ${RANGES.map((r) => html`<button type="button" class=${`small${range === r ? " on" : ""}`}
        aria-pressed=${range === r ? "true" : "false"} onClick=${() => setRange(r)}>${r}</button>`)}
    </div>
    <${ErrorText} error=${error} />
    ${data && data.collect_interval === 0 ? html`<p class="hint">Monitoring is off on this service: no new samples.</p>` : null}
    ${s
      ? html`<div class="charts">
          <${Chart} title="CPU" xs=${s.xs} lines=${s.cpu} fmt=${pct} />
          <${Chart} title="Memory" xs=${s.xs} lines=${s.memory} fmt=${bytes} />
          <${Chart} title="Connections" xs=${s.xs} lines=${s.connections} fmt=${num} />
          <${Chart} title="Disk" xs=${s.xs} lines=${s.disk} fmt=${bytes} />
        </div>`
      : html`<p class="loading">Loading…</p>`}
  </section>`;
}
