/* Alarms view in the Active Connected Devices panel: active first, by severity,
 * filters by site, severity and state, grouped by site and rule (a site-wide
 * failure is one row that expands), counts per severity, and for staff the
 * acknowledge and silence buttons. Kept live by the "alarms.update" event. */
import { $, api, cfg, coalesce, el, fmt, results, setChildren } from "../lib.js";

const SEVERITIES = ["critical", "major", "warning"];
const STATES = [["active", "active"], ["active_unack", "active, unacknowledged"], ["cleared", "cleared"], ["", "all"]];
const view = { grouped: true, expanded: null };

function select(name, options) {
  return el("label", {}, `${name.replace("_id", "")} `,
    el("select", { name }, ...options.map(([value, label]) => el("option", { value, text: label }))));
}

export function initAlarms() {
  const anchor = $("sites-table").closest(".table-scroll");
  const block = el("div", { id: "alarms-view", class: "alarms-view", "data-testid": "alarms-view" },
    el("h3", {}, "Alarms ", el("span", { id: "alarm-counts", class: "def", "data-testid": "alarm-counts" })),
    el("form", { id: "alarm-filter", class: "filters" },
      select("site_id", [["", "all"], ...(cfg.sites || []).map((s) => [s, s])]),
      select("severity", [["", "all"], ...SEVERITIES.map((s) => [s, s])]),
      select("state", STATES),
      el("label", {}, el("input", { type: "checkbox", name: "grouped", checked: "checked" }), " grouped by site and rule")),
    el("div", { class: "table-scroll" }, el("table", { class: "grid", id: "alarms-table", "data-testid": "alarms-table" },
      el("thead", {}, el("tr", {})), el("tbody", {}))),
    el("p", { id: "alarms-note", class: "muted" }));
  anchor.after(block);
  const form = $("alarm-filter");
  form.state.value = "active";
  form.addEventListener("change", () => {
    view.grouped = form.grouped.checked;
    view.expanded = null;
    loadAlarms();
  });
  loadAlarms();
}

function query(extra = {}) {
  const form = $("alarm-filter");
  const params = new URLSearchParams({ page_size: "50" });
  for (const name of ["site_id", "severity", "state"]) if (form[name].value) params.set(name, form[name].value);
  for (const [k, v] of Object.entries(extra)) params.set(k, v);
  return params;
}

async function loadCounts() {
  const parts = await Promise.all(SEVERITIES.map((s) => api(`/api/alarms?state=active&severity=${s}&page_size=1`)));
  const counts = Object.fromEntries(SEVERITIES.map((s, i) => [s, parts[i].data ? parts[i].data.count : null]));
  setChildren($("alarm-counts"), SEVERITIES.map((s) => el("span", { class: `sev sev-${s}`, text: `${fmt(counts[s])} ${s} ` })));
  showHeaderCounts(counts);
}

/* The page header's badges: active alarms per severity (server-rendered, then from each event). */
export function showHeaderCounts(counts) {
  const header = document.getElementById("alarm-header");
  if (!header || !counts) return;
  for (const badge of header.querySelectorAll("[data-severity]")) {
    const n = counts[badge.dataset.severity];
    if (n === null || n === undefined) continue;
    badge.querySelector("b").textContent = fmt(n);
    badge.classList.toggle("on", n > 0);
  }
}

/* "alarms.update": the event carries the active counts per severity; the view re-reads the API. */
export function onAlarms(ev) {
  showHeaderCounts(ev.active);
  loadAlarmsSoon();
}

export async function loadAlarms() {
  loadCounts();
  const table = $("alarms-table");
  const head = view.grouped ? ["Site", "Rule", "Severity", "Active", "Unacknowledged", "Last"] : ["Device", "Site", "Rule", "Severity", "Status", "Count", "Detail", "Last", ""];
  setChildren(table.tHead.rows[0], head.map((h) => el("th", { text: h })));
  const r = await api(`/api/alarms?${query(view.grouped ? { group: "site_rule" } : {})}`);
  const rows = results(r.data);
  const body = view.grouped ? rows.flatMap(groupRows) : rows.map(alarmRow);
  setChildren(table.tBodies[0], body);
  $("alarms-note").textContent = r.ok ? (rows.length ? "" : "No alarm matches these filters. Rules: /admin/alarms/alarmrule/ or /api/alarm-rules.") : `Alarms unavailable (HTTP ${r.status}).`;
}
export const loadAlarmsSoon = coalesce(loadAlarms, 1000);

function groupRows(g) {
  const open = view.expanded && view.expanded.site === g.site_id && view.expanded.rule === g.rule_id;
  const row = el("tr", { class: `clickable sev-${g.severity}`, onclick: () => expand(g) },
    el("td", { text: `${open ? "▾" : "▸"} ${g.site_id}` }), el("td", { text: g.rule }), el("td", { text: g.severity }),
    el("td", { text: fmt(g.active) }), el("td", { text: fmt(g.unacknowledged) }), el("td", { text: (g.last_at || "").slice(0, 19) }));
  return open ? [row, el("tr", {}, el("td", { colspan: "6" }, el("div", { id: "alarm-group-detail" })))] : [row];
}

async function expand(g) {
  const same = view.expanded && view.expanded.site === g.site_id && view.expanded.rule === g.rule_id;
  view.expanded = same ? null : { site: g.site_id, rule: g.rule_id };
  await loadAlarms();
  if (!view.expanded) return;
  const r = await api(`/api/alarms?${query({ site_id: g.site_id, rule: String(g.rule_id) })}`);
  const target = $("alarm-group-detail");
  if (target) setChildren(target, el("table", { class: "grid" }, el("tbody", {}, results(r.data).map(alarmRow))));
}

function alarmRow(a) {
  const actions = [];
  if (cfg.staff && !a.acknowledged) actions.push(el("button", { type: "button", class: "btn btn-small", text: "Acknowledge", onclick: () => acknowledge(a) }));
  if (cfg.staff && a.active) actions.push(el("button", { type: "button", class: "btn btn-small", text: "Silence device 1 h", onclick: () => silence(a) }));
  return el("tr", { class: `sev-${a.severity}` }, el("td", { text: a.device_id }), el("td", { text: a.site_id }), el("td", { text: a.rule }),
    el("td", { text: a.severity }), el("td", { text: a.status.replace("_", ", ") }), el("td", { text: fmt(a.count) }),
    el("td", { text: a.detail }), el("td", { text: (a.last_at || "").slice(0, 19) }), el("td", {}, actions));
}

async function acknowledge(a) {
  const comment = window.prompt(`Acknowledge ${a.rule} on ${a.device_id}: comment`, "");
  if (comment === null) return;
  const r = await api(`/api/alarms/${a.id}/ack`, { method: "POST", body: { comment } });
  if (!r.ok) window.alert((r.data && r.data.error) || `HTTP ${r.status}`);
  loadAlarms();
}

async function silence(a) {
  const reason = window.prompt(`Silence ${a.device_id} for one hour: reason`, "maintenance");
  if (!reason) return;
  const now = new Date();
  const body = { device_id: a.device_id, reason, starts_at: now.toISOString(), ends_at: new Date(now.getTime() + 3600e3).toISOString() };
  const r = await api("/api/silences", { method: "POST", body });
  if (!r.ok) window.alert((r.data && r.data.error) || `HTTP ${r.status}`);
}
