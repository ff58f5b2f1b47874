// One instance: connection details, day-2 actions (each destructive one asks first, saying
// what it breaks), settings and plan, metrics, backups, extra credentials, activity, alerts,
// delete.
import { html } from "htm/preact";
import { useCallback, useEffect, useState } from "preact/hooks";
import { api, enc } from "./api.js";
import { Activity } from "./activity.js";
import { InstanceBackups } from "./backups.js";
import { Connection } from "./connection.js";
import { Credentials } from "./credentials.js";
import { StatusBadge } from "./instances.js";
import { Metrics } from "./metrics.js";
import { SettingsForm } from "./settings.js";
import { announce, bus, Confirm, ErrorText, follow, mib } from "./ui.js";

const MAX_GRACE = 86400;

function RotateDialog({ inst, onClose, run }) {
  const grace = inst.engine === "redis";
  const [seconds, setSeconds] = useState("300");
  const n = Number(seconds);
  const valid = !grace || (/^\d+$/.test(seconds) && n >= 0 && n <= MAX_GRACE);
  return html`<${Confirm} title=${`Rotate ${inst.name}'s password?`} confirmLabel="Rotate password"
    busy=${!valid} onClose=${onClose}
    onConfirm=${() => run("rotate-password", "Password rotation", { grace_seconds: grace ? n : 0 })}>
    ${grace
      ? html`<p>The application account gets a new password. Every application still using the old one is
            refused once it stops working.</p>
          <div class="field"><label for="rotate-grace">Keep the old password working for (seconds)</label>
            <input id="rotate-grace" type="number" min="0" max=${MAX_GRACE} value=${seconds}
              aria-describedby="rotate-grace-hint" onInput=${(e) => setSeconds(e.target.value)} />
            <p class="hint" id="rotate-grace-hint">0–86400: both passwords work meanwhile, so applications can
              move to the new one without an outage; 0 ends the old one (and its connections) at once. Until the old one ends, this instance's
              other actions (stop, settings, backups) wait for it; a delete does not.</p></div>`
      : html`<p><strong>The old password stops working at once</strong> and the sessions using it are ended: every
            application using it breaks until it has the new one. MariaDB has no dual passwords, so there is no
            grace period.</p>
          <p>To rotate without an outage, add an extra credential first (Extra credentials below), move your
            applications to it, then rotate this one.</p>`}
  <//>`;
}

const ASKS = {
  stop: (inst) => ({
    title: `Stop ${inst.name}?`,
    label: "Stop instance",
    body: html`<p>The server shuts down: <strong>every open connection ends and clients are refused</strong> until
      you start it again. Its data, port and credentials are kept.</p>
      <p>While stopped its memory no longer counts on the host: if the host fills up meanwhile, a start is refused.</p>`,
  }),
  restart: (inst) => ({
    title: `Restart ${inst.name}?`,
    label: "Restart instance",
    body: html`<p>The server restarts once: <strong>every open connection ends</strong> and clients are refused for a
      few seconds. Data and credentials are kept${inst.engine === "redis" && !inst.settings.appendonly
        ? "; keys written since Redis's last snapshot may be lost (appendonly is off)" : ""}.</p>`,
  }),
};

function Actions({ inst, reload }) {
  const [error, setError] = useState("");
  const [busy, setBusy] = useState(false);
  const [asking, setAsking] = useState(null);
  async function run(path, label, body) {
    setAsking(null);
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
  const ask = asking && ASKS[asking] ? ASKS[asking](inst) : null;
  return html`<section aria-labelledby="actions-title" class="card">
    <h2 id="actions-title">Actions</h2>
    <div class="buttons">
      <button type="button" disabled=${busy || !running} onClick=${() => setAsking("stop")}>Stop…</button>
      <button type="button" disabled=${busy || inst.status !== "stopped"} onClick=${() => run("start", "Start")}>Start</button>
      <button type="button" disabled=${busy || !running} onClick=${() => setAsking("restart")}>Restart…</button>
      <button type="button" disabled=${busy || !running} onClick=${() => setAsking("rotate")}>Rotate password…</button>
      ${inst.connection && inst.connection.tls && inst.connection.tls.mode !== "off"
        ? html`<button type="button" disabled=${busy || !running}
            onClick=${() => run("rotate-certificate", "Certificate rotation")}>Rotate certificate</button>`
        : null}
    </div>
    <${ErrorText} error=${error} />
    ${ask
      ? html`<${Confirm} title=${ask.title} confirmLabel=${ask.label} onClose=${() => setAsking(null)}
          onConfirm=${() => run(asking, asking === "stop" ? "Stop" : "Restart")}>${ask.body}<//>`
      : null}
    ${asking === "rotate" ? html`<${RotateDialog} inst=${inst} onClose=${() => setAsking(null)} run=${run} />` : null}
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
  const [asking, setAsking] = useState(false);
  const [finalBackup, setFinalBackup] = useState(true);
  return html`<section aria-labelledby="del-title" class="card danger">
    <h2 id="del-title">Delete</h2>
    <p>The container, its data and its port go; the backups stay (and keep counting against your quota).</p>
    <button type="button" class="danger" onClick=${() => setAsking(true)}>Delete instance…</button>
    ${asking
      ? html`<${Confirm} title=${`Delete ${inst.name}?`} confirmLabel="Delete instance" typed=${inst.name}
          onClose=${() => setAsking(false)}
          onConfirm=${async () => {
            const can = finalBackup && (inst.status === "running" || inst.status === "stopped");
            await api.del(`/instances/${enc(inst.id)}${can ? "?final_backup=true" : ""}`);
            announce(`${inst.name} is being deleted`);
            setAsking(false);
            onGone();
            location.hash = "#/";
          }}>
          <p><strong>${inst.name} and all its data are deleted</strong>: every application using it breaks, its
            credentials stop working and its port is given away. This cannot be undone.</p>
          <div class="field check"><label for="delete-final">Take a final backup first (kept; restore it into a new
            instance from All backups)</label>
            <input id="delete-final" type="checkbox" checked=${finalBackup}
              onChange=${(e) => setFinalBackup(e.target.checked)} /></div>
        <//>`
      : null}
  </section>`;
}

function health(inst) {
  if (inst.status !== "running") return "";
  const state = (inst.health && inst.health.state) || "unknown";
  return ` · health ${state}`;
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
  return html`<article aria-labelledby="inst-title" class="instance">
    <div class="row"><h1 id="inst-title">${inst.name}</h1>
      <span class="inst-status" id="inst-status"><${StatusBadge} status=${inst.status} /></span>
      <span class="meta" id="inst-meta">${inst.engine} · ${inst.plan ? `plan ${inst.plan} · ` : ""}${mib(inst.memory_mb)}${health(inst)}
        ${inst.facts && inst.facts.server_version ? ` · ${inst.facts.server_version}` : ""} · <code>${inst.id}</code></span></div>
    ${inst.error ? html`<p class="error">${inst.error}</p>` : null}
    <div class="grid">
      <${Connection} inst=${inst} />
      <${Actions} inst=${inst} reload=${load} />
      <${SettingsForm} inst=${inst} reload=${load} />
      <${Alerts} inst=${inst} reload=${load} />
      <${Metrics} inst=${inst} />
      <${InstanceBackups} inst=${inst} reload=${load} />
      <${Credentials} inst=${inst} />
      <${Activity} inst=${inst} />
      <${Delete} inst=${inst} onGone=${onGone} />
    </div>
  </article>`;
}
