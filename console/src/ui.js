// Shared bits: the aria-live status line, a tiny event bus for the stream, copy buttons,
// dialogs (every destructive action asks through Confirm first), loading, human units.
import { html } from "htm/preact";
import { useCallback, useEffect, useRef, useState } from "preact/hooks";

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

// A value too long for a phone (a URI, a token, a command line): shown in a box of its own
// that wraps only between tokens (each token is kept whole) and scrolls sideways when one
// token is wider than the box; copied whole.
export function LongValue({ id, text, shown, label }) {
  const value = shown === undefined ? text : shown;
  const tokens = String(value || "").split(" ");
  return html`<div class="long">
    <code id=${id} class="long-value" tabindex="0" role="region" aria-label=${label}>${tokens.map(
      (t, i) => html`${i ? " " : ""}<span class="tok">${t}</span>`,
    )}</code>
    <${CopyButton} text=${text} label=${label} />
  </div>`;
}

export function when(ts) {
  if (!ts) return "";
  const d = new Date(ts);
  return Number.isNaN(d.getTime()) ? String(ts) : d.toLocaleString();
}

// Sizes in human units (the API keeps bytes or MiB). Binary units, as Docker and the
// engines count them.
const UNITS = ["B", "KiB", "MiB", "GiB", "TiB"];
export function bytes(n) {
  if (n === null || n === undefined || Number.isNaN(Number(n))) return "";
  let v = Number(n);
  let u = 0;
  while (Math.abs(v) >= 1024 && u < UNITS.length - 1) {
    v /= 1024;
    u += 1;
  }
  const text = u === 0 || Number.isInteger(v) ? String(Math.round(v)) : v.toFixed(v < 10 ? 2 : 1).replace(/\.?0+$/, "");
  return `${text} ${UNITS[u]}`;
}
export const mib = (n) => (n === null || n === undefined ? "" : bytes(Number(n) * 1048576));
export function seconds(n) {
  if (n === null || n === undefined) return "";
  const s = Number(n);
  for (const [size, unit] of [[86400, "d"], [3600, "h"], [60, "min"]]) {
    if (s >= size && s % size === 0) return `${s / size} ${unit}`;
  }
  return `${s} s`;
}
// A value of a setting with an x-unit, in human units.
export function withUnit(value, unit) {
  if (typeof value !== "number") return value === null || value === undefined ? "none" : String(value);
  if (unit === "bytes") return bytes(value);
  if (unit === "MiB") return mib(value);
  if (unit === "seconds") return seconds(value);
  return String(value);
}

export function ErrorText({ error }) {
  return error ? html`<p class="error" role="alert">${error}</p>` : null;
}

// GET a path; [data, error, reload].
export function useLoad(path, api) {
  const [data, setData] = useState(null);
  const [error, setError] = useState("");
  const load = useCallback(async () => {
    if (!path) return;
    try {
      setData(await api.get(path));
      setError("");
    } catch (err) {
      setError(err.message);
    }
  }, [path]);
  useEffect(() => {
    load();
  }, [load]);
  return [data, error, load, setError];
}

// A modal dialog (the native <dialog>: focus moves into it, Escape closes it, the rest of
// the page is inert meanwhile).
export function Dialog({ title, onClose, children, wide }) {
  const ref = useRef(null);
  const titleId = useRef(`dlg-${Math.random().toString(36).slice(2, 9)}`).current;
  useEffect(() => {
    const d = ref.current;
    if (d && !d.open) d.showModal();
    return () => d && d.open && d.close();
  }, []);
  return html`<dialog ref=${ref} class=${wide ? "wide" : ""} aria-labelledby=${titleId}
    onCancel=${(e) => { e.preventDefault(); onClose(); }}>
    <h2 id=${titleId}>${title}</h2>
    ${children}
  </dialog>`;
}

// Asks before a destructive request: says what will be lost or broken (children), and with
// `typed` the name to type first. Nothing is sent until the confirm button is pressed.
export function Confirm({ title, confirmLabel, danger = true, typed, onConfirm, onClose, children, busy }) {
  const [text, setText] = useState("");
  const [error, setError] = useState("");
  const [working, setWorking] = useState(false);
  const ok = !typed || text === typed;
  async function submit(e) {
    e.preventDefault();
    if (!ok) return;
    setWorking(true);
    setError("");
    try {
      await onConfirm();
    } catch (err) {
      setError(err.message);
      setWorking(false);
    }
  }
  return html`<${Dialog} title=${title} onClose=${onClose}>
    <form onSubmit=${submit} class="confirm">
      <div class="consequences">${children}</div>
      ${typed
        ? html`<div class="field"><label for="confirm-typed">Type <strong>${typed}</strong> to confirm</label>
            <input id="confirm-typed" autocomplete="off" value=${text} onInput=${(e) => setText(e.target.value)} /></div>`
        : null}
      <${ErrorText} error=${error} />
      <div class="buttons">
        <button type="submit" class=${danger ? "danger" : ""} disabled=${!ok || working || busy}>${confirmLabel}</button>
        <button type="button" class="secondary" onClick=${onClose}>Cancel</button>
      </div>
    </form>
  <//>`;
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

// A table that becomes one card per row on a phone: each cell carries its column's name.
export function Table({ cls = "", caption, columns, rows, rowKey, rowId }) {
  return html`<div class="table-box"><table class=${`cards ${cls}`}>
    ${caption ? html`<caption class="sr-only">${caption}</caption>` : null}
    <thead><tr>${columns.map((c) => html`<th scope="col">${c.label}</th>`)}</tr></thead>
    <tbody>${rows.map((r) => html`<tr key=${rowKey(r)} data-id=${rowId ? rowId(r) : rowKey(r)}>
      ${columns.map((c) => html`<td data-label=${c.label} class=${c.cls || ""}><div class="v">${c.cell(r)}</div></td>`)}
    </tr>`)}</tbody>
  </table></div>`;
}
