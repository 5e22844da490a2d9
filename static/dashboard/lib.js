/* Small helpers every panel uses: DOM building (text only, never HTML), number
 * formats, one API call with a timeout, and a coalescing scheduler. */

export const $ = (id) => document.getElementById(id);
export const cfg = JSON.parse($("dashboard-config").textContent);

export function el(tag, props, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props || {})) {
    if (value === undefined || value === null) continue;
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (key === "dataset") Object.assign(node.dataset, value);
    else node.setAttribute(key, value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

// DOM's replaceChildren would print null as "null": drop the empty parts first.
export function setChildren(node, ...children) {
  node.replaceChildren(...children.flat().filter((c) => c !== null && c !== undefined && c !== false && c !== ""));
}

export function results(data) {
  if (data && Array.isArray(data.results)) return data.results;
  return Array.isArray(data) ? data : [];
}

// Counts with thousands separators; ids such as ports are printed with String().
export function fmt(n) {
  return typeof n === "number" ? n.toLocaleString("en-US") : n === undefined || n === null ? "–" : String(n);
}

export function humanize(key) {
  return String(key).replace(/_/g, " ").replace(/^\w/, (c) => c.toUpperCase());
}

export function clock(ms) {
  return new Date(ms).toISOString().slice(11, 19);
}

export function duration(seconds) {
  if (seconds < 60) return `${Math.round(seconds)} s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ${Math.round(seconds % 60)} s`;
  if (seconds < 86400) return `${Math.floor(seconds / 3600)} h ${Math.floor((seconds % 3600) / 60)} min`;
  return `${Math.floor(seconds / 86400)} d ${Math.floor((seconds % 86400) / 3600)} h`;
}

function csrfToken() {
  const match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
  return match ? decodeURIComponent(match[1]) : "";
}

// Runs fn at most once per `ms`; calls in between are folded into one trailing run.
export function coalesce(fn, ms) {
  let timer = null;
  let last = 0;
  return () => {
    if (timer) return;
    const wait = Math.max(0, last + ms - Date.now());
    timer = setTimeout(() => {
      timer = null;
      last = Date.now();
      fn();
    }, wait);
  };
}

/* One API call: {ok, status, data, error}; never throws. */
export async function api(path, { method = "GET", body, timeoutMs = 20000 } = {}) {
  const headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (method !== "GET" && method !== "HEAD") headers["X-CSRFToken"] = csrfToken();
  // A hung endpoint must not leave a panel waiting for ever.
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), timeoutMs);
  let response;
  try {
    response = await fetch(path, {
      method,
      headers,
      credentials: "same-origin",
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: abort.signal,
    });
  } catch {
    const error = abort.signal.aborted ? `no answer within ${timeoutMs / 1000} s` : "server not answering";
    return { ok: false, status: 0, data: null, error };
  } finally {
    clearTimeout(timer);
  }
  const isJson = (response.headers.get("Content-Type") || "").includes("json");
  const data = isJson ? await response.json().catch(() => null) : null;
  if (response.status === 401 || (response.status === 403 && data && /credentials/i.test(data.error || data.detail || ""))) {
    // The session ended (logged out elsewhere, or expired): back to the login page.
    window.location.assign("/accounts/login/?next=/");
  }
  return {
    ok: response.ok,
    status: response.status,
    data,
    error: (data && (data.error || data.detail)) || (response.ok ? null : `HTTP ${response.status}`),
  };
}

function cell(value) {
  if (value === null || value === undefined) return "–";
  if (typeof value === "number") return fmt(Math.round(value * 1000) / 1000);
  if (typeof value === "object") return JSON.stringify(value);
  return String(value);
}

/* Rows (a list of objects, columns in `columns` order) or one object (two columns) into a table. */
export function fillTable(table, rows, { columns, empty = "nothing yet" } = {}) {
  const tbody = table.tBodies[0] || table.appendChild(el("tbody"));
  tbody.replaceChildren();
  if (!Array.isArray(rows)) {
    for (const [key, value] of Object.entries(rows || {})) {
      tbody.append(el("tr", {}, el("th", { text: humanize(key) }), el("td", { text: cell(value) })));
    }
    return;
  }
  if (!rows.length) {
    tbody.append(el("tr", {}, el("td", { class: "muted", text: empty })));
    return;
  }
  const keys = columns || [...new Set(rows.flatMap((row) => Object.keys(row)))].slice(0, 8);
  tbody.append(el("tr", {}, keys.map((c) => el("th", { text: humanize(c) }))));
  rows.slice(0, 50).forEach((row) => tbody.append(el("tr", {}, keys.map((c) => el("td", { text: cell(row[c]) })))));
}
