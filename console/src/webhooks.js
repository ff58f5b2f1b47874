// The caller's webhooks (#/webhooks): add one (its signing secret shown once), send it a
// test delivery, see every delivery's attempts and outcome, remove it.
import { html } from "htm/preact";
import { useEffect, useState } from "preact/hooks";
import { api, ApiError, enc } from "./api.js";
import { FieldError } from "./schema.js";
import { announce, Confirm, Dialog, ErrorText, LongValue, Table, useLoad, when } from "./ui.js";

function Deliveries({ hook }) {
  const [data, error, load] = useLoad(`/webhooks/${enc(hook.id)}`, api);
  const [testing, setTesting] = useState(null);
  const [testError, setTestError] = useState("");
  useEffect(() => {
    // A test (or any delivery) still pending: look again until it has an outcome.
    const pending = data && data.deliveries.some((d) => d.status === "pending" && d.attempts === 0);
    if (!pending && !testing) return undefined;
    const t = setTimeout(load, 1000);
    return () => clearTimeout(t);
  }, [data, testing]);
  useEffect(() => {
    if (!testing || !data) return;
    const d = data.deliveries.find((x) => x.id === testing);
    if (d && d.status !== "pending") {
      announce(`test delivery ${d.status}${d.response_status ? ` (HTTP ${d.response_status})` : ""}`);
      setTesting(null);
    }
  }, [data]);
  async function test() {
    setTestError("");
    try {
      const sent = await api.postEmpty(`/webhooks/${enc(hook.id)}/test`);
      setTesting(sent.delivery_id);
      announce("test delivery queued");
      await load();
    } catch (err) {
      setTestError(err.message);
    }
  }
  const columns = [
    { label: "Delivery", cell: (d) => `#${d.id} ${d.payload_status || ""}` },
    { label: "Status", cls: "status", cell: (d) => d.status },
    { label: "Attempts", cell: (d) => `${d.attempts} of ${d.max_attempts}` },
    { label: "Answer", cell: (d) => (d.response_status ? `HTTP ${d.response_status}` : "—") },
    { label: "Error", cell: (d) => d.error || "—" },
    { label: "When", cell: (d) => when(d.delivered_at || d.created_at) },
    { label: "Next attempt", cell: (d) => (d.next_attempt_at ? when(d.next_attempt_at) : "—") },
  ];
  return html`<div class="deliveries">
    <button type="button" class="small" disabled=${!!testing} onClick=${test}>${testing ? "Testing…" : "Send test"}</button>
    <${ErrorText} error=${error || testError} />
    ${data && data.deliveries.length
      ? html`<${Table} cls="deliveries" caption=${`Deliveries to webhook ${hook.id}`} columns=${columns}
          rows=${data.deliveries} rowKey=${(d) => d.id} />`
      : html`<p class="empty">${data ? "No deliveries yet." : "Loading…"}</p>`}
  </div>`;
}

export function WebhooksPage() {
  const [data, error, load] = useLoad("/webhooks", api);
  const [url, setUrl] = useState("");
  const [events, setEvents] = useState({ alerts: true, instances: true });
  const [resolved, setResolved] = useState(true);
  const [errors, setErrors] = useState({});
  const [made, setMade] = useState(null);
  const [removing, setRemoving] = useState(null);
  async function create(e) {
    e.preventDefault();
    setErrors({});
    const chosen = Object.keys(events).filter((k) => events[k]);
    try {
      const hook = await api.post("/webhooks", { url: url.trim(), events: chosen, send_resolved: resolved });
      setMade(hook);
      setUrl("");
      announce("webhook added");
      await load();
    } catch (err) {
      setErrors(err instanceof ApiError ? { ...err.fields(), _: err.message } : { _: err.message });
    }
  }
  return html`<section aria-labelledby="hooks-title">
    <h1 id="hooks-title">Webhooks</h1>
    <p class="meta">Alerts (Alertmanager webhook v4 payloads) and instance events, signed
      (X-Dbvend-Signature: HMAC-SHA256 of "timestamp.body" with the webhook's secret).</p>
    <${ErrorText} error=${error} />
    <form class="card" onSubmit=${create} novalidate aria-labelledby="hook-new-title">
      <h2 id="hook-new-title">Add a webhook</h2>
      <div class="field"><label for="hook-url">URL</label>
        <input id="hook-url" type="url" value=${url} maxlength="2048" aria-describedby="hook-url-error"
          aria-invalid=${errors.url ? "true" : undefined} onInput=${(e) => setUrl(e.target.value)} />
        <${FieldError} id="hook-url-error" message=${errors.url} /></div>
      <fieldset><legend>Receives</legend>
        ${[["alerts", "alerts"], ["instances", "instance events"]].map(([k, label]) => html`<div class="field check">
          <label for=${`hook-ev-${k}`}>${label}</label>
          <input id=${`hook-ev-${k}`} type="checkbox" checked=${events[k]}
            onChange=${(e) => setEvents({ ...events, [k]: e.target.checked })} /></div>`)}
        <${FieldError} id="hook-events-error" message=${errors.events} />
      </fieldset>
      <div class="field check"><label for="hook-resolved">Also when an alert resolves</label>
        <input id="hook-resolved" type="checkbox" checked=${resolved} onChange=${(e) => setResolved(e.target.checked)} /></div>
      <${ErrorText} error=${errors._} />
      <button type="submit" disabled=${!url.trim()}>Add webhook</button>
    </form>
    ${data && data.items.length
      ? data.items.map((h) => html`<article class="card hook" aria-labelledby=${`hook-${h.id}-title`} data-id=${h.id}>
          <h2 id=${`hook-${h.id}-title`}>Webhook ${h.id}</h2>
          <${LongValue} id=${`hook-${h.id}-url`} text=${h.url} label=${`URL of webhook ${h.id}`} />
          <p class="meta">${h.scope}; made ${when(h.created_at)}${h.signed ? "; signed" : ""}</p>
          <${Deliveries} hook=${h} />
          <button type="button" class="small danger-text" onClick=${() => setRemoving(h)}>Remove…</button>
        </article>`)
      : html`<p class="empty">${data ? "No webhooks yet." : "Loading…"}</p>`}
    ${made
      ? html`<${Dialog} title=${`Webhook ${made.id} added`} onClose=${() => setMade(null)} wide=${true}>
          <p><strong>Copy its signing secret now: it is shown only this once.</strong></p>
          <${LongValue} id="hook-secret" text=${made.secret} label="signing secret" />
          <div class="buttons"><button type="button" onClick=${() => setMade(null)}>Done</button></div>
        <//>`
      : null}
    ${removing
      ? html`<${Confirm} title=${`Remove webhook ${removing.id}?`} confirmLabel="Remove webhook"
          onClose=${() => setRemoving(null)}
          onConfirm=${async () => {
            await api.del(`/webhooks/${enc(removing.id)}`);
            announce(`webhook ${removing.id} removed`);
            setRemoving(null);
            await load();
          }}>
          <p>${removing.url} gets no new alerts or events from now on; its deliveries are no longer listed here.</p>
        <//>`
      : null}
  </section>`;
}
