// An instance's activity: its operations (what was asked and how it went) and its events
// (what the worker, the collector and the alerts saw), newest first, one feed. It follows
// the event stream.
import { html } from "htm/preact";
import { useCallback, useEffect, useState } from "preact/hooks";
import { api, enc } from "./api.js";
import { bus, ErrorText, when } from "./ui.js";

const KINDS = {
  create: "Created",
  delete: "Delete",
  stop: "Stop",
  start: "Start",
  restart: "Restart",
  reconfigure: "Settings change",
  rotate: "Password rotation",
  backup: "Backup",
  restore: "Restore",
  bind: "Credential added",
  unbind: "Credential removed",
  converge: "Converge (warm pool)",
  repair: "Repair",
};

function took(op) {
  if (!op.started_at || !op.finished_at) return "";
  const s = (Date.parse(op.finished_at) - Date.parse(op.started_at)) / 1000;
  return ` in ${s < 10 ? s.toFixed(1) : Math.round(s)} s`;
}

export function Activity({ inst }) {
  const [items, setItems] = useState(null);
  const [error, setError] = useState("");
  const load = useCallback(async () => {
    try {
      const [ops, events] = await Promise.all([
        api.get(`/instances/${enc(inst.id)}/operations?limit=50`),
        api.get(`/events?instance_id=${enc(inst.id)}&limit=50`),
      ]);
      const feed = [
        ...ops.items.map((op) => ({
          key: `op-${op.id}`,
          at: op.created_at,
          what: "operation",
          title: `${KINDS[op.kind] || op.kind}: ${op.status}${took(op)}`,
          detail: op.error || (op.attempts > 1 ? `${op.attempts} attempts` : ""),
          bad: op.status === "failed",
        })),
        ...events.items.map((ev) => ({
          key: `ev-${ev.id}`,
          at: ev.at,
          what: "event",
          title: ev.kind.replace(/_/g, " "),
          detail: ev.message,
          bad: ev.severity === "error" || ev.severity === "critical",
        })),
      ].sort((a, b) => (a.at < b.at ? 1 : -1));
      setItems(feed.slice(0, 60));
      setError("");
    } catch (err) {
      setError(err.message);
    }
  }, [inst.id]);
  useEffect(() => {
    load();
    return bus.on((msg) => {
      if (msg.instance_id === inst.id) load();
    });
  }, [load]);
  useEffect(() => {
    // Something still running: look again (its end may come without an event of its own).
    if (!items || !items.some((i) => i.what === "operation" && /: (pending|running)/.test(i.title))) return undefined;
    const t = setTimeout(load, 2000);
    return () => clearTimeout(t);
  }, [items]);
  return html`<section aria-labelledby="act-feed-title" class="card wide">
    <h2 id="act-feed-title">Activity</h2>
    <${ErrorText} error=${error} />
    ${items && items.length
      ? html`<ol class="feed" id="activity">${items.map((i) => html`<li key=${i.key} class=${`${i.what}${i.bad ? " bad" : ""}`}>
          <time datetime=${i.at}>${when(i.at)}</time>
          <span class="what">${i.what}</span>
          <span class="title">${i.title}</span>
          ${i.detail ? html`<span class="detail">${i.detail}</span>` : null}
        </li>`)}</ol>`
      : html`<p class="empty">${items ? "Nothing yet." : "Loading…"}</p>`}
  </section>`;
}
