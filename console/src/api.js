// The public API, and nothing else: every call goes to /api/v1 with the session's bearer
// token (sessionStorage only; no cookie, so no CSRF).
const BASE = "/api/v1";
const KEY = "dbvend.token";

export class ApiError extends Error {
  constructor(status, body) {
    const err = (body && body.error) || {};
    super(err.message || `HTTP ${status}`);
    this.status = status;
    this.code = err.code || "error";
    this.details = Array.isArray(err.details) ? err.details : [];
  }
  // {field: message} for the 422 details, e.g. {"settings.maxmemory": "..."}
  fields() {
    const out = {};
    for (const d of this.details) if (d && typeof d.field === "string") out[d.field] = String(d.message);
    return out;
  }
}

export const token = {
  get: () => sessionStorage.getItem(KEY),
  set: (t) => sessionStorage.setItem(KEY, t),
  clear: () => sessionStorage.removeItem(KEY),
};

let onUnauthorized = () => {};
export function whenUnauthorized(fn) {
  onUnauthorized = fn;
}

async function request(method, path, body, { raw = false } = {}) {
  const headers = { Accept: "application/json" };
  const t = token.get();
  if (t) headers.Authorization = `Bearer ${t}`;
  const init = { method, headers, credentials: "omit", cache: "no-store" };
  if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const res = await fetch(BASE + path, init);
  if (res.status === 401 && path !== "/auth/login") onUnauthorized();
  if (!res.ok) {
    let parsed = null;
    try {
      parsed = await res.json();
    } catch {
      parsed = null;
    }
    throw new ApiError(res.status, parsed);
  }
  if (raw) return res;
  if (res.status === 204) return null;
  return res.json();
}

export const api = {
  get: (path) => request("GET", path),
  post: (path, body) => request("POST", path, body === undefined ? {} : body),
  postEmpty: (path) => request("POST", path),
  patch: (path, body) => request("PATCH", path, body),
  del: (path) => request("DELETE", path),
  raw: (path) => request("GET", path, undefined, { raw: true }),
};

export async function login(username, password) {
  const answer = await request("POST", "/auth/login", { username, password });
  token.set(answer.token);
  return answer;
}

export async function logout() {
  try {
    if (token.get()) await request("POST", "/auth/logout");
  } finally {
    token.clear();
  }
}

export function q(params) {
  const s = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== "") s.set(k, String(v));
  const text = s.toString();
  return text ? `?${text}` : "";
}

export const enc = encodeURIComponent;
