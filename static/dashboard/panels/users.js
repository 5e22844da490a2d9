/* Site Active Users: the sessions pipeline's SRE_User summary (Redis, else the
 * database). Each number has one definition, printed beside it on the page:
 *   concurrent users = distinct users with a logged-on (active or idle) session;
 *   active sessions  = sessions whose status is active;
 *   logged-on sessions = active + idle sessions (the list below, oldest first). */
import { $, api, cfg, clock, coalesce, duration, el, fmt, humanize } from "../lib.js";

let summary = null;

export async function loadUsers() {
  const r = await api("/api/users/summary");
  if (!r.ok || !r.data) {
    $("users-updated").textContent = `Summary not available: ${r.error}`;
    return;
  }
  render(r.data);
}
export const loadUsersSoon = coalesce(loadUsers, 1000);

export function onSessions(ev) {
  if (ev.summary && typeof ev.summary === "object") render({ ...ev.summary, source: "live update" });
  else loadUsersSoon();
}

function matrix(table, rows) {
  // {row: {column: n}} as a grid.
  const entries = Object.entries(rows || {});
  const columns = [...new Set(entries.flatMap(([, v]) => Object.keys(v || {})))];
  const tbody = table.tBodies[0] || table.appendChild(el("tbody"));
  tbody.replaceChildren(el("tr", {}, el("th", { text: "Region" }), columns.map((c) => el("th", { text: humanize(c) }))));
  entries.forEach(([key, v]) => tbody.append(el("tr", {}, el("th", { text: key }), columns.map((c) => el("td", { text: fmt(v[c] || 0) })))));
  if (!entries.length) tbody.replaceChildren(el("tr", {}, el("td", { class: "muted", text: "No session yet." })));
}

function render(s) {
  summary = s;
  $("users-concurrent").textContent = fmt(s.concurrent_users);
  $("users-sessions").textContent = fmt(s.active_sessions);
  $("users-logged-on").textContent = fmt(s.users_total);
  const byStatus = s.by_status || {};
  $("users-by-status").textContent = Object.entries(byStatus)
    .map(([k, n]) => `${humanize(k)} ${fmt(n)}`)
    .join(" · ");
  matrix($("users-by-region"), s.by_region);
  $("users-updated").textContent = `Summary generated ${String(s.generated_at || "").slice(11, 19) || clock(Date.now())} UTC, read from ${s.source || "the API"}`;
  renderList();
}

// Online durations are computed here from each login time, so they stay true between summaries.
export function renderList() {
  if (!summary) return;
  const users = Array.isArray(summary.users) ? summary.users.slice(0, 20) : [];
  const tbody = $("users-table").tBodies[0];
  tbody.replaceChildren(
    ...users.map((u) => {
      const login = Date.parse(u.login_time || "");
      const online = Number.isNaN(login) ? u.online_seconds : (Date.now() - login) / 1000;
      return el(
        "tr",
        {},
        el("td", { text: u.username || u.user_id }),
        el("td", { text: u.site_id || "–" }),
        el("td", { text: u.region || "–" }),
        el("td", { text: humanize(u.connection_status || "") }),
        el("td", { class: "num", text: typeof online === "number" ? duration(Math.max(0, online)) : "–" }),
      );
    }),
  );
  if (!users.length) tbody.append(el("tr", {}, el("td", { colspan: 5, class: "muted", text: "Nobody is signed on. Start the user simulator (make run does) or press Simulate High User Traffic." })));
  const total = summary.users_total || 0;
  $("users-shown").textContent = total > users.length ? `The ${users.length} longest-online of ${fmt(total)} logged-on sessions.` : "";
}

export function initUsers() {
  if ($("traffic-btn")) {
    $("traffic-btn").addEventListener("click", async () => {
      $("traffic-btn").disabled = true;
      const r = await api(cfg.api.simulateUserTraffic, { method: "POST", body: { users: 100, messages: 2000 } });
      $("traffic-btn").disabled = false;
      $("traffic-status").textContent = r.ok
        ? `Simulating ${fmt(r.data.users)} users: ${fmt(r.data.messages)} events at up to ${fmt(r.data.rate)}/s; the figures above follow live.`
        : `Not started: ${r.error}`;
    });
  }
  setInterval(renderList, 1000);
}
