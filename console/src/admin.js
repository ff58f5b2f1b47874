// Administrators' pages: users (create, disable, quotas), hosts (drain/undrain, reload the
// inventory), rules (thresholds, `for`, severity, on/off), all alerts.
import { html } from "htm/preact";
import { useState } from "preact/hooks";
import { api, ApiError, enc, q } from "./api.js";
import { FieldError } from "./schema.js";
import { announce, Confirm, Dialog, ErrorText, mib, seconds, Table, useLoad, when } from "./ui.js";

function QuotaForm({ user, reload }) {
  // A default limit is shown empty: saving it keeps following the configured default.
  const line = (k) => (user.quota[k] && !user.quota[k].default ? String(user.quota[k].limit) : "");
  const [vals, setVals] = useState({ instances: line("instances"), memory_mb: line("memory_mb"), backup_mb: line("backup_mb") });
  const [errors, setErrors] = useState({});
  async function submit(e) {
    e.preventDefault();
    setErrors({});
    const quota = {};
    for (const [k, v] of Object.entries(vals)) quota[k] = v.trim() === "" ? null : Number(v);
    try {
      await api.patch(`/users/${enc(user.username)}`, { quota });
      announce(`quota of ${user.username} saved`);
      await reload();
    } catch (err) {
      setErrors(err instanceof ApiError ? { ...err.fields(), _: err.message } : { _: err.message });
    }
  }
  const id = (k) => `quota-${user.username}-${k}`;
  return html`<form class="inline" onSubmit=${submit} aria-label=${`Quota of ${user.username}`}>
    ${["instances", "memory_mb", "backup_mb"].map((k) => html`<div class="field">
      <label for=${id(k)}>${k}</label>
      <input id=${id(k)} type="number" min="0" value=${vals[k]} placeholder="default"
        onInput=${(e) => setVals({ ...vals, [k]: e.target.value })} />
      <${FieldError} id=${`${id(k)}-error`} message=${errors[`quota.${k}`]} /></div>`)}
    <button type="submit" class="small">Save quota</button>
    <${ErrorText} error=${errors._} />
  </form>`;
}

export function AdminUsers() {
  const [data, error, load, setError] = useLoad("/users", api);
  const [form, setForm] = useState({ username: "", password: "", is_admin: false });
  const [errors, setErrors] = useState({});
  async function create(e) {
    e.preventDefault();
    setErrors({});
    try {
      await api.post("/users", form);
      announce(`user ${form.username} created`);
      setForm({ username: "", password: "", is_admin: false });
      await load();
    } catch (err) {
      setErrors(err instanceof ApiError ? { ...err.fields(), _: err.message } : { _: err.message });
    }
  }
  async function toggle(u) {
    try {
      await api.patch(`/users/${enc(u.username)}`, { disabled: !u.disabled });
      announce(`${u.username} ${u.disabled ? "enabled" : "disabled"}`);
      await load();
    } catch (err) {
      setError(err.message);
    }
  }
  const usage = (l, fmt = String) => (l ? `${fmt(l.used ?? 0)} / ${l.limit === null || l.limit === undefined ? "∞" : fmt(l.limit)}` : "");
  const columns = [
    { label: "User", cell: (u) => `${u.username}${u.is_admin ? " (admin)" : ""}` },
    { label: "Instances", cell: (u) => usage(u.quota.instances) },
    { label: "Memory", cell: (u) => usage(u.quota.memory_mb, mib) },
    { label: "Backups", cell: (u) => usage(u.quota.backup_mb, mib) },
    {
      label: "State",
      cell: (u) => html`${u.disabled ? "disabled" : "enabled"}
        <button type="button" class="small" onClick=${() => toggle(u)}>${u.disabled ? "Enable" : "Disable"}</button>`,
    },
    { label: "Quota", cell: (u) => html`<${QuotaForm} user=${u} reload=${load} />` },
  ];
  return html`<section aria-labelledby="users-title">
    <h1 id="users-title">Users</h1>
    <${ErrorText} error=${error} />
    <form class="inline card" onSubmit=${create} aria-labelledby="newuser-title" novalidate>
      <h2 id="newuser-title">New user</h2>
      <div class="field"><label for="nu-username">Username</label>
        <input id="nu-username" value=${form.username} onInput=${(e) => setForm({ ...form, username: e.target.value })}
          aria-describedby="nu-username-error" />
        <${FieldError} id="nu-username-error" message=${errors.username} /></div>
      <div class="field"><label for="nu-password">Password</label>
        <input id="nu-password" type="password" autocomplete="new-password" value=${form.password}
          onInput=${(e) => setForm({ ...form, password: e.target.value })} aria-describedby="nu-password-error" />
        <${FieldError} id="nu-password-error" message=${errors.password} /></div>
      <div class="field check"><label for="nu-admin">Administrator</label>
        <input id="nu-admin" type="checkbox" checked=${form.is_admin}
          onChange=${(e) => setForm({ ...form, is_admin: e.target.checked })} /></div>
      <button type="submit">Create user</button>
      <${ErrorText} error=${errors._} />
    </form>
    ${data ? html`<${Table} cls="users" caption="Users" columns=${columns} rows=${data.items} rowKey=${(u) => u.username} />` : null}
  </section>`;
}

export function AdminHosts() {
  const [data, error, load, setError] = useLoad("/hosts", api);
  const [draining, setDraining] = useState(null);
  const [reloading, setReloading] = useState(false);
  async function act(h, what) {
    try {
      await api.postEmpty(`/hosts/${enc(h.name)}/${what}`);
      announce(`${h.name}: ${what} done`);
      await load();
    } catch (err) {
      setError(err.message);
    }
  }
  async function reload() {
    setReloading(true);
    try {
      await api.postEmpty("/hosts/reload");
      announce("inventory reloaded");
      await load();
    } catch (err) {
      setError(err.message);
    } finally {
      setReloading(false);
    }
  }
  const columns = [
    { label: "Host", cell: (h) => h.name },
    { label: "Address", cell: (h) => h.address },
    { label: "State", cls: "status", cell: (h) => `${h.state}${h.reason ? ` (${h.reason})` : ""}${h.in_inventory ? "" : " (not in the inventory)"}` },
    { label: "Committed / capacity", cell: (h) => `${mib(h.committed_mb)} / ${mib(h.capacity_mb)}` },
    { label: "Instances", cell: (h) => h.instances },
    { label: "Last check", cell: (h) => when(h.last_check) },
    {
      label: "Action",
      cell: (h) => html`<button type="button" class="small"
        onClick=${() => (h.draining ? act(h, "undrain") : setDraining(h))}>${h.draining ? "Undrain" : "Drain…"}</button>`,
    },
  ];
  return html`<section aria-labelledby="hosts-title">
    <div class="row"><h1 id="hosts-title">Hosts</h1>
      <button type="button" disabled=${reloading} onClick=${reload}>${reloading ? "Reloading…" : "Reload inventory"}</button></div>
    <p class="meta">Reload reads the inventory again (as SIGHUP does): new hosts join, removed ones are flagged,
      pool sizes and failed cleanups are taken up again.</p>
    <${ErrorText} error=${error} />
    ${data ? html`<${Table} cls="hosts" caption="Hosts" columns=${columns} rows=${data.items} rowKey=${(h) => h.name} />` : null}
    ${draining
      ? html`<${Confirm} title=${`Drain ${draining.name}?`} danger=${false} confirmLabel="Drain host"
          onClose=${() => setDraining(null)} onConfirm=${async () => { await act(draining, "drain"); setDraining(null); }}>
          <p>No new instance or pool slot is placed on ${draining.name}; its ${draining.instances} instances keep running.</p>
        <//>`
      : null}
  </section>`;
}

function RuleDialog({ rule, onClose, onSaved }) {
  const [threshold, setThreshold] = useState(rule.threshold === null || rule.threshold === undefined ? "" : String(rule.threshold));
  const [forText, setFor] = useState(String(rule.for));
  const [severity, setSeverity] = useState(rule.severity);
  const [enabled, setEnabled] = useState(rule.enabled);
  const [errors, setErrors] = useState({});
  async function submit(e) {
    e.preventDefault();
    setErrors({});
    const body = { severity, enabled, for: /^\d+$/.test(forText.trim()) ? Number(forText.trim()) : forText.trim() };
    const t = threshold.trim();
    if (t !== "" || rule.threshold !== null) body.threshold = t === "" ? null : Number(t);
    try {
      await api.patch(`/rules/${enc(rule.name)}`, body);
      announce(`rule ${rule.name} saved`);
      onSaved();
    } catch (err) {
      setErrors(err instanceof ApiError ? { ...err.fields(), _: err.message } : { _: err.message });
    }
  }
  return html`<${Dialog} title=${`Edit rule ${rule.name}`} onClose=${onClose}>
    <form onSubmit=${submit} novalidate>
      <p class="hint">${rule.description} (condition ${rule.condition})</p>
      <div class="field"><label for="rule-threshold">Threshold</label>
        <input id="rule-threshold" type="number" step="any" value=${threshold} aria-describedby="rule-threshold-error"
          onInput=${(e) => setThreshold(e.target.value)} />
        <${FieldError} id="rule-threshold-error" message=${errors.threshold} /></div>
      <div class="field"><label for="rule-for">For (seconds, or 30s, 5m, 1h)</label>
        <input id="rule-for" value=${forText} aria-describedby="rule-for-error" onInput=${(e) => setFor(e.target.value)} />
        <${FieldError} id="rule-for-error" message=${errors.for || errors.for_seconds} /></div>
      <div class="field"><label for="rule-severity">Severity</label>
        <select id="rule-severity" value=${severity} onChange=${(e) => setSeverity(e.target.value)}>
          ${["info", "warning", "critical"].map((s) => html`<option value=${s}>${s}</option>`)}
        </select></div>
      <div class="field check"><label for="rule-enabled">Enabled</label>
        <input id="rule-enabled" type="checkbox" checked=${enabled} onChange=${(e) => setEnabled(e.target.checked)} /></div>
      <${ErrorText} error=${errors._} />
      <div class="buttons"><button type="submit">Save rule</button>
        <button type="button" class="secondary" onClick=${onClose}>Cancel</button></div>
    </form>
  <//>`;
}

export function AdminRules() {
  const [data, error, load] = useLoad("/rules", api);
  const [editing, setEditing] = useState(null);
  const columns = [
    { label: "Rule", cell: (r) => html`${r.name}${r.builtin ? " (built-in)" : ""}<br /><small>${r.description}</small>` },
    { label: "Condition", cell: (r) => r.condition },
    { label: "Threshold", cls: "threshold", cell: (r) => (r.threshold ?? "—") },
    { label: "For", cls: "for", cell: (r) => seconds(r.for) },
    { label: "Severity", cls: "severity", cell: (r) => r.severity },
    { label: "Enabled", cls: "enabled", cell: (r) => (r.enabled ? "yes" : "no") },
    { label: "Edit", cell: (r) => html`<button type="button" class="small" onClick=${() => setEditing(r)}
        aria-label=${`Edit ${r.name}`}>Edit…</button>` },
  ];
  return html`<section aria-labelledby="rules-title">
    <h1 id="rules-title">Alert rules</h1>
    <${ErrorText} error=${error} />
    ${data ? html`<${Table} cls="rules" caption="Alert rules" columns=${columns} rows=${data.items} rowKey=${(r) => r.name} />` : null}
    ${editing
      ? html`<${RuleDialog} rule=${editing} onClose=${() => setEditing(null)}
          onSaved=${async () => { setEditing(null); await load(); }} />`
      : null}
  </section>`;
}

export function AdminAlerts() {
  const [status, setStatus] = useState("");
  const [data, error, load, setError] = useLoad(`/alerts${q({ status, limit: 200 })}`, api);
  async function ack(a) {
    try {
      await api.post(`/alerts/${a.id}/ack`, {});
      announce(`alert ${a.rule} acknowledged`);
      await load();
    } catch (err) {
      setError(err.message);
    }
  }
  const columns = [
    { label: "Rule", cell: (a) => a.rule },
    { label: "Status", cls: "status", cell: (a) => a.status },
    { label: "Severity", cell: (a) => a.severity },
    { label: "Instance", cell: (a) => (a.instance_id ? html`<a href=${`#/i/${a.instance_id}`}>${a.instance_id}</a>` : "—") },
    { label: "Since", cell: (a) => when(a.starts_at || a.pending_since) },
    {
      label: "Acknowledged",
      cell: (a) => a.acknowledged_by || (a.status === "firing"
        ? html`<button type="button" class="small" onClick=${() => ack(a)}>Acknowledge</button>` : "—"),
    },
  ];
  return html`<section aria-labelledby="alerts-title">
    <h1 id="alerts-title">All alerts</h1>
    <div class="field"><label for="alert-status">Status</label>
      <select id="alert-status" value=${status} onChange=${(e) => setStatus(e.target.value)}>
        ${["", "pending", "firing", "acknowledged", "resolved"].map((s) => html`<option value=${s}>${s || "any"}</option>`)}
      </select></div>
    <${ErrorText} error=${error} />
    ${data ? (data.items.length
      ? html`<${Table} cls="alerts" caption="Alerts" columns=${columns} rows=${data.items} rowKey=${(a) => a.id} />`
      : html`<p class="empty">No alerts.</p>`) : null}
  </section>`;
}
