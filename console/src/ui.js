// Shared bits: the aria-live status line, a tiny event bus for the stream, copy buttons.
import { html } from "htm/preact";
import { useEffect, useState } from "preact/hooks";

const listeners = new Set();
export const bus = {
  on(fn) {
    listeners.add(fn);
    return () => listeners.delete(fn);
  },
  emit(msg) {
    for (const fn of listeners) fn(msg);
  },
};

let setStatus = () => {};
export function announce(text) {
  setStatus(text);
}

export function LiveRegion() {
  const [text, setText] = useState("");
  useEffect(() => {
    setStatus = setText;
  }, []);
  return html`<div class="status-line" role="status" aria-live="polite" id="status">${text}</div>`;
}

export function CopyButton({ text, label }) {
  const [done, setDone] = useState(false);
  async function copy() {
    try {
      await navigator.clipboard.writeText(text);
      setDone(true);
      announce(`${label} copied`);
      setTimeout(() => setDone(false), 1500);
    } catch (err) {
      announce(`could not copy: ${err.message}`);
    }
  }
  return html`<button type="button" class="small" onClick=${copy} aria-label=${`Copy ${label}`}>
    ${done ? "Copied" : "Copy"}</button>`;
}

export function when(ts) {
  if (!ts) return "";
  const d = new Date(ts);
  return Number.isNaN(d.getTime()) ? String(ts) : d.toLocaleString();
}

export function bytes(n) {
  if (n === null || n === undefined) return "";
  if (n < 1024) return `${n} B`;
  if (n < 1048576) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1048576).toFixed(1)} MiB`;
}

export function ErrorText({ error }) {
  return error ? html`<p class="error" role="alert">${error}</p>` : null;
}

// Follows an accepted operation (202) to its end and says how it went; the instance's own
// status arrives meanwhile over the event stream.
export async function follow(api, op, label) {
  if (!op || typeof op.id !== "string" || !op.status) return null;
  let current = op;
  for (let i = 0; i < 600 && (current.status === "pending" || current.status === "running"); i += 1) {
    await new Promise((r) => setTimeout(r, 1000));
    current = await api.get(`/operations/${encodeURIComponent(op.id)}`);
  }
  if (current.status === "succeeded") announce(`${label}: done`);
  else if (current.status === "failed") announce(`${label} failed: ${current.error || "unknown error"}`);
  return current;
}
