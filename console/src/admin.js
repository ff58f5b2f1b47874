// Administrators' pages: users (create, disable, quotas), hosts (drain/undrain), rules, all alerts.
import { html } from "htm/preact";
import { useCallback, useEffect, useState } from "preact/hooks";
import { api, ApiError, enc, q } from "./api.js";
import { FieldError } from "./schema.js";
import { announce, ErrorText, when } from "./ui.js";

function useLoad(path) {
  const [data, setData] = useState(null);
  const [error, setError] = useState("");
  const load = useCallback(async () => {
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
  const [data, error, load, setError] = useLoad("/users");
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
  const usage = (l) => (l ? `${l.used ?? 0} / ${l.limit ?? "∞"}` : "");
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
    ${data
      ? html`<table><thead><tr><th scope="col">User</th><th scope="col">Instances</th><th scope="col">Memory MB</th>
          <th scope="col">Backup MB</th><th scope="col">State</th><th scope="col">Quota</th></tr></thead>
          <tbody>${data.items.map((u) => html`<tr>
            <td>${u.username}${u.is_admin ? " (admin)" : ""}</td>
            <td>${usage(u.quota.instances)}</td><td>${usage(u.quota.memory_mb)}</td><td>${usage(u.quota.backup_mb)}</td>
            <td>${u.disabled ? "disabled" : "enabled"}
              <button type="button" class="small" onClick=${() => toggle(u)}>${u.disabled ? "Enable" : "Disable"}</button></td>
            <td><${QuotaForm} user=${u} reload=${load} /></td></tr>`)}</tbody></table>`
      : null}
  </section>`;
}

export function AdminHosts() {
  const [data, error, load, setError] = useLoad("/hosts");
  async function act(h, what) {
    try {
      await api.postEmpty(`/hosts/${enc(h.name)}/${what}`);
      announce(`${h.name}: ${what} done`);
      await load();
    } catch (err) {
      setError(err.message);
    }
  }
  return html`<section aria-labelledby="hosts-title">
    <h1 id="hosts-title">Hosts</h1>
    <${ErrorText} error=${error} />
    ${data
      ? html`<table><thead><tr><th scope="col">Host</th><th scope="col">Address</th><th scope="col">State</th>
          <th scope="col">Committed / capacity MB</th><th scope="col">Instances</th><th scope="col">Last check</th>
          <th scope="col">Action</th></tr></thead>
          <tbody>${data.items.map((h) => html`<tr>
            <td>${h.name}</td><td>${h.address}</td><td>${h.state}${h.reason ? ` (${h.reason})` : ""}</td>
            <td>${h.committed_mb} / ${h.capacity_mb}</td><td>${h.instances}</td><td>${when(h.last_check)}</td>
            <td><button type="button" class="small" onClick=${() => act(h, h.draining ? "undrain" : "drain")}>
              ${h.draining ? "Undrain" : "Drain"}</button></td></tr>`)}</tbody></table>`
      : null}
  </section>`;
}

export function AdminRules() {
  const [data, error, load, setError] = useLoad("/rules");
  async function toggle(r) {
    try {
      await api.patch(`/rules/${enc(r.name)}`, { enabled: !r.enabled });
      announce(`rule ${r.name} ${r.enabled ? "disabled" : "enabled"}`);
      await load();
    } catch (err) {
      setError(err.message);
    }
  }
  return html`<section aria-labelledby="rules-title">
    <h1 id="rules-title">Alert rules</h1>
    <${ErrorText} error=${error} />
    ${data
      ? html`<table><thead><tr><th scope="col">Rule</th><th scope="col">Condition</th><th scope="col">Threshold</th>
          <th scope="col">For (s)</th><th scope="col">Severity</th><th scope="col">Enabled</th></tr></thead>
          <tbody>${data.items.map((r) => html`<tr>
            <td>${r.name}${r.builtin ? " (built-in)" : ""}<br /><small>${r.description}</small></td>
            <td>${r.condition}</td><td>${r.threshold ?? ""}</td><td>${r.for}</td><td>${r.severity}</td>
            <td><button type="button" class="small" aria-pressed=${r.enabled ? "true" : "false"}
              onClick=${() => toggle(r)}>${r.enabled ? "Enabled" : "Disabled"}</button></td></tr>`)}</tbody></table>`
      : null}
  </section>`;
}

export function AdminAlerts() {
  const [status, setStatus] = useState("");
  const [data, error, load, setError] = useLoad(`/alerts${q({ status, limit: 200 })}`);
  async function ack(a) {
    try {
      await api.post(`/alerts/${a.id}/ack`, {});
      announce(`alert ${a.rule} acknowledged`);
      await load();
    } catch (err) {
      setError(err.message);
    }
  }
  return html`<section aria-labelledby="alerts-title">
    <h1 id="alerts-title">All alerts</h1>
    <div class="field"><label for="alert-status">Status</label>
      <select id="alert-status" value=${status} onChange=${(e) => setStatus(e.target.value)}>
        ${["", "pending", "firing", "acknowledged", "resolved"].map((s) => html`<option value=${s}>${s || "any"}</option>`)}
      </select></div>
    <${ErrorText} error=${error} />
    ${data
      ? html`<table><thead><tr><th scope="col">Rule</th><th scope="col">Status</th><th scope="col">Severity</th>
          <th scope="col">Instance</th><th scope="col">Since</th><th scope="col">Acknowledged</th></tr></thead>
          <tbody>${data.items.map((a) => html`<tr>
            <td>${a.rule}</td><td>${a.status}</td><td>${a.severity}</td>
            <td>${a.instance_id ? html`<a href=${`#/i/${a.instance_id}`}>${a.instance_id}</a>` : "—"}</td>
            <td>${when(a.starts_at || a.pending_since)}</td>
            <td>${a.acknowledged_by || (a.status === "firing"
              ? html`<button type="button" class="small" onClick=${() => ack(a)}>Acknowledge</button>` : "")}</td>
          </tr>`)}</tbody></table>`
      : null}
  </section>`;
}
