// The instance list (kept live by the event stream in main.js) and the create form.
import { html } from "htm/preact";
import { useEffect, useState } from "preact/hooks";
import { api, ApiError } from "./api.js";
import { changedSettings, fieldsOf, FieldError, initialValues, SchemaFields } from "./schema.js";
import { announce, ErrorText } from "./ui.js";

let documentPromise = null;
export function openapi() {
  documentPromise = documentPromise || api.get("/openapi.json");
  documentPromise.catch(() => {
    documentPromise = null;
  });
  return documentPromise;
}

export function settingsSchema(doc, engine) {
  const name = `${engine.charAt(0).toUpperCase()}${engine.slice(1)}Settings`;
  return doc.components.schemas[name];
}

export function summary(inst) {
  const s = inst.settings || {};
  if (inst.engine === "redis") {
    const mem = typeof s.maxmemory === "number" ? `${Math.round(s.maxmemory / 1048576)} MiB` : s.maxmemory;
    return `maxmemory ${mem}, ${s.maxmemory_policy}${s.appendonly ? ", AOF" : ""}`;
  }
  if (inst.engine === "mysql") return `${s.memory_mb} MB, ${s.charset}, ${s.max_connections} connections`;
  return `${inst.memory_mb} MB`;
}

export function StatusBadge({ status }) {
  return html`<span class=${`badge ${status}`}>${status}</span>`;
}

export function InstanceList({ items, error, me }) {
  if (error) return html`<${ErrorText} error=${error} />`;
  if (!items) return html`<p class="loading">Loading instances…</p>`;
  return html`<section aria-labelledby="list-title">
    <div class="row"><h1 id="list-title">Instances</h1><a class="button" href="#/new">New instance</a></div>
    ${items.length === 0
      ? html`<p class="empty">No instances yet.</p>`
      : html`<table class="instances">
          <thead><tr><th scope="col">Name</th><th scope="col">Engine</th><th scope="col">Settings</th>
            <th scope="col">Status</th><th scope="col">Health</th>
            ${me.is_admin ? html`<th scope="col">Owner</th>` : null}</tr></thead>
          <tbody>${items.map((i) => html`<tr data-id=${i.id}>
            <td><a href=${`#/i/${i.id}`}>${i.name}</a></td>
            <td>${i.engine}</td>
            <td>${i.plan ? html`<span class="plan">${i.plan}</span> · ` : null}${summary(i)}</td>
            <td class="status"><${StatusBadge} status=${i.status} /></td>
            <td>${i.status === "running" ? (i.reachable ? "reachable" : "host not answering") : "—"}</td>
            ${me.is_admin ? html`<td>${i.owner}</td>` : null}
          </tr>`)}</tbody>
        </table>`}
  </section>`;
}

export function CreateInstance({ onCreated }) {
  const [doc, setDoc] = useState(null);
  const [engine, setEngine] = useState("redis");
  const [plans, setPlans] = useState([]);
  const [planName, setPlanName] = useState("");
  const [name, setName] = useState("");
  const [values, setValues] = useState({});
  const [errors, setErrors] = useState({});
  const [error, setError] = useState("");
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    openapi().then(setDoc, (err) => setError(err.message));
    api.get("/plans").then((body) => setPlans(body.items), (err) => setError(err.message));
  }, []);
  const engines = doc ? doc.components.schemas.CreateInstanceRequest.properties.engine.enum : [];
  const offered = plans.filter((p) => p.engine === engine && p.available);
  const plan = offered.find((p) => p.name === planName) || null;
  // On a plan only its settable keys are fields, with its bounds and defaults (the API's schema).
  const schemaFor = (d, en, pl) => (pl ? pl.parameters_schema : settingsSchema(d, en));
  const fields = doc ? fieldsOf(schemaFor(doc, engine, plan)) : [];
  const initial = initialValues(fields, null);
  useEffect(() => {
    if (doc) setValues(initialValues(fieldsOf(schemaFor(doc, engine, plan)), null));
    // Not on `plans`: their arrival must not wipe what was typed (a plan is picked only after).
  }, [doc, engine, planName]);

  async function submit(e) {
    e.preventDefault();
    setBusy(true);
    setErrors({});
    setError("");
    const body = { engine, settings: changedSettings(fields, values, initial) };
    if (plan) body.plan = plan.name;
    if (name.trim()) body.name = name.trim();
    try {
      const inst = await api.post("/instances", body);
      announce(`${inst.name} is ${inst.status}`);
      onCreated();
      location.hash = `#/i/${inst.id}`;
    } catch (err) {
      if (err instanceof ApiError) {
        setErrors(err.fields());
        setError(err.details.length ? "Please correct the fields marked below." : err.message);
      } else setError(err.message);
    } finally {
      setBusy(false);
    }
  }

  if (!doc) return error ? html`<${ErrorText} error=${error} />` : html`<p class="loading">Loading…</p>`;
  return html`<section aria-labelledby="new-title">
    <h1 id="new-title">New instance</h1>
    <form onSubmit=${submit} class="settings" novalidate>
      <fieldset><legend>Engine</legend>
        ${engines.map((en) => html`<label class="radio"><input type="radio" name="engine" value=${en}
          checked=${engine === en} onChange=${() => { setEngine(en); setPlanName(""); }} /> ${en}</label>`)}
      </fieldset>
      <div class="field"><label for="new-plan">Plan</label>
        <select id="new-plan" value=${planName} aria-describedby="new-plan-hint new-plan-error"
          aria-invalid=${errors.plan ? "true" : undefined} onChange=${(e) => setPlanName(e.target.value)}>
          <option value="">custom settings</option>
          ${offered.map((p) => html`<option value=${p.name}>${p.name}: ${p.description}</option>`)}
        </select>
        <p class="hint" id="new-plan-hint">a plan fixes the size; only its other settings can be chosen</p>
        <${FieldError} id="new-plan-error" message=${errors.plan} />
      </div>
      <div class="field"><label for="new-name">Name</label>
        <input id="new-name" value=${name} maxlength="63" aria-describedby="new-name-hint new-name-error"
          aria-invalid=${errors.name ? "true" : undefined} onInput=${(e) => setName(e.target.value)} />
        <p class="hint" id="new-name-hint">lower-case letters, digits and dashes; the instance id if empty</p>
        <${FieldError} id="new-name-error" message=${errors.name} />
      </div>
      <fieldset><legend>Settings</legend>
        <${SchemaFields} fields=${fields} values=${values} setValues=${setValues} errors=${errors} prefix="new" />
      </fieldset>
      <${ErrorText} error=${error} />
      <button type="submit" disabled=${busy}>Create</button>
    </form>
  </section>`;
}
