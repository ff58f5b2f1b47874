// The instance list (kept live by the event stream in main.js: search, filters, sorting)
// and the create form.
import { html } from "htm/preact";
import { useEffect, useMemo, useState } from "preact/hooks";
import { api, ApiError } from "./api.js";
import { changedSettings, fieldsOf, FieldError, initialValues, SchemaFields } from "./schema.js";
import { announce, bytes, ErrorText, mib, Table, when } from "./ui.js";

let documentPromise = null;
export function openapi() {
  documentPromise = documentPromise || api.get("/openapi.json");
  documentPromise.catch(() => {
    documentPromise = null;
  });
  return documentPromise;
}

let plansPromise = null;
export function plans() {
  plansPromise = plansPromise || api.get("/plans").then((b) => b.items);
  plansPromise.catch(() => {
    plansPromise = null;
  });
  return plansPromise;
}

export function settingsSchema(doc, engine) {
  const name = `${engine.charAt(0).toUpperCase()}${engine.slice(1)}Settings`;
  return doc.components.schemas[name];
}

export function summary(inst) {
  const s = inst.settings || {};
  if (inst.engine === "redis") {
    const mem = typeof s.maxmemory === "number" ? bytes(s.maxmemory) : s.maxmemory;
    return `maxmemory ${mem}, ${s.maxmemory_policy}${s.appendonly ? ", AOF" : ""}`;
  }
  if (inst.engine === "mysql") return `${mib(s.memory_mb)}, ${s.charset}, ${s.max_connections} connections`;
  return mib(inst.memory_mb);
}

export function StatusBadge({ status }) {
  return html`<span class=${`badge ${status}`}>${status}</span>`;
}

// What the list says of a running instance's reachability; nothing for the others.
export function reach(i) {
  if (i.status !== "running") return "—";
  return i.reachable ? "reachable" : "host not answering";
}

const SORTS = {
  newest: ["newest first", (a, b) => (a.created_at < b.created_at ? 1 : -1)],
  oldest: ["oldest first", (a, b) => (a.created_at < b.created_at ? -1 : 1)],
  name: ["name", (a, b) => a.name.localeCompare(b.name)],
  status: ["status", (a, b) => a.status.localeCompare(b.status) || a.name.localeCompare(b.name)],
  memory: ["memory, largest first", (a, b) => b.memory_mb - a.memory_mb || a.name.localeCompare(b.name)],
};

export function InstanceList({ items, error, me }) {
  const [query, setQuery] = useState("");
  const [engine, setEngine] = useState("");
  const [status, setStatus] = useState("");
  const [plan, setPlan] = useState("");
  const [sort, setSort] = useState("newest");
  const shown = useMemo(() => {
    if (!items) return [];
    const q = query.trim().toLowerCase();
    return items
      .filter((i) => !q || i.name.toLowerCase().includes(q) || i.id.includes(q))
      .filter((i) => !engine || i.engine === engine)
      .filter((i) => !status || i.status === status)
      .filter((i) => !plan || (plan === "-" ? !i.plan : i.plan === plan))
      .sort(SORTS[sort][1]);
  }, [items, query, engine, status, plan, sort]);
  if (error) return html`<${ErrorText} error=${error} />`;
  if (!items) return html`<p class="loading">Loading instances…</p>`;
  const planNames = [...new Set(items.map((i) => i.plan).filter(Boolean))].sort();
  const columns = [
    { label: "Name", cell: (i) => html`<a href=${`#/i/${i.id}`}>${i.name}</a>` },
    { label: "Engine", cell: (i) => i.engine },
    { label: "Size", cell: (i) => html`${i.plan ? html`<span class="plan">${i.plan}</span> · ` : null}${summary(i)}` },
    { label: "Status", cls: "status", cell: (i) => html`<${StatusBadge} status=${i.status} />` },
    { label: "Reachable", cls: "reach", cell: reach },
    { label: "Created", cell: (i) => when(i.created_at) },
    ...(me.is_admin ? [{ label: "Owner", cell: (i) => i.owner }] : []),
  ];
  return html`<section aria-labelledby="list-title">
    <div class="row"><h1 id="list-title">Instances</h1><a class="button" href="#/new">New instance</a></div>
    <form class="inline filters" role="search" aria-label="Find instances" onSubmit=${(e) => e.preventDefault()}>
      <div class="field"><label for="f-search">Search by name</label>
        <input id="f-search" type="search" value=${query} onInput=${(e) => setQuery(e.target.value)} /></div>
      <div class="field"><label for="f-engine">Engine</label>
        <select id="f-engine" value=${engine} onChange=${(e) => setEngine(e.target.value)}>
          <option value="">any</option><option value="mysql">mysql</option><option value="redis">redis</option>
        </select></div>
      <div class="field"><label for="f-status">Status</label>
        <select id="f-status" value=${status} onChange=${(e) => setStatus(e.target.value)}>
          ${["", "provisioning", "running", "stopped", "failed", "deleting"].map(
            (s) => html`<option value=${s}>${s || "any"}</option>`)}
        </select></div>
      <div class="field"><label for="f-plan">Plan</label>
        <select id="f-plan" value=${plan} onChange=${(e) => setPlan(e.target.value)}>
          <option value="">any</option><option value="-">custom settings</option>
          ${planNames.map((p) => html`<option value=${p}>${p}</option>`)}
        </select></div>
      <div class="field"><label for="f-sort">Sort by</label>
        <select id="f-sort" value=${sort} onChange=${(e) => setSort(e.target.value)}>
          ${Object.entries(SORTS).map(([k, [label]]) => html`<option value=${k}>${label}</option>`)}
        </select></div>
    </form>
    <p class="meta" id="list-count">${shown.length} of ${items.length} instance${items.length === 1 ? "" : "s"}</p>
    ${items.length === 0
      ? html`<p class="empty">No instances yet.</p>`
      : html`<${Table} cls="instances" caption="Instances" columns=${columns} rows=${shown} rowKey=${(i) => i.id} />`}
  </section>`;
}

export function CreateInstance({ onCreated }) {
  const [doc, setDoc] = useState(null);
  const [engine, setEngine] = useState("redis");
  const [offer, setOffer] = useState([]);
  const [planName, setPlanName] = useState("");
  const [name, setName] = useState("");
  const [values, setValues] = useState({});
  const [errors, setErrors] = useState({});
  const [error, setError] = useState("");
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    openapi().then(setDoc, (err) => setError(err.message));
    plans().then(setOffer, (err) => setError(err.message));
  }, []);
  const engines = doc ? doc.components.schemas.CreateInstanceRequest.properties.engine.enum : [];
  const offered = offer.filter((p) => p.engine === engine && p.available);
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
          ${offered.map((p) => html`<option value=${p.name}>${p.name}: ${mib(p.memory_mb)} — ${p.description}</option>`)}
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
