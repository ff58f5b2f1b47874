// An instance's settings and plan. Only what may change is editable: a plan's settable keys
// (within its bounds) or, without a plan, every setting but those chosen at create; the rest
// is shown read-only. A change that restarts the server (the settings schema says which)
// asks first; the answer says whether it did.
import { html } from "htm/preact";
import { useEffect, useState } from "preact/hooks";
import { api, ApiError, enc } from "./api.js";
import { openapi, plans, settingsSchema } from "./instances.js";
import { changedSettings, fieldsOf, FixedSettings, initialValues, restarting, SchemaFields } from "./schema.js";
import { announce, Confirm, ErrorText, follow, mib, withUnit } from "./ui.js";

function describeChange(fields, changed, current) {
  return Object.entries(changed).map(([name, v]) => {
    const f = fields.find((x) => x.name === name) || { label: name, unit: null };
    return html`<li><strong>${f.label}</strong>: ${withUnit(current[name], f.unit)} → ${withUnit(
      typeof v === "string" && f.kind === "size" ? v : v, f.kind === "size" ? null : f.unit)}</li>`;
  });
}

export function SettingsForm({ inst, reload }) {
  const [doc, setDoc] = useState(null);
  const [offer, setOffer] = useState(null);
  const [values, setValues] = useState({});
  const [errors, setErrors] = useState({});
  const [error, setError] = useState("");
  const [convert, setConvert] = useState(false);
  const [asking, setAsking] = useState(null); // {changed, restart}
  const [target, setTarget] = useState(inst.plan || "");
  const [moving, setMoving] = useState(false);
  const [result, setResult] = useState("");
  useEffect(() => {
    openapi().then(setDoc, (err) => setError(err.message));
    plans().then(setOffer, (err) => setError(err.message));
  }, []);
  const all = doc ? fieldsOf(settingsSchema(doc, inst.engine)) : [];
  const plan = offer && inst.plan ? offer.find((p) => p.engine === inst.engine && p.name === inst.plan) : null;
  const settable = plan ? Object.keys(plan.settable) : null;
  const bounded = plan ? fieldsOf(plan.parameters_schema) : null;
  const editable = (bounded || all).filter((f) => !f.createOnly);
  const fixed = all.filter((f) => f.createOnly || (settable && !settable.includes(f.name)));
  const initial = initialValues(editable, inst.settings);
  useEffect(() => {
    if (doc && (offer || !inst.plan)) setValues(initialValues(editable, inst.settings));
    setTarget(inst.plan || "");
  }, [doc, offer, inst.updated_at]);

  async function apply(changed) {
    setAsking(null);
    const body = { settings: changed };
    if (convert) body.convert = true;
    const op = await api.patch(`/instances/${enc(inst.id)}`, body);
    const how = op.restart_required ? "the server restarts once" : "applied live";
    setResult(`Settings change requested: ${how}.`);
    announce(`settings change of ${inst.name} requested: ${how}`);
    await reload();
    const done = await follow(api, op, `Settings change of ${inst.name}`);
    if (done && done.status === "failed") setError(`Settings change failed: ${done.error || "unknown error"}`);
    else if (done) setResult(op.restart_required ? "Applied: the server restarted once." : "Applied live: no restart.");
  }

  async function submit(e) {
    e.preventDefault();
    setErrors({});
    setError("");
    setResult("");
    const changed = changedSettings(editable, values, initial);
    if (!Object.keys(changed).length) {
      setError("Nothing changed.");
      return;
    }
    const restart = restarting(all, changed, inst.settings);
    if (restart.length) {
      setAsking({ changed, restart });
      return;
    }
    try {
      await apply(changed);
    } catch (err) {
      if (err instanceof ApiError) setErrors(err.fields());
      setError(err.message);
    }
  }

  async function move() {
    const body = { plan: target || null };
    const op = await api.patch(`/instances/${enc(inst.id)}`, body);
    setMoving(false);
    announce(`plan change of ${inst.name} requested`);
    await reload();
    const done = await follow(api, op, `Plan change of ${inst.name}`);
    if (done && done.status === "failed") setError(`Plan change failed: ${done.error || "unknown error"}`);
  }

  if (!doc || (inst.plan && !offer)) return null;
  const choices = (offer || []).filter((p) => p.engine === inst.engine && (p.available || p.name === inst.plan));
  const next = choices.find((p) => p.name === target) || null;
  const planChange = next ? Object.fromEntries(Object.entries(next.settings)
    .filter(([k, v]) => v !== null && inst.settings[k] !== v)) : {};
  const running = inst.status === "running";
  return html`<section aria-labelledby="set-title" class="card">
    <h2 id="set-title">Settings</h2>
    <form onSubmit=${submit} class="settings" novalidate aria-labelledby="set-title">
      <${FixedSettings} fields=${fixed} values=${inst.settings}
        why=${plan ? `Fixed by plan ${plan.name} (change the plan below to change them):` : "Chosen at create:"} />
      <${SchemaFields} fields=${editable} values=${values} setValues=${setValues} errors=${errors} prefix="edit" />
      ${inst.engine === "mysql"
        ? html`<div class="field check"><label for="edit-convert">Convert the database's character set
            (ALTER DATABASE; existing tables keep theirs)</label>
            <input id="edit-convert" type="checkbox" checked=${convert} onChange=${(e) => setConvert(e.target.checked)} /></div>`
        : null}
      <${ErrorText} error=${error} />
      ${result ? html`<p class="ok" id="settings-result">${result}</p>` : null}
      <button type="submit" disabled=${!running}>Apply settings</button>
    </form>
    <form class="inline plan-change" onSubmit=${(e) => { e.preventDefault(); setMoving(true); }}
      aria-labelledby="plan-title">
      <h3 id="plan-title">Plan: ${inst.plan || "custom settings"} (${mib(inst.memory_mb)})</h3>
      <div class="field"><label for="plan-target">Move to</label>
        <select id="plan-target" value=${target} onChange=${(e) => setTarget(e.target.value)}>
          <option value="">custom settings</option>
          ${choices.map((p) => html`<option value=${p.name}>${p.name}: ${mib(p.memory_mb)}</option>`)}
        </select></div>
      <button type="submit" disabled=${!running || target === (inst.plan || "")}>Change plan</button>
    </form>
    ${asking
      ? html`<${Confirm} title="Apply a change that restarts the server?" confirmLabel="Apply and restart"
          onClose=${() => setAsking(null)} onConfirm=${() => apply(asking.changed)}>
          <p>Applying this restarts ${inst.name}'s server once: every open connection ends and clients are
            refused until it is back (usually a few seconds). Data and credentials are kept.</p>
          <p>Restarts because of: ${asking.restart.map((f) => f.label).join(", ")}.</p>
          <ul>${describeChange(all, asking.changed, inst.settings)}</ul>
        <//>`
      : null}
    ${moving
      ? html`<${Confirm} title=${`Move ${inst.name} to ${target || "custom settings"}?`} danger=${false}
          confirmLabel="Change plan" onClose=${() => setMoving(false)} onConfirm=${move}>
          ${next
            ? html`<p>Memory ${mib(inst.memory_mb)} → ${mib(next.memory_mb)}; the plan's settings replace the ones
                ${inst.plan || "you"} fixed; your other settings keep their values.</p>
                <ul>${describeChange(all, planChange, inst.settings)}</ul>
                <p>${restarting(all, planChange, inst.settings).length
                  ? "This restarts the server once: open connections end."
                  : "Applied live: no restart, connections stay open."}</p>`
            : html`<p>The instance keeps its current settings and leaves the plan; you may then change every
                setting (a bigger size counts against your quota).</p>`}
        <//>`
      : null}
  </section>`;
}
