// Backups: an instance's (take one, schedule) and all of the user's, those of deleted
// instances among them (#/backups): download, restore into a new instance (a clone, the
// first choice), restore in place (after typing the instance's name), delete.
import { html } from "htm/preact";
import { useCallback, useEffect, useState } from "preact/hooks";
import { api, ApiError, enc } from "./api.js";
import { FieldError } from "./schema.js";
import { announce, bytes, Confirm, Dialog, ErrorText, follow, Table, when } from "./ui.js";

async function download(b) {
  const res = await api.raw(`/backups/${enc(b.id)}/download`);
  const blob = await res.blob();
  const url = URL.createObjectURL(blob);
  const a = document.createElement("a");
  a.href = url;
  a.download = `${b.instance_name || b.instance_id}-${b.id}.${b.format}`;
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60000);
}

// A clone's request: the source's settings when it still exists (its plan if it has one).
function cloneBody(b, source, name) {
  const body = { engine: b.engine, restore_from: b.id };
  if (name.trim()) body.name = name.trim();
  if (source && source.plan) body.plan = source.plan;
  else if (source) body.settings = { ...source.settings };
  return body;
}

// Restore one backup: into a new instance (first, the default) or over `inst` in place.
export function RestoreDialog({ backup, inst, source, onClose, onDone }) {
  const [mode, setMode] = useState("clone");
  const [name, setName] = useState(`${(backup.instance_name || "restored").slice(0, 50)}-copy`);
  const [typed, setTyped] = useState("");
  const [error, setError] = useState("");
  const [errors, setErrors] = useState({});
  const [busy, setBusy] = useState(false);
  const inPlace = mode === "inplace";
  async function submit(e) {
    e.preventDefault();
    if (inPlace && typed !== inst.name) return;
    setBusy(true);
    setError("");
    setErrors({});
    try {
      if (inPlace) {
        announce(`restore of ${backup.id} into ${inst.name} started`);
        onClose();
        const op = await api.post(`/instances/${enc(inst.id)}/restore`, { backup_id: backup.id });
        const done = await follow(api, op, `Restore of ${backup.id}`);
        if (done && done.status === "failed") announce(`restore failed: ${done.error || "unknown error"}`);
        if (onDone) onDone();
      } else {
        const made = await api.post("/instances", cloneBody(backup, source || inst, name));
        announce(`${made.name} is being made from ${backup.id}`);
        onClose();
        if (onDone) onDone();
        location.hash = `#/i/${made.id}`;
      }
    } catch (err) {
      if (err instanceof ApiError) setErrors(err.fields());
      setError(err.message);
      setBusy(false);
    }
  }
  const taken = when(backup.finished_at || backup.created_at);
  return html`<${Dialog} title=${`Restore backup ${backup.id}`} onClose=${onClose}>
    <form onSubmit=${submit} class="confirm">
      <p>Taken ${taken}${backup.instance_name ? ` of ${backup.instance_name}` : ""} (${bytes(backup.size_bytes)}).</p>
      <fieldset><legend>Where to</legend>
        <div class="choice"><input type="radio" id="restore-clone" name="restore-mode" checked=${!inPlace}
            onChange=${() => setMode("clone")} />
          <label for="restore-clone"><strong>Into a new instance</strong> (recommended)</label>
          <p class="hint">A new instance gets this backup's data and credentials of its own.
            ${inst ? `${inst.name} keeps running, untouched.` : ""}</p></div>
        ${inst
          ? html`<div class="choice"><input type="radio" id="restore-inplace" name="restore-mode" checked=${inPlace}
                onChange=${() => setMode("inplace")} />
              <label for="restore-inplace"><strong>In place, over ${inst.name}</strong></label>
              <p class="hint">Replaces all of ${inst.name}'s data with the backup's.</p></div>`
          : null}
      </fieldset>
      ${inPlace
        ? html`<div class="consequences warning">
            <p><strong>Everything written to ${inst.name} since ${taken} is lost.</strong> Its current data is
              replaced; it is kept aside only until the restored data serves (it is put back if the restore
              fails). Clients keep their credentials but cannot use the instance while it restores.</p>
            <div class="field"><label for="restore-typed">Type <strong>${inst.name}</strong> to replace its data</label>
              <input id="restore-typed" autocomplete="off" value=${typed} onInput=${(e) => setTyped(e.target.value)} /></div>
          </div>`
        : html`<div class="field"><label for="clone-name">Name of the new instance</label>
            <input id="clone-name" value=${name} maxlength="63" aria-describedby="clone-name-error"
              aria-invalid=${errors.name ? "true" : undefined} onInput=${(e) => setName(e.target.value)} />
            <${FieldError} id="clone-name-error" message=${errors.name} /></div>`}
      <${ErrorText} error=${error} />
      <div class="buttons">
        <button type="submit" class=${inPlace ? "danger" : ""} disabled=${busy || (inPlace && typed !== inst.name)}>
          ${inPlace ? "Replace the data" : "Create the new instance"}</button>
        <button type="button" class="secondary" onClick=${onClose}>Cancel</button>
      </div>
    </form>
  <//>`;
}

function DeleteBackup({ backup, onClose, onDone }) {
  return html`<${Confirm} title=${`Delete backup ${backup.id}?`} confirmLabel="Delete backup" onClose=${onClose}
    onConfirm=${async () => {
      await api.del(`/backups/${enc(backup.id)}`);
      announce(`backup ${backup.id} deleted`);
      onClose();
      onDone();
    }}>
    <p>The backup's file is removed from the store: it can no longer be downloaded or restored.</p>
    ${backup.instance_deleted
      ? html`<p><strong>${backup.instance_name || backup.instance_id} was deleted: this may be the last copy of its data.</strong></p>`
      : null}
  <//>`;
}

function BackupActions({ b, inst, busy, run, ask }) {
  if (b.status !== "completed") return b.status === "failed" ? "—" : "in progress";
  return html`<div class="buttons">
    <button type="button" class="small" disabled=${busy} onClick=${() => run(() => download(b), "download started")}>
      Download</button>
    <button type="button" class="small" onClick=${() => ask({ kind: "restore", backup: b })}>
      ${inst ? "Restore…" : "Restore into new…"}</button>
    <button type="button" class="small danger-text" onClick=${() => ask({ kind: "delete", backup: b })}>Delete…</button>
  </div>`;
}

function useBackups(path) {
  const [items, setItems] = useState(null);
  const [error, setError] = useState("");
  const load = useCallback(async () => {
    try {
      setItems((await api.get(path)).items);
    } catch (err) {
      setError(err.message);
    }
  }, [path]);
  useEffect(() => {
    load();
  }, [load]);
  useEffect(() => {
    // A backup in progress: look again until it is done.
    if (!items || !items.some((b) => b.status === "pending" || b.status === "running")) return undefined;
    const t = setTimeout(load, 1000);
    return () => clearTimeout(t);
  }, [items]);
  return [items, error, setError, load];
}

function Dialogs({ asking, setAsking, inst, load }) {
  if (!asking) return null;
  const close = () => setAsking(null);
  if (asking.kind === "restore") return html`<${RestoreDialog} backup=${asking.backup} inst=${inst} onClose=${close} onDone=${load} />`;
  return html`<${DeleteBackup} backup=${asking.backup} onClose=${close} onDone=${load} />`;
}

export function InstanceBackups({ inst, reload }) {
  const [items, error, setError, load] = useBackups(`/instances/${enc(inst.id)}/backups?limit=50`);
  const [busy, setBusy] = useState(false);
  const [asking, setAsking] = useState(null);
  const policy = inst.backup_policy;
  const [hours, setHours] = useState(policy ? String(policy.interval_hours) : "24");
  const [keep, setKeep] = useState(policy ? String(policy.keep) : "7");
  const [policyErrors, setPolicyErrors] = useState({});
  async function run(fn, done) {
    setBusy(true);
    setError("");
    try {
      await fn();
      if (done) announce(done);
      await load();
    } catch (err) {
      setError(err.message);
    } finally {
      setBusy(false);
    }
  }
  async function savePolicy(e, off) {
    e.preventDefault();
    setPolicyErrors({});
    const body = off ? { backup_policy: null } : { backup_policy: { interval_hours: Number(hours), keep: Number(keep) } };
    try {
      await api.patch(`/instances/${enc(inst.id)}`, body);
      announce(off ? "backup schedule off" : "backup schedule saved");
      await reload();
    } catch (err) {
      if (err instanceof ApiError) setPolicyErrors(err.fields());
      setError(err.message);
    }
  }
  const up = inst.status === "running" || inst.status === "stopped";
  const columns = [
    { label: "Backup", cls: "id", cell: (b) => html`${b.id}${b.scheduled ? " (scheduled)" : ""}` },
    { label: "Status", cls: "status", cell: (b) => `${b.status}${b.error ? `: ${b.error}` : ""}` },
    { label: "Size", cell: (b) => bytes(b.size_bytes) },
    { label: "Taken", cell: (b) => when(b.finished_at || b.created_at) },
    { label: "Actions", cell: (b) => html`<${BackupActions} b=${b} inst=${inst} busy=${busy} run=${run} ask=${setAsking} />` },
  ];
  return html`<section aria-labelledby="bak-title" class="card wide">
    <h2 id="bak-title">Backups</h2>
    <button type="button" disabled=${busy || !up}
      onClick=${() => run(() => api.postEmpty(`/instances/${enc(inst.id)}/backups`), "backup started")}>Back up now</button>
    <${ErrorText} error=${error} />
    ${items && items.length
      ? html`<${Table} cls="backups" caption="Backups of this instance" columns=${columns} rows=${items} rowKey=${(b) => b.id} />`
      : html`<p class="empty">${items ? "No backups yet." : "Loading…"}</p>`}
    <form class="inline" onSubmit=${(e) => savePolicy(e, false)} aria-labelledby="sched-title">
      <h3 id="sched-title">Schedule ${policy ? `(every ${policy.interval_hours} h, keep ${policy.keep})` : "(off)"}</h3>
      <div class="field"><label for="sched-hours">Every (hours)</label>
        <input id="sched-hours" type="number" min="1" max="720" value=${hours} onInput=${(e) => setHours(e.target.value)}
          aria-describedby="sched-hours-error" />
        <${FieldError} id="sched-hours-error" message=${policyErrors["backup_policy.interval_hours"]} /></div>
      <div class="field"><label for="sched-keep">Keep</label>
        <input id="sched-keep" type="number" min="1" max="100" value=${keep} onInput=${(e) => setKeep(e.target.value)}
          aria-describedby="sched-keep-error" />
        <${FieldError} id="sched-keep-error" message=${policyErrors["backup_policy.keep"]} /></div>
      <button type="submit">Save schedule</button>
      ${policy ? html`<button type="button" class="secondary" onClick=${(e) => savePolicy(e, true)}>Turn off</button>` : null}
    </form>
    <${Dialogs} asking=${asking} setAsking=${setAsking} inst=${inst} load=${load} />
  </section>`;
}

// Every backup of the user's, newest first; a deleted instance's too.
export function AllBackups() {
  const [items, error, setError, load] = useBackups("/backups?limit=200");
  const [busy, setBusy] = useState(false);
  const [asking, setAsking] = useState(null);
  const [source, setSource] = useState(null);
  async function run(fn, done) {
    setBusy(true);
    setError("");
    try {
      await fn();
      if (done) announce(done);
    } catch (err) {
      setError(err.message);
    } finally {
      setBusy(false);
    }
  }
  async function ask(a) {
    // A clone takes its source's settings when the source still exists.
    if (a.kind === "restore" && !a.backup.instance_deleted) {
      try {
        setSource(await api.get(`/instances/${enc(a.backup.instance_id)}`));
      } catch {
        setSource(null);
      }
    } else setSource(null);
    setAsking(a);
  }
  const total = (items || []).filter((b) => b.status === "completed").reduce((n, b) => n + (b.size_bytes || 0), 0);
  const columns = [
    { label: "Backup", cls: "id", cell: (b) => b.id },
    {
      label: "Instance",
      cell: (b) => (b.instance_deleted
        ? html`${b.instance_name || b.instance_id} <span class="badge deleted">deleted</span>`
        : html`<a href=${`#/i/${b.instance_id}`}>${b.instance_name || b.instance_id}</a>`),
    },
    { label: "Engine", cell: (b) => b.engine },
    { label: "Status", cls: "status", cell: (b) => `${b.status}${b.final ? " (final)" : ""}${b.scheduled ? " (scheduled)" : ""}` },
    { label: "Size", cell: (b) => bytes(b.size_bytes) },
    { label: "Taken", cell: (b) => when(b.finished_at || b.created_at) },
    { label: "Actions", cell: (b) => html`<${BackupActions} b=${b} inst=${null} busy=${busy} run=${run} ask=${ask} />` },
  ];
  return html`<section aria-labelledby="backups-title">
    <h1 id="backups-title">All backups</h1>
    <p class="meta">Backups count against your backup quota (${bytes(total)} in ${(items || []).length} backups here),
      also those of deleted instances: restore them into a new instance, download or delete them.</p>
    <${ErrorText} error=${error} />
    ${items && items.length
      ? html`<${Table} cls="backups all-backups" caption="All backups" columns=${columns} rows=${items} rowKey=${(b) => b.id} />`
      : html`<p class="empty">${items ? "No backups." : "Loading…"}</p>`}
    ${asking && asking.kind === "restore"
      ? html`<${RestoreDialog} backup=${asking.backup} inst=${null} source=${source} onClose=${() => setAsking(null)} />`
      : html`<${Dialogs} asking=${asking} setAsking=${setAsking} inst=${null} load=${load} />`}
  </section>`;
}
