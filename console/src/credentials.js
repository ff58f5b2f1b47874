// An instance's extra credentials: more database users with the application account's
// rights. The password is shown once, right after it is made; the list never shows one.
import { html } from "htm/preact";
import { useCallback, useEffect, useState } from "preact/hooks";
import { api, ApiError, enc } from "./api.js";
import { FieldError } from "./schema.js";
import { announce, Confirm, Dialog, ErrorText, LongValue, Table, when } from "./ui.js";

// The new credential, once active: its connection (with the password), shown once.
async function whenActive(inst, name) {
  for (let i = 0; i < 120; i += 1) {
    const found = await api.get(`/instances/${enc(inst.id)}/credentials/${enc(name)}`);
    if (found.status === "active" && found.connection) return found;
    if (found.status === "failed") throw new Error(found.error || "the credential could not be made");
    await new Promise((r) => setTimeout(r, 1000));
  }
  throw new Error("the credential is still being made; look again in a moment");
}

export function Credentials({ inst }) {
  const [items, setItems] = useState(null);
  const [error, setError] = useState("");
  const [name, setName] = useState("");
  const [errors, setErrors] = useState({});
  const [busy, setBusy] = useState(false);
  const [made, setMade] = useState(null);
  const [removing, setRemoving] = useState(null);
  const load = useCallback(async () => {
    try {
      setItems((await api.get(`/instances/${enc(inst.id)}/credentials`)).items);
    } catch (err) {
      setError(err.message);
    }
  }, [inst.id]);
  useEffect(() => {
    load();
  }, [load]);
  useEffect(() => {
    // One being made or removed: look again until it is done.
    if (!items || !items.some((c) => c.status === "creating" || c.status === "deleting")) return undefined;
    const t = setTimeout(load, 1000);
    return () => clearTimeout(t);
  }, [items]);
  async function add(e) {
    e.preventDefault();
    setBusy(true);
    setErrors({});
    setError("");
    try {
      const first = await api.post(`/instances/${enc(inst.id)}/credentials?wait=60`, { name: name.trim() });
      const active = first.connection ? first : await whenActive(inst, first.name);
      setMade(active);
      setName("");
      announce(`credential ${active.name} made`);
      await load();
    } catch (err) {
      if (err instanceof ApiError) setErrors(err.fields());
      setError(err.message);
      await load();
    } finally {
      setBusy(false);
    }
  }
  const running = inst.status === "running";
  const columns = [
    { label: "Name", cell: (c) => c.name },
    { label: "Username", cell: (c) => html`<code>${c.username}</code>` },
    { label: "Status", cls: "status", cell: (c) => `${c.status}${c.error ? `: ${c.error}` : ""}` },
    { label: "Made", cell: (c) => when(c.created_at) },
    {
      label: "Actions",
      cell: (c) => (c.status === "active" || c.status === "failed"
        ? html`<button type="button" class="small danger-text" disabled=${!running}
            onClick=${() => setRemoving(c)}>Remove…</button>`
        : "—"),
    },
  ];
  return html`<section aria-labelledby="cred-title" class="card">
    <h2 id="cred-title">Extra credentials</h2>
    <p class="hint">More users with the application account's rights: give each application or person its own,
      and remove one without touching the others.</p>
    ${items && items.length
      ? html`<${Table} cls="credentials" caption="Extra credentials" columns=${columns} rows=${items} rowKey=${(c) => c.id} />`
      : html`<p class="empty">${items ? "None." : "Loading…"}</p>`}
    <form class="inline" onSubmit=${add} aria-labelledby="cred-add-title" novalidate>
      <h3 id="cred-add-title">Add a credential</h3>
      <div class="field"><label for="cred-name">Name</label>
        <input id="cred-name" value=${name} maxlength="64" aria-describedby="cred-name-hint cred-name-error"
          aria-invalid=${errors.name ? "true" : undefined} onInput=${(e) => setName(e.target.value)} />
        <p class="hint" id="cred-name-hint">letters, digits, '.', '_' or '-'</p>
        <${FieldError} id="cred-name-error" message=${errors.name} /></div>
      <button type="submit" disabled=${busy || !running || !name.trim()}>Add credential</button>
    </form>
    <${ErrorText} error=${error} />
    ${made
      ? html`<${Dialog} title=${`Credential ${made.name}`} onClose=${() => setMade(null)} wide=${true}>
          <p><strong>Copy the password now: it is shown only this once here.</strong></p>
          <dl class="conn">
            <dt>Username</dt><dd><code class="tok">${made.connection.username}</code></dd>
            <dt>Password</dt><dd><${LongValue} id="cred-password" text=${made.connection.password} label="new password" /></dd>
            <dt>URI</dt><dd><${LongValue} id="cred-uri" text=${made.connection.uri} label="new URI" /></dd>
          </dl>
          <div class="buttons"><button type="button" onClick=${() => setMade(null)}>Done</button></div>
        <//>`
      : null}
    ${removing
      ? html`<${Confirm} title=${`Remove credential ${removing.name}?`} confirmLabel="Remove credential"
          onClose=${() => setRemoving(null)}
          onConfirm=${async () => {
            await api.del(`/instances/${enc(inst.id)}/credentials/${enc(removing.name)}`);
            announce(`credential ${removing.name} is being removed`);
            setRemoving(null);
            await load();
          }}>
          <p>User <code>${removing.username}</code> is dropped: every application using it loses access and its
            open connections end. The application account and the other credentials keep working.</p>
        <//>`
      : null}
  </section>`;
}
