/* Active Connected Devices: online counts per site (liveness), events (alerts
 * and devices or sites falling silent), the stored-message rate measured by the
 * server, and a device drill-down over 15 min, 1 h (raw), 24 h and 7 d (rollups). */
import { $, api, cfg, clock, coalesce, el, fmt, results } from "../lib.js";
import { showPanel } from "../tabs.js";

const totals = { received: 0, stored: 0, dead: 0 };
const hasChart = typeof window.Chart === "function";
const timeAxis = { type: "linear", ticks: { callback: (v) => clock(v), maxTicksLimit: 6 } };
const palette = ["#4472c4", "#ed7d31", "#00b050", "#c0392b", "#7030a0", "#2e9fa6", "#a5a5a5"];
let rateChart = null;
let deviceChart = null;
let openDeviceId = null;
let eventCount = 0;

// --- per-site table and the totals -------------------------------------------------
export async function loadDevices() {
  const r = await api("/api/sites");
  if (!r.ok) return;
  const sites = results(r.data);
  const types = Object.keys(cfg.deviceTypes);
  const onlineByType = Object.fromEntries(types.map((t) => [t, 0]));
  let online = 0;
  let seen = 0;
  const rows = sites.map((site) => {
    online += site.online;
    seen += site.devices;
    types.forEach((t) => (onlineByType[t] += (site.online_by_type || {})[t] || 0));
    const silent = site.devices > 0 && site.online === 0;
    return el(
      "tr",
      { class: silent ? "silent" : "" },
      el("td", { text: site.site_id }),
      el("td", { class: "num", text: fmt(site.online) }),
      el("td", { class: `num ${site.offline ? "alert" : ""}`, text: silent ? `${fmt(site.offline)} (site silent)` : fmt(site.offline) }),
      el("td", { class: "num", text: fmt(site.ok) }),
      el("td", { class: `num ${site.warn ? "warn" : ""}`, text: fmt(site.warn) }),
      el("td", { class: `num ${site.alert ? "alert" : ""}`, text: fmt(site.alert) }),
      // Per type: online of seen.
      types.map((t) => el("td", { class: "num", text: `${fmt((site.online_by_type || {})[t] || 0)} / ${fmt((site.by_type || {})[t] || 0)}` })),
    );
  });
  if (!rows.length) {
    rows.push(el("tr", {}, el("td", { colspan: 6 + types.length, class: "muted", text: "No device has reported yet: make run starts the device simulator (manage.py simulate_devices)." })));
  }
  $("sites-table").tBodies[0].replaceChildren(...rows);
  $("devices-total").textContent = `${fmt(online)} online now, of ${fmt(seen)} seen`;
  $("sensors-total").textContent = fmt(types.reduce((sum, t) => sum + onlineByType[t] * cfg.deviceTypes[t].metrics, 0));
  $("devices-by-type").textContent = types.map((t) => `${cfg.deviceTypes[t].label}: ${fmt(onlineByType[t])}`).join(", ");
  loadDeviceList();
}
export const loadDevicesSoon = coalesce(loadDevices, 2000);

async function loadDeviceList() {
  const params = new URLSearchParams([...new FormData($("device-filter"))].filter(([, v]) => v));
  params.set("page_size", "50");
  const r = await api(`/api/devices?${params}`);
  const list = $("device-list");
  if (!r.ok) {
    list.replaceChildren(el("li", { class: "muted", text: `Devices not available: ${r.error}` }));
    return;
  }
  const rows = results(r.data);
  list.replaceChildren(
    ...rows.map((d) =>
      el(
        "li",
        {},
        el(
          "button",
          { type: "button", onclick: () => openDevice(d.device_id) },
          el("span", { class: `dot ${d.online ? "on" : "off"}`, title: d.online ? "online" : "offline" }),
          ` ${d.device_id} · ${d.site_id} · ${(cfg.deviceTypes[d.device_type] || {}).label || d.device_type} · `,
          el("span", { class: `state ${d.state}`, text: d.state }),
          d.online ? "" : el("span", { class: "meta", text: ` offline, last seen ${(d.last_seen || "").slice(11, 19)} UTC` }),
        ),
      ),
    ),
  );
  if (!rows.length) list.append(el("li", { class: "muted", text: "No device matches these filters." }));
  else if (r.data.count > rows.length) list.append(el("li", { class: "muted", text: `first ${rows.length} of ${fmt(r.data.count)}` }));
}

// --- events: alerts as they happen, devices and sites falling silent ----------------
function addEvent(kind, text, deviceId) {
  const list = $("alerts");
  if (!eventCount) list.replaceChildren();
  eventCount += 1;
  const props = deviceId ? { class: kind, title: "Show this device's telemetry", onclick: () => openDevice(deviceId) } : { class: kind };
  list.prepend(el("li", props, el("span", { class: `state ${kind}`, text: kind }), ` ${text} `, el("span", { class: "meta", text: clock(Date.now()) })));
  while (list.children.length > 100) list.lastChild.remove();
}

function onAlert(a) {
  if (a.state === "OK") return;
  addEvent(a.state, `${a.device_id} · ${a.site_id} · ${a.device_type} · ${a.code || ""} ${a.message || ""}`, a.device_id);
}

function onLiveness(ev) {
  (ev.silent_sites || []).forEach((site) => addEvent("OFFLINE", `site ${site}: every device is silent`));
  (ev.offline || []).forEach((d) => addEvent("OFFLINE", `${d.device_id} · ${d.site_id} · silent since ${d.last_seen.slice(11, 19)} UTC`, d.device_id));
  const more = (ev.offline_count || 0) - (ev.offline || []).length;
  if (more > 0) addEvent("OFFLINE", `and ${fmt(more)} more devices went silent`);
  loadDevicesSoon();
}

export function onTelemetry(ev) {
  totals.received += ev.received || 0;
  totals.stored += ev.stored || 0;
  totals.dead += ev.dead_lettered || 0;
  $("msgs-received").textContent = fmt(totals.received);
  $("msgs-stored").textContent = fmt(totals.stored);
  $("msgs-dead").textContent = fmt(totals.dead);
  $("msgs-last").textContent = `${clock(Date.now())} UTC`;
  (ev.alerts || []).forEach(onAlert);
  if (ev.liveness) onLiveness(ev.liveness);
  loadDevicesSoon();
}

// --- the stored-message rate, counted by the server in fixed 5 s buckets -----------------
async function loadRate() {
  const r = await api("/api/telemetry/rate?minutes=10&bucket_s=5");
  if (!r.ok || !r.data) return;
  const points = r.data.points.map((p) => ({ x: Date.parse(p.t), y: p.per_s }));
  const x = { ...timeAxis, min: Date.parse(r.data.start), max: Date.parse(r.data.end) };
  const last = r.data.points[r.data.points.length - 1];
  $("rate-now").textContent = last ? `${fmt(last.per_s)} messages/s stored (${clock(Date.parse(last.t))}–${clock(Date.parse(last.t) + r.data.bucket_s * 1000)} UTC)` : "–";
  if (!hasChart) return;
  if (!rateChart) {
    rateChart = new window.Chart($("rate-chart"), {
      type: "line",
      data: { datasets: [{ label: "messages/s stored", data: points, borderColor: "#4472c4", backgroundColor: "rgba(68,114,196,.15)", fill: true, pointRadius: 0, stepped: true }] },
      options: {
        animation: false,
        responsive: true,
        maintainAspectRatio: false,
        scales: { x, y: { beginAtZero: true, title: { display: true, text: "stored/s (5 s buckets)" } } },
        plugins: { legend: { display: false } },
      },
    });
  } else {
    rateChart.data.datasets[0].data = points;
    rateChart.options.scales.x = x;
    rateChart.update("none");
  }
}

// --- the drill-down ---------------------------------------------------------------------
export async function openDevice(deviceId, range, { refresh = false } = {}) {
  openDeviceId = deviceId;
  if (!refresh) showPanel("devices");
  const selected = range || $("range-buttons").dataset.range || "15m";
  $("range-buttons").dataset.range = selected;
  document.querySelectorAll("#range-buttons button").forEach((b) => b.setAttribute("aria-pressed", String(b.dataset.range === selected)));
  $("device-detail").hidden = false;
  $("detail-device").textContent = deviceId;
  if (!refresh) $("detail-meta").textContent = "loading…";
  const [series, device] = await Promise.all([
    api(`/api/devices/${encodeURIComponent(deviceId)}/series?range=${selected}`),
    api(`/api/devices/${encodeURIComponent(deviceId)}`),
  ]);
  if (deviceId !== openDeviceId) return; // another device was opened meanwhile
  if (!series.ok) {
    $("detail-meta").textContent = `No telemetry: ${series.error}`;
    return;
  }
  const points = series.data.points;
  const d = device.data || {};
  const liveness = device.ok ? `${d.online ? "online" : "offline"}, last seen ${(d.last_seen || "").slice(0, 19).replace("T", " ")} UTC · state ${d.state}` : "";
  $("detail-meta").textContent = points.length
    ? `${fmt(points.length)} ${points.length === 1 ? "point" : "points"} over the last ${selected}, from ${series.data.source_label} · ${liveness}`
    : `No reading in the last ${selected} (${series.data.source_label}) · ${liveness}`;
  $("detail-meta").dataset.source = series.data.source;
  $("detail-meta").dataset.points = String(points.length);
  if (!hasChart) return;
  const metrics = [...new Set(points.flatMap((p) => Object.keys(p.metrics)))];
  const datasets = metrics.map((m, i) => ({
    label: m,
    data: points.map((p) => ({ x: Date.parse(p.t), y: p.metrics[m] })).filter((p) => typeof p.y === "number"),
    borderColor: palette[i % palette.length],
    pointRadius: points.length > 60 ? 0 : 2,
    tension: 0.2,
  }));
  // The axis spans the whole range asked for, so a sparse device looks sparse.
  const x = {
    type: "linear",
    min: Date.parse(series.data.start),
    max: Date.parse(series.data.end),
    ticks: { callback: (v) => (selected === "7d" ? new Date(v).toISOString().slice(5, 13).replace("T", " ") + "h" : clock(v).slice(0, 5)), maxTicksLimit: 8 },
  };
  if (deviceChart) deviceChart.destroy();
  deviceChart = new window.Chart($("device-chart"), {
    type: "line",
    data: { datasets },
    options: { animation: false, responsive: true, maintainAspectRatio: false, scales: { x }, plugins: { legend: { position: "bottom" } } },
  });
  if (!refresh) $("device-detail").scrollIntoView({ block: "nearest" });
}

export function initDevices() {
  $("device-filter").addEventListener("change", loadDeviceList);
  $("detail-close").addEventListener("click", () => {
    $("device-detail").hidden = true;
    openDeviceId = null;
  });
  document.querySelectorAll("#range-buttons button").forEach((b) =>
    b.addEventListener("click", () => openDeviceId && openDevice(openDeviceId, b.dataset.range)),
  );
  loadRate();
  setInterval(loadRate, 5000);
  // The open chart follows new readings (and rollups) without a click.
  setInterval(() => {
    if (openDeviceId && !document.hidden && $("panel-devices").classList.contains("active")) openDevice(openDeviceId, null, { refresh: true });
  }, 10000);
}
