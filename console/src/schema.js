// Form fields generated from a JSON schema of the OpenAPI document (the engines' settings
// models): one declaration of each setting, in the service; nothing re-typed here. The
// schema also says what a change of each costs (x-restart-required, x-restart-when), which
// settings a create fixes (x-create-only) and the unit of a number (x-unit).
import { html } from "htm/preact";
import { withUnit } from "./ui.js";

// The one non-null branch of an `X | None` property.
function plain(prop) {
  if (Array.isArray(prop.anyOf)) {
    const kept = prop.anyOf.filter((b) => b.type !== "null");
    if (kept.length === 1) return { ...kept[0], ...prop, anyOf: undefined, nullable: true };
  }
  return prop;
}

const MIB = 1048576;
// A byte count as a size the API reads back ("128mb", "1gb"), or the bytes.
export function sizeText(n) {
  if (typeof n !== "number") return n === null || n === undefined ? "" : String(n);
  if (n % (1024 * MIB) === 0) return `${n / (1024 * MIB)}gb`;
  if (n % MIB === 0) return `${n / MIB}mb`;
  return String(n);
}

export function fieldsOf(schema) {
  return Object.entries((schema && schema.properties) || {}).map(([name, raw]) => {
    const p = plain(raw);
    let kind = "text";
    if (Array.isArray(p.enum)) kind = "select";
    else if (p.type === "boolean") kind = "checkbox";
    else if (p.type === "integer" || p.type === "number") {
      // A size such as "256mb" is accepted as well as bytes: a text box then.
      kind = (p.examples || []).some((e) => typeof e === "string") ? "size" : "number";
    }
    return {
      name,
      kind,
      label: p.title || name,
      description: p.description || "",
      enum: p.enum || [],
      min: p.minimum,
      max: p.maximum,
      maxLength: p.maxLength,
      nullable: !!p.nullable,
      dflt: p.default,
      unit: p["x-unit"] || null,
      restart: !!p["x-restart-required"],
      restartWhen: p["x-restart-when"] || null,
      createOnly: !!p["x-create-only"],
    };
  });
}

export function initialValues(fields, current) {
  const out = {};
  for (const f of fields) {
    const v = current && f.name in current ? current[f.name] : f.dflt;
    if (f.kind === "checkbox") out[f.name] = !!v;
    else if (f.kind === "size") out[f.name] = sizeText(v);
    else out[f.name] = v === null || v === undefined ? "" : String(v);
  }
  return out;
}

function convert(f, v) {
  if (f.kind === "checkbox") return !!v;
  const s = String(v).trim();
  if (s === "") return f.nullable ? null : undefined;
  if ((f.kind === "number" || f.kind === "size") && /^-?\d+$/.test(s)) return Number(s);
  return s; // the API says what is wrong with it, by field
}

// The settings that differ from `initial` (what a create or a PATCH sends).
export function changedSettings(fields, values, initial) {
  const out = {};
  for (const f of fields) {
    if (values[f.name] === initial[f.name]) continue;
    const v = convert(f, values[f.name]);
    if (v !== undefined) out[f.name] = v;
  }
  return out;
}

// The changed settings whose change restarts the server (what the schema says of each).
export function restarting(fields, changed, current) {
  return fields.filter((f) => {
    if (!(f.name in changed) || !f.restart) return false;
    if (f.restartWhen === "null_toggled") {
      const before = current ? current[f.name] : null;
      return (before === null || before === undefined) !== (changed[f.name] === null);
    }
    if (f.restartWhen === "off_toggled") {
      const before = current ? current[f.name] : "off";
      return (before === "off" || before === undefined) !== (changed[f.name] === "off");
    }
    return true;
  });
}

export function FieldError({ id, message }) {
  if (!message) return null;
  return html`<p class="field-error" id=${id} role="alert">${message}</p>`;
}

// Settings shown, not editable (fixed by a plan, or chosen at create), in human units.
export function FixedSettings({ fields, values, why }) {
  if (!fields.length) return null;
  return html`<div class="fixed"><p class="hint">${why}</p><dl class="kv">${fields.map(
    (f) => html`<dt>${f.label}</dt><dd data-setting=${f.name}>${withUnit(values[f.name], f.unit)}</dd>`,
  )}</dl></div>`;
}

export function SchemaFields({ fields, values, setValues, errors, prefix, path = "settings" }) {
  const set = (name, v) => setValues({ ...values, [name]: v });
  return fields.map((f) => {
    const id = `${prefix}-${f.name}`;
    const err = errors[`${path}.${f.name}`];
    const errId = `${id}-error`;
    const hintId = `${id}-hint`;
    const hint = [f.description, f.restart ? (f.restartWhen
      ? "switching it on or off restarts the server" : "a change restarts the server") : ""]
      .filter(Boolean).join("; ");
    const described = [hint ? hintId : null, err ? errId : null].filter(Boolean).join(" ") || undefined;
    const common = { id, name: f.name, "aria-invalid": err ? "true" : undefined, "aria-describedby": described };
    let input;
    if (f.kind === "select") {
      input = html`<select ...${common} value=${values[f.name]} onChange=${(e) => set(f.name, e.target.value)}>
        ${f.enum.map((o) => html`<option value=${o}>${o}</option>`)}
      </select>`;
    } else if (f.kind === "checkbox") {
      input = html`<input type="checkbox" ...${common} checked=${values[f.name]}
        onChange=${(e) => set(f.name, e.target.checked)} />`;
    } else {
      input = html`<input type=${f.kind === "number" ? "number" : "text"} ...${common}
        min=${f.min} max=${f.max} maxlength=${f.maxLength} value=${values[f.name]}
        onInput=${(e) => set(f.name, e.target.value)} />`;
    }
    return html`<div class=${`field ${f.kind === "checkbox" ? "check" : ""}`}>
      <label for=${id}>${f.label}${f.unit && f.kind === "number" ? ` (${f.unit})` : ""}</label>
      ${input}
      ${hint ? html`<p class="hint" id=${hintId}>${hint}</p>` : null}
      <${FieldError} id=${errId} message=${err} />
    </div>`;
  });
}
