// The dbvend console: a single page on the public API (see api.js). Views by location hash:
// #/ (instances), #/new, #/i/ID, #/backups, #/webhooks, #/account,
// #/admin/users|hosts|rules|alerts.
import { html, render } from "htm/preact";
import { useCallback, useEffect, useState } from "preact/hooks";
import { api, login, logout, token, whenUnauthorized } from "./api.js";
import { openEvents } from "./events.js";
import { InstanceList, CreateInstance } from "./instances.js";
import { InstancePage } from "./instance.js";
import { AdminUsers, AdminHosts, AdminRules, AdminAlerts } from "./admin.js";
import { AccountPage } from "./account.js";
import { AllBackups } from "./backups.js";
import { WebhooksPage } from "./webhooks.js";
import { bus, announce, LiveRegion } from "./ui.js";
import "./style.css";

function useHash() {
  const [hash, setHash] = useState(location.hash || "#/");
  useEffect(() => {
    const on = () => setHash(location.hash || "#/");
    addEventListener("hashchange", on);
    return () => removeEventListener("hashchange", on);
  }, []);
  return hash;
}

function Login({ onIn }) {
  const [username, setUsername] = useState("");
  const [password, setPassword] = useState("");
  const [error, setError] = useState("");
  const [busy, setBusy] = useState(false);
  async function submit(e) {
    e.preventDefault();
    setBusy(true);
    setError("");
    try {
      await login(username, password);
      onIn();
    } catch (err) {
      setError(err.message);
    } finally {
      setBusy(false);
    }
  }
  return html`<main class="login">
    <h1>dbvend</h1>
    <form onSubmit=${submit} aria-labelledby="login-title">
      <h2 id="login-title">Log in</h2>
      <div class="field"><label for="login-username">Username</label>
        <input id="login-username" autocomplete="username" required value=${username}
          onInput=${(e) => setUsername(e.target.value)} /></div>
      <div class="field"><label for="login-password">Password</label>
        <input id="login-password" type="password" autocomplete="current-password" required value=${password}
          onInput=${(e) => setPassword(e.target.value)} /></div>
      ${error ? html`<p class="field-error" role="alert">${error}</p>` : null}
      <button type="submit" disabled=${busy}>Log in</button>
    </form>
  </main>`;
}

function Nav({ me, live, onOut, hash }) {
  const link = (href, text) => html`<a href=${href} aria-current=${hash === href ? "page" : undefined}>${text}</a>`;
  return html`<header class="top">
    <a class="brand" href="#/">dbvend</a>
    <nav aria-label="Main">
      ${link("#/", "Instances")}${link("#/new", "New instance")}${link("#/backups", "Backups")}
      ${link("#/webhooks", "Webhooks")}
      ${me.is_admin
        ? html`${link("#/admin/users", "Users")}${link("#/admin/hosts", "Hosts")}
            ${link("#/admin/rules", "Rules")}${link("#/admin/alerts", "Alerts")}`
        : null}
    </nav>
    <div class="session">
      <span class=${`live ${live}`} title="event stream">${live === "live" ? "● live" : "○ offline"}</span>
      <a class="who" href="#/account" aria-current=${hash === "#/account" ? "page" : undefined}><span
        class="sr-only">Account: </span>${me.username}${me.is_admin ? " (admin)" : ""}</a>
      <button type="button" onClick=${onOut}>Log out</button>
    </div>
  </header>`;
}

function Shell({ onOut }) {
  const hash = useHash();
  const [me, setMe] = useState(null);
  const [live, setLive] = useState("offline");
  const [instances, setInstances] = useState(null);
  const [listError, setListError] = useState("");

  const loadList = useCallback(async () => {
    try {
      const items = [];
      let cursor = null;
      do {
        const page = await api.get(`/instances?limit=100${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`);
        items.push(...page.items);
        cursor = page.next_cursor;
      } while (cursor && items.length < 1000);
      setInstances(items);
      setListError("");
    } catch (err) {
      setListError(err.message);
    }
  }, []);

  useEffect(() => {
    api.get("/me").then(setMe, () => onOut());
    loadList();
    // One stream for the whole session: the list and any open instance page follow it.
    return openEvents(token.get, async (msg) => {
      bus.emit(msg);
      if (!msg.instance_id || msg.type === "alert") return;
      if (msg.type === "instance.deleted") {
        setInstances((list) => list && list.filter((i) => i.id !== msg.instance_id));
        return;
      }
      try {
        const inst = await api.get(`/instances/${encodeURIComponent(msg.instance_id)}`);
        setInstances((list) => {
          if (!list) return list;
          const at = list.findIndex((i) => i.id === inst.id);
          if (at < 0) return [inst, ...list];
          const next = [...list];
          next[at] = inst;
          return next;
        });
        if (msg.status) announce(`${inst.name} is ${inst.status}`);
      } catch (err) {
        if (err.status === 404) setInstances((list) => list && list.filter((i) => i.id !== msg.instance_id));
      }
    }, setLive);
  }, []);

  if (!me) return html`<p class="loading">Loading…</p>`;
  let view;
  const m = hash.match(/^#\/i\/([a-z0-9-]{1,64})$/);
  if (m) view = html`<${InstancePage} id=${m[1]} onGone=${loadList} />`;
  else if (hash === "#/new") view = html`<${CreateInstance} onCreated=${loadList} />`;
  else if (hash === "#/backups") view = html`<${AllBackups} />`;
  else if (hash === "#/webhooks") view = html`<${WebhooksPage} />`;
  else if (hash === "#/account") view = html`<${AccountPage} />`;
  else if (me.is_admin && hash === "#/admin/users") view = html`<${AdminUsers} />`;
  else if (me.is_admin && hash === "#/admin/hosts") view = html`<${AdminHosts} />`;
  else if (me.is_admin && hash === "#/admin/rules") view = html`<${AdminRules} />`;
  else if (me.is_admin && hash === "#/admin/alerts") view = html`<${AdminAlerts} />`;
  else view = html`<${InstanceList} items=${instances} error=${listError} me=${me} />`;
  return html`<${Nav} me=${me} live=${live} onOut=${onOut} hash=${hash} /><main id="main">${view}</main>`;
}

function App() {
  const [inside, setInside] = useState(!!token.get());
  const out = useCallback(async () => {
    await logout().catch(() => {});
    setInside(false);
    location.hash = "#/";
  }, []);
  useEffect(() => whenUnauthorized(() => {
    token.clear();
    setInside(false);
  }), []);
  return html`<${LiveRegion} />${inside ? html`<${Shell} onOut=${out} />` : html`<${Login} onIn=${() => setInside(true)} />`}`;
}

render(html`<${App} />`, document.getElementById("app"));
