// One instance: connection details, day-2 actions, settings, backups, metrics, alerts, delete.
import { html } from "htm/preact";
import { useCallback, useEffect, useState } from "preact/hooks";
import { api, ApiError, enc } from "./api.js";
import { Chart, seriesOf } from "./charts.js";
import { openapi, settingsSchema, StatusBadge } from "./instances.js";
import { changedSettings, fieldsOf, FieldError, initialValues, SchemaFields } from "./schema.js";
import { announce, bus, bytes, CopyButton, ErrorText, follow, when } from "./ui.js";

const MASK = "••••••••";

function masked(text, secret, shown) {
  if (shown || !secret || typeof text !== "string") return text;
  return text.split(secret).join(MASK);
}

function Connection({ inst }) {
  const [shown, setShown] = useState(false);
  const c = inst.connection || {};
  const secret = c.password || "";
  return html`<section aria-labelledby="conn-title" class="card">
    <h2 id="conn-title">Connection</h2>
    <dl class="conn">
      <dt>Host</dt><dd>${c.host}:${c.port}</dd>
      <dt>Username</dt><dd>${c.username}</dd>
      <dt>Password</dt>
      <dd><code id="conn-password">${shown ? secret : MASK}</code>
        <button type="button" class="small" aria-pressed=${shown ? "true" : "false"}
          onClick=${() => setShown(!shown)}>${shown ? "Hide" : "Reveal"}</button>
        <${CopyButton} text=${secret} label="password" /></dd>
      <dt>URI</dt>
      <dd><code id="conn-uri">${masked(c.uri, secret, shown)}</code> <${CopyButton} text=${c.uri} label="URI" /></dd>
      <dt>CLI</dt>
      <dd><code id="conn-cli">${masked(c.cli, secret, shown)}</code> <${CopyButton} text=${c.cli} label="CLI line" /></dd>
      <${Tls} tls=${c.tls} />
    </dl>
  </section>`;
}

// connection.tls: the mode, the name the certificate carries, and the CA bundle to verify with
// (public: the link needs no login; saved as dbvend-ca.pem, the name the CLI line uses).
function Tls({ tls }) {
  if (!tls) return null;
  const on = tls.mode && tls.mode !== "off";
  return html`<dt>TLS</dt>
    <dd><span id="conn-tls" class=${on ? "tls-on" : "tls-off"}>${tls.mode}</span>
      ${on
        ? html` — verify <code>${tls.server_name}</code> against the CA:
            <a id="conn-ca" href=${tls.ca_url} download="dbvend-ca.pem">download the CA (dbvend-ca.pem)</a>`
        : " (plain connections; switch it on in Settings)"}</dd>`;
}

function Actions({ inst, reload }) {
  const [error, setError] = useState("");
  const [busy, setBusy] = useState(false);
  async function act(path, label, body) {
    setBusy(true);
    setError("");
    try {
      const op = await api.post(`/instances/${enc(inst.id)}/${path}`, body);
      announce(`${label} requested for ${inst.name}`);
      await reload();
      setBusy(false);
      const done = await follow(api, op, `${label} of ${inst.name}`);
      if (done && done.status === "failed") setError(`${label} failed: ${done.error || "unknown error"}`);
    } catch (err) {
      setError(err.message);
    } finally {
      setBusy(false);
    }
  }
  const running = inst.status === "running";
  return html`<section aria-labelledby="act-title" class="card">
    <h2 id="act-title">Actions</h2>
    <div class="buttons">
      <button type="button" disabled=${busy || !running} onClick=${() => act("stop", "Stop")}>Stop</button>
      <button type="button" disabled=${busy || inst.status !== "stopped"} onClick=${() => act("start", "Start")}>Start</button>
      <button type="button" disabled=${busy || !running} onClick=${() => act("restart", "Restart")}>Restart</button>
      <button type="button" disabled=${busy || !running} onClick=${() => act("rotate-password", "Password rotation", {})}>
        Rotate password</button>
      ${inst.connection && inst.connection.tls && inst.connection.tls.mode !== "off"
        ? html`<button type="button" disabled=${busy || !running}
            onClick=${() => act("rotate-certificate", "Certificate rotation")}>Rotate certificate</button>`
        : null}
    </div>
    <${ErrorText} error=${error} />
  </section>`;
}

function SettingsForm({ inst, reload }) {
  const [doc, setDoc] = useState(null);
  const [values, setValues] = useState({});
  const [errors, setErrors] = useState({});
  const [error, setError] = useState("");
  useEffect(() => {
    openapi().then(setDoc, (err) => setError(err.message));
  }, []);
  const fields = doc ? fieldsOf(settingsSchema(doc, inst.engine)) : [];
  const initial = initialValues(fields, inst.settings);
  useEffect(() => {
    if (doc) setValues(initialValues(fieldsOf(settingsSchema(doc, inst.engine)), inst.settings));
  }, [doc, inst.updated_at]);
  async function submit(e) {
    e.preventDefault();
    setErrors({});
    setError("");
    const settings = changedSettings(fields, values, initial);
    if (!Object.keys(settings).length) {
      setError("Nothing changed.");
      return;
    }
    try {
      const op = await api.patch(`/instances/${enc(inst.id)}`, { settings });
      announce(`settings change requested for ${inst.name}`);
      await reload();
      const done = await follow(api, op, `Settings change of ${inst.name}`);
      if (done && done.status === "failed") setError(`Settings change failed: ${done.error || "unknown error"}`);
    } catch (err) {
      if (err instanceof ApiError) setErrors(err.fields());
      setError(err.message);
    }
  }
  if (!doc) return null;
  return html`<section aria-labelledby="set-title" class="card">
    <h2 id="set-title">Settings</h2>
    <form onSubmit=${submit} class="settings" novalidate>
      <${SchemaFields} fields=${fields} values=${values} setValues=${setValues} errors=${errors} prefix="edit" />
      <${ErrorText} error=${error} />
      <button type="submit" disabled=${inst.status !== "running"}>Apply settings</button>
    </form>
  </section>`;
}

async function download(inst, b) {
  const res = await api.raw(`/backups/${enc(b.id)}/download`);
  const blob = await res.blob();
  const url = URL.createObjectURL(blob);
  const a = document.createElement("a");
  a.href = url;
  a.download = `${inst.name}-${b.id}.${b.format}`;
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60000);
}

function Backups({ inst, reload }) {
  const [items, setItems] = useState(null);
  const [error, setError] = useState("");
  const [busy, setBusy] = useState(false);
  const policy = inst.backup_policy;
  const [hours, setHours] = useState(policy ? String(policy.interval_hours) : "24");
  const [keep, setKeep] = useState(policy ? String(policy.keep) : "7");
  const [policyErrors, setPolicyErrors] = useState({});
  const load = useCallback(async () => {
    try {
      setItems((await api.get(`/instances/${enc(inst.id)}/backups?limit=50`)).items);
    } catch (err) {
      setError(err.message);
    }
  }, [inst.id]);
  useEffect(() => {
    load();
  }, [load]);
  useEffect(() => {
    // A backup in progress: look again until it is done.
    if (!items || !items.some((b) => b.status === "pending" || b.status === "running")) return undefined;
    const t = setTimeout(load, 1000);
    return () => clearTimeout(t);
  }, [items]);
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
  const running = inst.status === "running";
  return html`<section aria-labelledby="bak-title" class="card wide">
    <h2 id="bak-title">Backups</h2>
    <button type="button" disabled=${busy || !running}
      onClick=${() => run(() => api.postEmpty(`/instances/${enc(inst.id)}/backups`), "backup started")}>Back up now</button>
    <${ErrorText} error=${error} />
    ${items && items.length
      ? html`<table class="backups"><thead><tr><th scope="col">Backup</th><th scope="col">Status</th>
          <th scope="col">Size</th><th scope="col">Taken</th><th scope="col">Actions</th></tr></thead>
          <tbody>${items.map((b) => html`<tr data-id=${b.id}>
            <td>${b.id}${b.scheduled ? " (scheduled)" : ""}</td>
            <td class="status">${b.status}${b.error ? `: ${b.error}` : ""}</td>
            <td>${bytes(b.size_bytes)}</td><td>${when(b.finished_at || b.created_at)}</td>
            <td>${b.status === "completed"
              ? html`<button type="button" class="small" onClick=${() => run(() => download(inst, b), "download started")}>
                  Download</button>
                <button type="button" class="small" disabled=${busy || !running}
                  onClick=${() => run(async () => {
                    announce(`restore of ${b.id} started`);
                    const op = await api.post(`/instances/${enc(inst.id)}/restore`, { backup_id: b.id });
                    const done = await follow(api, op, `Restore of ${b.id}`);
                    if (done && done.status === "failed") throw new Error(`restore failed: ${done.error || "unknown error"}`);
                  })}>Restore</button>`
              : null}</td></tr>`)}</tbody></table>`
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
      ${policy ? html`<button type="button" onClick=${(e) => savePolicy(e, true)}>Turn off</button>` : null}
    </form>
  </section>`;
}

function Metrics({ inst }) {
  const [data, setData] = useState(null);
  const [error, setError] = useState("");
  useEffect(() => {
    let stop = false;
    let timer = null;
    async function load() {
      try {
        const m = await api.get(`/instances/${enc(inst.id)}/metrics?since=3600&limit=240`);
        if (stop) return;
        setData(seriesOf(m.items));
        timer = setTimeout(load, Math.max(5, m.collect_interval || 15) * 1000);
      } catch (err) {
        if (!stop) setError(err.message);
      }
    }
    load();
    return () => {
      stop = true;
      clearTimeout(timer);
    };
  }, [inst.id]);
  return html`<section aria-labelledby="met-title" class="card wide">
    <h2 id="met-title">Metrics (last hour)</h2>
    <${ErrorText} error=${error} />
    ${data
      ? html`<div class="charts">
          <${Chart} title="Memory" xs=${data.xs} ys=${data.memory} unit="MiB" />
          <${Chart} title="Connections" xs=${data.xs} ys=${data.connections} />
          <${Chart} title="Restarts" xs=${data.xs} ys=${data.restarts} />
        </div>`
      : html`<p class="loading">Loading…</p>`}
  </section>`;
}

function Alerts({ inst, reload }) {
  const [error, setError] = useState("");
  const open = (inst.health && inst.health.open_alerts) || [];
  async function ack(a) {
    try {
      await api.post(`/alerts/${a.id}/ack`, {});
      announce(`alert ${a.rule} acknowledged`);
      await reload();
    } catch (err) {
      setError(err.message);
    }
  }
  return html`<section aria-labelledby="al-title" class="card">
    <h2 id="al-title">Open alerts</h2>
    <${ErrorText} error=${error} />
    ${open.length
      ? html`<ul class="alerts">${open.map((a) => html`<li>
          <span class=${`sev ${a.severity}`}>${a.severity}</span> ${a.rule} (${a.status}) ${a.summary || ""}
          ${a.status === "firing" ? html`<button type="button" class="small" onClick=${() => ack(a)}>Acknowledge</button>` : null}
        </li>`)}</ul>`
      : html`<p class="empty">None.</p>`}
  </section>`;
}

function Delete({ inst, onGone }) {
  const [typed, setTyped] = useState("");
  const [error, setError] = useState("");
  async function submit(e) {
    e.preventDefault();
    if (typed !== inst.name) return;
    try {
      await api.del(`/instances/${enc(inst.id)}`);
      announce(`${inst.name} is being deleted`);
      onGone();
      location.hash = "#/";
    } catch (err) {
      setError(err.message);
    }
  }
  return html`<section aria-labelledby="del-title" class="card danger">
    <h2 id="del-title">Delete</h2>
    <form onSubmit=${submit}>
      <div class="field"><label for="delete-confirm">Type <strong>${inst.name}</strong> to delete this instance and its data</label>
        <input id="delete-confirm" autocomplete="off" value=${typed} onInput=${(e) => setTyped(e.target.value)} /></div>
      <${ErrorText} error=${error} />
      <button type="submit" class="danger" disabled=${typed !== inst.name}>Delete instance</button>
    </form>
  </section>`;
}

export function InstancePage({ id, onGone }) {
  const [inst, setInst] = useState(null);
  const [error, setError] = useState("");
  const load = useCallback(async () => {
    try {
      setInst(await api.get(`/instances/${enc(id)}`));
      setError("");
    } catch (err) {
      setError(err.status === 404 ? "No such instance." : err.message);
    }
  }, [id]);
  useEffect(() => {
    load();
    return bus.on((msg) => {
      if (msg.instance_id === id) load();
    });
  }, [id]);
  if (error) return html`<${ErrorText} error=${error} />`;
  if (!inst) return html`<p class="loading">Loading…</p>`;
  const health = inst.health || {};
  return html`<article aria-labelledby="inst-title" class="instance">
    <div class="row"><h1 id="inst-title">${inst.name}</h1>
      <span class="inst-status" id="inst-status"><${StatusBadge} status=${inst.status} /></span>
      <span class="meta">${inst.engine} · ${inst.id} · health ${health.state || "unknown"}
        ${inst.facts && inst.facts.server_version ? ` · ${inst.facts.server_version}` : ""}</span></div>
    ${inst.error ? html`<p class="error">${inst.error}</p>` : null}
    <div class="grid">
      <${Connection} inst=${inst} />
      <${Actions} inst=${inst} reload=${load} />
      <${Alerts} inst=${inst} reload=${load} />
      <${SettingsForm} inst=${inst} reload=${load} />
      <${Metrics} inst=${inst} />
      <${Backups} inst=${inst} reload=${load} />
      <${Delete} inst=${inst} onGone=${onGone} />
    </div>
  </article>`;
}
