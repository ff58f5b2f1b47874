// The caller's account (#/account): quota and use, their own password, their tokens (a
// named one for a script is shown once; any can be revoked).
import { html } from "htm/preact";
import { useState } from "preact/hooks";
import { api, ApiError, enc } from "./api.js";
import { FieldError } from "./schema.js";
import { announce, Confirm, Dialog, ErrorText, LongValue, mib, Table, useLoad, when } from "./ui.js";

function Usage({ label, line, fmt }) {
  const limit = line.limit;
  const pct = limit > 0 ? Math.min(100, Math.round((line.used / limit) * 100)) : 100;
  return html`<div class="usage">
    <div class="usage-text"><span>${label}</span><span>${fmt(line.used)} of ${fmt(limit)}${line.default ? " (default)" : ""}</span></div>
    <progress max="100" value=${pct} aria-label=${`${label}: ${pct} % used`}>${pct} %</progress>
  </div>`;
}

function Quota({ me }) {
  const q = me.quota;
  return html`<section aria-labelledby="quota-title" class="card">
    <h2 id="quota-title">Quota and use</h2>
    <${Usage} label="Instances" line=${q.instances} fmt=${(v) => String(v)} />
    <${Usage} label="Memory" line=${q.memory_mb} fmt=${mib} />
    <${Usage} label="Backup storage" line=${q.backup_mb} fmt=${mib} />
    <p class="hint">Stopped instances keep counting; backups count until deleted, also a deleted instance's
      (see All backups).</p>
  </section>`;
}

function Password() {
  const [form, setForm] = useState({ current: "", next: "", again: "" });
  const [errors, setErrors] = useState({});
  const [done, setDone] = useState("");
  async function submit(e) {
    e.preventDefault();
    setErrors({});
    setDone("");
    if (form.next !== form.again) {
      setErrors({ again: "the two new passwords differ" });
      return;
    }
    try {
      await api.post("/me/password", { current_password: form.current, new_password: form.next });
      setForm({ current: "", next: "", again: "" });
      setDone("Password changed. Your other sessions and tokens were logged out.");
      announce("password changed");
    } catch (err) {
      setErrors(err instanceof ApiError ? { ...err.fields(), _: err.message } : { _: err.message });
    }
  }
  const field = (key, label, api, auto) => html`<div class="field"><label for=${`pw-${key}`}>${label}</label>
    <input id=${`pw-${key}`} type="password" autocomplete=${auto} value=${form[key]}
      aria-describedby=${`pw-${key}-error`} aria-invalid=${errors[api] ? "true" : undefined}
      onInput=${(e) => setForm({ ...form, [key]: e.target.value })} />
    <${FieldError} id=${`pw-${key}-error`} message=${errors[api]} /></div>`;
  return html`<section aria-labelledby="pw-title" class="card">
    <h2 id="pw-title">Password</h2>
    <form onSubmit=${submit} novalidate aria-labelledby="pw-title">
      ${field("current", "Current password", "current_password", "current-password")}
      ${field("next", "New password (12 characters or more)", "new_password", "new-password")}
      ${field("again", "New password again", "again", "new-password")}
      <${ErrorText} error=${errors._} />
      ${done ? html`<p class="ok">${done}</p>` : null}
      <button type="submit">Change password</button>
    </form>
  </section>`;
}

function Tokens() {
  const [data, error, load] = useLoad("/me/tokens", api);
  const [name, setName] = useState("");
  const [days, setDays] = useState("90");
  const [errors, setErrors] = useState({});
  const [made, setMade] = useState(null);
  const [revoking, setRevoking] = useState(null);
  async function create(e) {
    e.preventDefault();
    setErrors({});
    try {
      const t = await api.post("/me/tokens", { name: name.trim(), expires_in_days: Number(days) });
      setMade(t);
      setName("");
      announce(`token ${t.name} made`);
      await load();
    } catch (err) {
      setErrors(err instanceof ApiError ? { ...err.fields(), _: err.message } : { _: err.message });
    }
  }
  const columns = [
    { label: "Name", cell: (t) => (t.name ? t.name : html`<em>login session</em>`) },
    { label: "Made", cell: (t) => when(t.created_at) },
    { label: "Expires", cell: (t) => when(t.expires_at) },
    {
      label: "Revoke",
      cell: (t) => (t.current
        ? "this session (Log out ends it)"
        : html`<button type="button" class="small danger-text" onClick=${() => setRevoking(t)}>Revoke…</button>`),
    },
  ];
  return html`<section aria-labelledby="tok-title" class="card wide">
    <h2 id="tok-title">Tokens</h2>
    <p class="hint">Every token acts as you. Logins make one each; make a named one for a script or CI.</p>
    <${ErrorText} error=${error} />
    ${data ? html`<${Table} cls="tokens" caption="Your tokens" columns=${columns} rows=${data.items} rowKey=${(t) => t.id} />` : null}
    <form class="inline" onSubmit=${create} novalidate aria-labelledby="tok-new-title">
      <h3 id="tok-new-title">New token</h3>
      <div class="field"><label for="tok-name">Name</label>
        <input id="tok-name" value=${name} maxlength="64" aria-describedby="tok-name-error"
          aria-invalid=${errors.name ? "true" : undefined} onInput=${(e) => setName(e.target.value)} />
        <${FieldError} id="tok-name-error" message=${errors.name} /></div>
      <div class="field"><label for="tok-days">Expires after (days)</label>
        <input id="tok-days" type="number" min="1" max="365" value=${days} aria-describedby="tok-days-error"
          aria-invalid=${errors.expires_in_days ? "true" : undefined} onInput=${(e) => setDays(e.target.value)} />
        <${FieldError} id="tok-days-error" message=${errors.expires_in_days} /></div>
      <button type="submit" disabled=${!name.trim()}>Make token</button>
      <${ErrorText} error=${errors._} />
    </form>
    ${made
      ? html`<${Dialog} title=${`Token ${made.name}`} onClose=${() => setMade(null)} wide=${true}>
          <p><strong>Copy the token now: it is shown only this once.</strong> It works until ${when(made.expires_at)}.</p>
          <${LongValue} id="new-token" text=${made.token} label="token" />
          <div class="buttons"><button type="button" onClick=${() => setMade(null)}>Done</button></div>
        <//>`
      : null}
    ${revoking
      ? html`<${Confirm} title=${`Revoke ${revoking.name || "this login session"}?`} confirmLabel="Revoke token"
          onClose=${() => setRevoking(null)}
          onConfirm=${async () => {
            await api.del(`/me/tokens/${enc(revoking.id)}`);
            announce("token revoked");
            setRevoking(null);
            await load();
          }}>
          <p>Every script or session using it is refused from now on (401).</p>
        <//>`
      : null}
  </section>`;
}

export function AccountPage() {
  const [me, error] = useLoad("/me", api);
  return html`<section aria-labelledby="account-title">
    <h1 id="account-title">Account${me ? `: ${me.username}` : ""}</h1>
    <${ErrorText} error=${error} />
    <div class="grid">
      ${me ? html`<${Quota} me=${me} />` : null}
      <${Password} />
      <${Tokens} />
    </div>
  </section>`;
}
