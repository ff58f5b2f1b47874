// An instance's connection details: host, user, the password (hidden until revealed), the
// URI and the CLI line, the TLS mode with the CA to verify against, each long value in a box of its own with a copy button.
import { html } from "htm/preact";
import { useState } from "preact/hooks";
import { CopyButton, LongValue } from "./ui.js";

const MASK = "••••••••";

function masked(text, secret, shown) {
  if (shown || !secret || typeof text !== "string") return text;
  return text.split(secret).join(MASK);
}

export function Connection({ inst }) {
  const [shown, setShown] = useState(false);
  const c = inst.connection || {};
  const secret = c.password || "";
  return html`<section aria-labelledby="conn-title" class="card">
    <h2 id="conn-title">Connection</h2>
    <dl class="conn">
      <dt>Host</dt><dd><code class="tok">${c.host}:${c.port}</code></dd>
      ${c.database ? html`<dt>Database</dt><dd><code class="tok">${c.database}</code></dd>` : null}
      <dt>Username</dt><dd><code class="tok">${c.username}</code></dd>
      <dt>Password</dt>
      <dd><div class="long"><code id="conn-password" class="long-value" tabindex="0" role="region"
          aria-label="password">${shown ? secret : MASK}</code>
        <button type="button" class="small" aria-pressed=${shown ? "true" : "false"}
          onClick=${() => setShown(!shown)}>${shown ? "Hide" : "Reveal"}</button>
        <${CopyButton} text=${secret} label="password" /></div></dd>
      <dt>URI</dt>
      <dd><${LongValue} id="conn-uri" text=${c.uri} shown=${masked(c.uri, secret, shown)} label="URI" /></dd>
      <dt>CLI</dt>
      <dd><${LongValue} id="conn-cli" text=${c.cli} shown=${masked(c.cli, secret, shown)} label="CLI line" /></dd>
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
        ? html` — verify <code class="tok">${tls.server_name}</code> against the CA:
            <a id="conn-ca" href=${tls.ca_url} download="dbvend-ca.pem">download the CA (dbvend-ca.pem)</a>`
        : " (plain connections; switch it on in Settings)"}</dd>`;
}
