// Form fields generated from a JSON schema of the OpenAPI document (the engines' settings
// models): one declaration of each setting, in the service; nothing re-typed here.
import { html } from "htm/preact";

// The one non-null branch of an `X | None` property.
function plain(prop) {
  if (Array.isArray(prop.anyOf)) {
    const kept = prop.anyOf.filter((b) => b.type !== "null");
    if (kept.length === 1) return { ...kept[0], ...prop, anyOf: undefined, nullable: true };
  }
  return prop;
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
    };
  });
}

export function initialValues(fields, current) {
  const out = {};
  for (const f of fields) {
    const v = current && f.name in current ? current[f.name] : f.dflt;
    out[f.name] = f.kind === "checkbox" ? !!v : v === null || v === undefined ? "" : String(v);
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

export function FieldError({ id, message }) {
  if (!message) return null;
  return html`<p class="field-error" id=${id} role="alert">${message}</p>`;
}

export function SchemaFields({ fields, values, setValues, errors, prefix, path = "settings" }) {
  const set = (name, v) => setValues({ ...values, [name]: v });
  return fields.map((f) => {
    const id = `${prefix}-${f.name}`;
    const err = errors[`${path}.${f.name}`];
    const errId = `${id}-error`;
    const hintId = `${id}-hint`;
    const described = [f.description ? hintId : null, err ? errId : null].filter(Boolean).join(" ") || undefined;
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
      <label for=${id}>${f.label}</label>
      ${input}
      ${f.description ? html`<p class="hint" id=${hintId}>${f.description}</p>` : null}
      <${FieldError} id=${errId} message=${err} />
    </div>`;
  });
}
