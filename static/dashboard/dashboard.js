/* Tier-0 dashboard: fills the server-rendered panels from the REST API and
 * keeps them live from one websocket (/ws/live/) that relays the pipelines'
 * coalesced channel-layer events (telemetry.update, sessions.update,
 * failover.progress, images.update).
 *
 * A panel whose API is not there yet (the route answers a non-JSON 404) says
 * so and is retried every few seconds, so it lights up once its pipeline lands.
 * Data is always put into the page with textContent, never as HTML.
 */
(() => {
  "use strict";

  const cfg = JSON.parse(document.getElementById("dashboard-config").textContent);
  const $ = (id) => document.getElementById(id);
  const unavailable = new Set();
  const RETRY_MS = 10000;

  // --- small helpers ---------------------------------------------------------
  function el(tag, props, ...children) {
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
  function setChildren(node, ...children) {
    node.replaceChildren(...children.flat().filter((c) => c !== null && c !== undefined && c !== false && c !== ""));
  }

  function pick(obj, keys) {
    if (!obj || typeof obj !== "object") return undefined;
    for (const key of keys) if (obj[key] !== undefined && obj[key] !== null) return obj[key];
    return undefined;
  }

  function results(data) {
    if (Array.isArray(data)) return data;
    if (data && Array.isArray(data.results)) return data.results;
    return [];
  }

  function fmt(n) {
    return typeof n === "number" ? n.toLocaleString("en-US") : n === undefined || n === null ? "–" : String(n);
  }

  function humanize(key) {
    return String(key).replace(/_/g, " ").replace(/^\w/, (c) => c.toUpperCase());
  }

  function clock(ms) {
    return new Date(ms).toISOString().slice(11, 19);
  }

  function csrfToken() {
    const match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
    return match ? decodeURIComponent(match[1]) : "";
  }

  // Runs fn at most once per `ms`; calls in between are folded into one trailing run.
  function coalesce(fn, ms) {
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

  /* One API call. `missing` means the route itself does not exist (Django's
   * HTML 404), as opposed to a JSON 404 about one object. */
  async function api(path, { method = "GET", body, timeoutMs = 20000 } = {}) {
    const headers = { Accept: "application/json" };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    if (method !== "GET" && method !== "HEAD") headers["X-CSRFToken"] = csrfToken();
    let response;
    // A hung endpoint must not leave a panel waiting for ever.
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(), timeoutMs);
    try {
      response = await fetch(path, {
        method,
        headers,
        credentials: "same-origin",
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: abort.signal,
      });
    } catch (error) {
      const error_ = abort.signal.aborted ? `no answer within ${timeoutMs / 1000} s` : "server not answering";
      return { ok: false, status: 0, data: null, missing: false, error: error_ };
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
      missing: response.status === 404 && !isJson,
      error: (data && (data.error || data.detail)) || (response.ok ? null : `HTTP ${response.status}`),
    };
  }

  function setAvailable(key, available) {
    if (available) unavailable.delete(key);
    else unavailable.add(key);
    document.querySelectorAll(`[data-unavailable="${key}"]`).forEach((n) => (n.hidden = available));
    document.querySelectorAll(`[data-requires="${key}"]`).forEach((n) => (n.hidden = !available));
  }

  function fillTable(table, rows) {
    const tbody = table.tBodies[0] || table.appendChild(el("tbody"));
    tbody.replaceChildren();
    if (Array.isArray(rows)) {
      if (!rows.length) {
        tbody.append(el("tr", {}, el("td", { class: "muted", text: "nothing yet" })));
        return;
      }
      const columns = [...new Set(rows.flatMap((row) => (row && typeof row === "object" ? Object.keys(row) : [])))].slice(0, 8);
      tbody.append(el("tr", {}, columns.map((c) => el("th", { text: humanize(c) }))));
      rows.slice(0, 50).forEach((row) =>
        tbody.append(el("tr", {}, columns.map((c) => el("td", { text: cell(row[c]) })))),
      );
      return;
    }
    for (const [key, value] of Object.entries(rows || {})) {
      tbody.append(el("tr", {}, el("th", { text: humanize(key) }), el("td", { text: cell(value) })));
    }
  }

  function cell(value) {
    if (value === null || value === undefined) return "–";
    if (typeof value === "number") return fmt(Math.round(value * 1000) / 1000);
    if (typeof value === "object") return JSON.stringify(value);
    return String(value);
  }

  // --- tabs -------------------------------------------------------------------
  const tabs = [...document.querySelectorAll(".tab")];
  function selectPanel(key) {
    if (!tabs.some((t) => t.dataset.panel === key)) key = tabs[0].dataset.panel;
    tabs.forEach((t) => t.setAttribute("aria-selected", String(t.dataset.panel === key)));
    document.querySelectorAll(".panel").forEach((p) => (p.hidden = p.dataset.panel !== key));
    if (window.location.hash !== `#${key}`) history.replaceState(null, "", `#${key}`);
  }
  tabs.forEach((t) => t.addEventListener("click", () => selectPanel(t.dataset.panel)));
  selectPanel(window.location.hash.slice(1));

  // --- application status and version ------------------------------------------
  let appStatus = $("app-status").textContent;
  const statusListeners = [];

  async function loadHealth() {
    const r = await api("/api/health");
    let text;
    if (r.status === 0) text = "Stopped (server not answering)";
    else if (r.data && r.data.status === "ok") text = "Live";
    else if (r.data) text = `Degraded (failing: ${(r.data.failing || []).join(", ") || "unknown"})`;
    else text = `Stopped (HTTP ${r.status})`;
    $("app-status").textContent = text;
    $("app-status").className = text === "Live" ? "ok" : "bad";
    if (r.data && r.data.checks) {
      const tbody = $("health-table").tBodies[0];
      tbody.replaceChildren();
      for (const [name, check] of Object.entries(r.data.checks)) {
        tbody.append(
          el("tr", {}, el("td", { text: name }), el("td", { class: check.ok ? "" : "alert", text: check.ok ? "ok" : check.error || "failing" }), el("td", { text: `${check.ms} ms` })),
        );
      }
    }
    if (text !== appStatus) {
      appStatus = text;
      statusListeners.forEach((fn) => fn(text));
    }
  }

  let currentVersion = $("site-version").textContent;
  let currentRegion = $("site-region").textContent;
  async function loadVersion() {
    const r = await api("/api/version");
    if (!r.ok || !r.data) return;
    const changed = r.data.version !== currentVersion;
    currentVersion = r.data.version;
    currentRegion = r.data.region;
    $("site-version").textContent = r.data.version;
    $("site-region").textContent = r.data.region;
    $("version-checked").textContent = `${clock(Date.now())} UTC`;
    if ($("fo-version")) {
      if (changed) $("fo-version").textContent = `${$("fo-version").textContent} → ${r.data.version}`;
      updateFailoverTarget();
    }
    if (changed) statusListeners.forEach((fn) => fn("switch"));
  }
  const loadVersionSoon = coalesce(loadVersion, 500);

  // --- Site Active Users --------------------------------------------------------
  // The summary is the sessions pipeline's SRE_User value (Redis, else the database):
  // counts, by_status {status: n}, by_region {region: {status: n}}, users [...].
  async function loadUsers() {
    const r = await api("/api/users/summary");
    if (r.missing) return setAvailable("users", false);
    setAvailable("users", true);
    if (!r.ok || !r.data) {
      $("users-updated").textContent = `Summary not available: ${r.error}`;
      return;
    }
    await renderUsers(r.data);
  }

  function fillMatrix(table, rows) {
    // {row: {column: n}} as a grid; {key: n} as two columns.
    const entries = Object.entries(rows || {});
    if (!entries.some(([, v]) => v && typeof v === "object")) return fillTable(table, rows || {});
    const columns = [...new Set(entries.flatMap(([, v]) => Object.keys(v || {})))];
    const tbody = table.tBodies[0] || table.appendChild(el("tbody"));
    tbody.replaceChildren(el("tr", {}, el("th", { text: "" }), columns.map((c) => el("th", { text: humanize(c) }))));
    entries.forEach(([key, v]) => tbody.append(el("tr", {}, el("th", { text: key }), columns.map((c) => el("td", { text: fmt((v || {})[c] || 0) })))));
  }

  async function renderUsers(s) {
    $("users-concurrent").textContent = fmt(pick(s, ["concurrent_users", "number_of_concurrent_users", "concurrent", "active_users"]));
    $("users-sessions").textContent = fmt(pick(s, ["active_sessions", "number_of_active_sessions", "active_connections", "sessions"]));
    fillMatrix($("users-by-status"), pick(s, ["by_status", "status_counts", "statuses"]));
    fillMatrix($("users-by-region"), pick(s, ["by_region", "region_counts", "regions"]));
    const scalars = Object.fromEntries(Object.entries(s).filter(([, v]) => v === null || typeof v !== "object"));
    fillTable($("users-other").querySelector("table"), scalars);
    $("users-updated").textContent = `Updated ${clock(Date.now())} UTC${s.source ? ` from ${s.source}` : ""}`;

    let list = pick(s, ["users", "logged_on_users", "users_list", "user_list", "logged_on"]);
    if (!Array.isArray(list)) {
      // An older summary without the list: the login times come from the session list.
      const active = await api("/api/users?status=active&page_size=20");
      list = active.ok ? results(active.data) : [];
    }
    const total = pick(s, ["users_total"]) || list.length;
    const shown = list.slice(0, 20);
    const names = shown.map((u) => (typeof u === "object" ? pick(u, ["username", "user_id", "name"]) : u));
    $("users-list").textContent = names.length ? names.join(", ") + (total > names.length ? ` … (${fmt(total)} in all)` : "") : "nobody signed on";
    const since = shown
      .map((u) => {
        const start = Date.parse((u && pick(u, ["login_time", "online_since", "last_login"])) || "");
        if (!Number.isNaN(start)) return `${Math.max(0, Math.round((Date.now() - start) / 1000))} seconds`;
        const seconds = u && pick(u, ["online_seconds", "time_since_online_s"]);
        return typeof seconds === "number" ? `${seconds} seconds` : null;
      })
      .filter(Boolean);
    $("users-online").textContent = since.length ? since.join(", ") : "–";
  }
  const loadUsersSoon = coalesce(loadUsers, 1000);
  function onSessions(ev) {
    if (ev.summary && typeof ev.summary === "object") {
      setAvailable("users", true);
      renderUsers({ ...ev.summary, source: "live update" });
    } else loadUsersSoon();
  }

  if ($("traffic-btn")) {
    $("traffic-btn").addEventListener("click", async () => {
      $("traffic-btn").disabled = true;
      const r = await api("/dashboard/simulate-user-traffic", { method: "POST", body: { users: 100, messages: 2000 } });
      $("traffic-btn").disabled = false;
      $("traffic-status").textContent = r.ok
        ? `Simulating ${fmt(r.data.users)} users: ${fmt(r.data.messages)} events to ${r.data.queue} at up to ${fmt(r.data.rate)}/s; the figures above follow live.`
        : `Not started: ${r.error}`;
    });
  }

  // --- Active Connected Devices -------------------------------------------------
  const totals = { received: 0, stored: 0, dead: 0 };
  const hasChart = typeof window.Chart === "function";
  const timeAxis = { type: "linear", ticks: { callback: (v) => clock(v), maxTicksLimit: 6 } };
  const rateChart = hasChart
    ? new window.Chart($("rate-chart"), {
        type: "line",
        data: { datasets: [{ label: "messages/s", data: [], borderColor: "#4472c4", backgroundColor: "rgba(68,114,196,.15)", fill: true, pointRadius: 0, tension: 0.25 }] },
        options: {
          animation: false,
          responsive: true,
          maintainAspectRatio: false,
          scales: { x: timeAxis, y: { beginAtZero: true, title: { display: true, text: "messages/s" } } },
          plugins: { legend: { display: false } },
        },
      })
    : null;

  function onTelemetry(ev) {
    totals.received += ev.received || 0;
    totals.stored += ev.stored || 0;
    totals.dead += ev.dead_lettered || 0;
    $("msgs-received").textContent = fmt(totals.received);
    $("msgs-stored").textContent = fmt(totals.stored);
    $("msgs-dead").textContent = fmt(totals.dead);
    $("msgs-last").textContent = `${clock(Date.now())} UTC (${fmt(ev.rate_per_s)} messages/s)`;
    if (rateChart && typeof ev.rate_per_s === "number") {
      const points = rateChart.data.datasets[0].data;
      points.push({ x: Date.now(), y: ev.rate_per_s });
      while (points.length > 120) points.shift();
      rateChart.update("none");
    }
    (ev.alerts || []).forEach(addAlert);
    loadDevicesSoon();
  }

  let alertCount = 0;
  function addAlert(a) {
    if (a.state !== "WARN" && a.state !== "ALERT") return;
    const list = $("alerts");
    if (!alertCount) list.replaceChildren();
    alertCount += 1;
    const item = el(
      "li",
      { class: a.state, title: "Show this device's telemetry", onclick: () => openDevice(a.device_id) },
      el("span", { class: `state ${a.state}`, text: a.state }),
      ` ${a.device_id} · ${a.site_id} · ${a.device_type} · ${a.code || ""} ${a.message || ""} `,
      el("span", { class: "meta", text: (a.timestamp_utc || "").slice(11, 19) }),
    );
    list.prepend(item);
    while (list.children.length > 100) list.lastChild.remove();
  }

  async function loadDevices() {
    const r = await api("/api/sites");
    if (r.missing) return setAvailable("devices", false);
    setAvailable("devices", true);
    if (!r.ok) return;
    const sites = results(r.data);
    const tbody = $("sites-table").tBodies[0];
    tbody.replaceChildren();
    const types = Object.keys(cfg.deviceTypes);
    const byType = Object.fromEntries(types.map((t) => [t, 0]));
    let total = 0;
    for (const site of sites) {
      const devices = pick(site, ["devices", "total", "count"]) || 0;
      total += devices;
      const perType = site.by_type || {};
      types.forEach((t) => (byType[t] += perType[t] || 0));
      tbody.append(
        el(
          "tr",
          {},
          el("td", { text: site.site_id }),
          el("td", { text: fmt(devices) }),
          el("td", { text: fmt(pick(site, ["ok", "OK"]) || 0) }),
          el("td", { class: (pick(site, ["warn", "WARN"]) || 0) ? "warn" : "", text: fmt(pick(site, ["warn", "WARN"]) || 0) }),
          el("td", { class: (pick(site, ["alert", "ALERT"]) || 0) ? "alert" : "", text: fmt(pick(site, ["alert", "ALERT"]) || 0) }),
          types.map((t) => el("td", { text: fmt(perType[t] || 0) })),
        ),
      );
    }
    if (!sites.length) tbody.append(el("tr", {}, el("td", { colspan: 5 + types.length, class: "muted", text: "No device has reported yet." })));
    $("devices-total").textContent = fmt(total);
    $("sensors-total").textContent = fmt(types.reduce((sum, t) => sum + byType[t] * cfg.deviceTypes[t].metrics, 0));
    $("devices-by-type").textContent = types.map((t) => `${cfg.deviceTypes[t].label}: ${fmt(byType[t])}`).join(", ");
    loadDeviceList();
  }
  const loadDevicesSoon = coalesce(loadDevices, 2000);

  async function loadDeviceList() {
    const params = new URLSearchParams([...new FormData($("device-filter"))].filter(([, v]) => v));
    params.set("page_size", "50");
    const r = await api(`/api/devices?${params}`);
    const list = $("device-list");
    if (!r.ok) {
      list.replaceChildren(el("li", { class: "muted", text: r.missing ? "" : `Devices not available: ${r.error}` }));
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
            `${d.device_id} · ${d.site_id} · ${(cfg.deviceTypes[d.device_type] || {}).label || d.device_type} · `,
            el("span", { class: `state ${d.state}`, text: d.state }),
          ),
        ),
      ),
    );
    if (!rows.length) list.append(el("li", { class: "muted", text: "No device matches." }));
    else if (r.data.count > rows.length) list.append(el("li", { class: "muted", text: `first ${rows.length} of ${fmt(r.data.count)}` }));
  }
  $("device-filter").addEventListener("change", loadDeviceList);

  let deviceChart = null;
  let openDeviceId = null;
  async function openDevice(deviceId) {
    openDeviceId = deviceId;
    selectPanel("devices");
    $("device-detail").hidden = false;
    $("detail-device").textContent = deviceId;
    $("detail-meta").textContent = "loading…";
    const r = await api(`/api/devices/${encodeURIComponent(deviceId)}/telemetry?limit=300`);
    if (!r.ok) {
      $("detail-meta").textContent = r.missing ? "The telemetry API is not available yet." : `No telemetry: ${r.error}`;
      return;
    }
    const readings = results(r.data).slice().reverse();
    const metrics = [...new Set(readings.flatMap((x) => Object.keys(x.metrics || {})))];
    const palette = ["#4472c4", "#ed7d31", "#00b050", "#c0392b", "#7030a0", "#2e9fa6", "#a5a5a5"];
    const datasets = metrics.map((m, i) => ({
      label: m,
      data: readings.map((x) => ({ x: Date.parse(x.timestamp_utc), y: (x.metrics || {})[m] })).filter((p) => typeof p.y === "number"),
      borderColor: palette[i % palette.length],
      pointRadius: readings.length > 60 ? 0 : 2,
      tension: 0.2,
      yAxisID: "y",
    }));
    const last = readings[readings.length - 1];
    $("detail-meta").textContent = readings.length
      ? `${readings.length} readings, latest ${last.timestamp_utc} (${(last.status && last.status.state) || ""} ${(last.status && last.status.message) || ""})`
      : "No reading stored for this device yet.";
    if (!hasChart) return;
    if (deviceChart) deviceChart.destroy();
    deviceChart = new window.Chart($("device-chart"), {
      type: "line",
      data: { datasets },
      options: { animation: false, responsive: true, maintainAspectRatio: false, scales: { x: timeAxis }, plugins: { legend: { position: "bottom" } } },
    });
    $("device-detail").scrollIntoView({ behavior: "smooth", block: "nearest" });
  }
  $("detail-close").addEventListener("click", () => {
    $("device-detail").hidden = true;
    openDeviceId = null;
  });

  // --- Site Image Intelligence ---------------------------------------------------
  function imageUrl(item) {
    return pick(item, ["thumbnail_url", "thumbnail", "image_url", "url"]);
  }

  function badge(flag, yes, no) {
    if (flag === true) return el("span", { class: "badge yes", text: `✓ ${yes}` });
    if (flag === false) return el("span", { class: "badge no", text: `✗ ${no}` });
    return null;
  }

  function imageCard(item) {
    const c = item.safety_compliance || item;
    const score = c.compliance_score;
    const scoreBadge =
      score === null || score === undefined
        ? el("span", { class: "badge", text: "No people in view" })
        : el("span", { class: `badge ${score >= 70 ? "score-high" : score >= 40 ? "score-mid" : "score-low"}`, text: `Compliance ${Math.round(score)}%` });
    const persons = pick(item, ["persons", "person_count", "people"]);
    const personCount = Array.isArray(persons) ? persons.length : persons;
    return el(
      "figure",
      { class: "card", dataset: { imageId: item.id } },
      el("img", { src: imageUrl(item) || "", alt: item.description || item.filename || "site image", loading: "lazy" }),
      el(
        "figcaption",
        { class: "body" },
        el("strong", { text: item.filename || `image ${item.id}` }),
        el("div", { class: "meta", text: `${item.site_id || "?"} · ${(cfg.deviceTypes[item.device_type] || {}).label || item.device_type || ""}${personCount !== undefined ? ` · ${personCount} ${personCount === 1 ? "person" : "people"}` : ""}` }),
        el(
          "div",
          { class: "badges" },
          scoreBadge,
          badge(c.has_hard_hat, "Hard hat", "No hard hat"),
          badge(c.has_safety_vest, "Vest", "No vest"),
          badge(c.has_inspection_equipment, "Equipment", "No equipment"),
          item.reviewed ? el("span", { class: "badge", text: "reviewed" }) : null,
        ),
      ),
    );
  }

  async function loadGallery() {
    const params = new URLSearchParams([...new FormData($("image-filter"))].filter(([, v]) => v));
    params.set("page_size", "48");
    const r = await api(`/api/images?${params}`);
    if (r.missing) return setAvailable("images", false);
    setAvailable("images", true);
    const gallery = $("gallery");
    if (!r.ok) {
      gallery.replaceChildren(el("p", { class: "form-error", text: `Images not available: ${r.error}` }));
      return;
    }
    let items = results(r.data);
    // List rows may leave the picture URLs to the detail view.
    if (items.some((i) => !imageUrl(i) && i.id !== undefined)) {
      items = await Promise.all(
        items.map(async (i) => (imageUrl(i) || i.id === undefined ? i : { ...i, ...((await api(`/api/images/${i.id}`)).data || {}) })),
      );
    }
    gallery.replaceChildren(...items.map(imageCard));
    if (!items.length) gallery.append(el("p", { class: "muted", text: "No image matches these filters." }));
    const summary = await api("/api/images/summary");
    if (summary.ok && summary.data) renderImageSummary(summary.data);
  }
  function renderImageSummary(data) {
    // {by_site: [...], by_device_type: [...], ...}: one table per list; a bare list: one table.
    const box = $("images-summary").querySelector(".table-scroll");
    const sections = Array.isArray(data) ? { summary: data } : Object.fromEntries(Object.entries(data).filter(([, v]) => Array.isArray(v)));
    const preferred = ["by_site", "by_device_type", "summary", "results"];
    const keys = Object.keys(sections).sort((a, b) => (preferred.indexOf(a) + 1 || 99) - (preferred.indexOf(b) + 1 || 99));
    box.replaceChildren(
      ...keys.flatMap((key) => {
        const table = el("table", { class: "grid" });
        fillTable(table, sections[key]);
        return [el("h4", { text: humanize(key) }), table];
      }),
    );
  }
  const loadGallerySoon = coalesce(loadGallery, 2000);
  $("image-filter").addEventListener("change", loadGallery);

  $("wordcloud-btn").addEventListener("click", async () => {
    const site = $("wordcloud-site").value;
    const caption = $("wordcloud-caption");
    $("wordcloud-figure").hidden = false;
    caption.textContent = "drawing…";
    let response;
    try {
      response = await fetch(`/api/images/wordcloud${site ? `?site_id=${encodeURIComponent(site)}` : ""}`, { credentials: "same-origin" });
    } catch (error) {
      caption.textContent = "The server is not answering.";
      return;
    }
    if (!response.ok || !(response.headers.get("Content-Type") || "").startsWith("image/")) {
      const body = (response.headers.get("Content-Type") || "").includes("json") ? await response.json().catch(() => ({})) : {};
      $("wordcloud-img").removeAttribute("src");
      caption.textContent = response.status === 404 && !body.error ? "The word cloud is not available yet." : `No word cloud: ${body.error || `HTTP ${response.status}`}`;
      return;
    }
    const old = $("wordcloud-img").src;
    $("wordcloud-img").src = URL.createObjectURL(await response.blob());
    if (old.startsWith("blob:")) URL.revokeObjectURL(old);
    caption.textContent = `What the images of ${site || "all sites"} show`;
  });

  // --- Natural-language query (chat) ---------------------------------------------
  function renderSource(s) {
    if (s && s.document !== undefined) {
      return el("li", {}, el("strong", { text: s.document }), s.page !== undefined ? `, page ${s.page}` : "", s.snippet ? el("div", {}, el("q", { text: s.snippet })) : null);
    }
    if (s && s.image !== undefined) {
      const img = s.image;
      if (img && typeof img === "object") {
        const url = imageUrl(img);
        return el("li", {}, url ? el("img", { src: url, alt: img.filename || "image" }) : null, `image ${img.filename || img.id || ""} · ${img.site_id || ""} ${img.device_type || ""}`);
      }
      return el("li", {}, `image ${img}`);
    }
    if (s && s.query !== undefined) {
      return el("li", {}, "query: ", el("pre", { text: typeof s.query === "string" ? s.query : JSON.stringify(s.query, null, 1) }));
    }
    return el("li", { text: JSON.stringify(s) });
  }

  function renderData(data) {
    if (!data || (Array.isArray(data) && !data.length) || (typeof data === "object" && !Object.keys(data).length)) return null;
    if (typeof data !== "object") return el("p", { class: "meta", text: String(data) });
    const table = el("table", { class: "grid" });
    fillTable(table, Array.isArray(data) ? data.slice(0, 20) : data);
    return el("details", {}, el("summary", { text: "Data" }), el("div", { class: "table-scroll" }, table));
  }

  async function ask(question) {
    const log = $("chat-log");
    log.append(el("li", {}, el("div", { class: "bubble-q", text: question })));
    const answer = el("div", { class: "bubble-a", text: "Looking it up…" });
    log.append(el("li", {}, answer));
    answer.scrollIntoView({ block: "nearest" });
    $("chat-send").disabled = true;
    const r = await api("/api/query", { method: "POST", body: { question }, timeoutMs: 90000 });
    $("chat-send").disabled = false;
    if (r.missing) {
      setAvailable("query", false);
      answer.className = "bubble-a error";
      answer.textContent = "The query pipeline is not available yet.";
      return;
    }
    setAvailable("query", true);
    if (!r.ok || !r.data) {
      answer.className = "bubble-a error";
      answer.textContent = `No answer: ${r.error}`;
      return;
    }
    const d = r.data;
    const sources = Array.isArray(d.sources) ? d.sources : [];
    setChildren(
      answer,
      el("div", { class: "meta", text: `${d.type || "answer"} · ${d.provider || "?"} · ${d.synthesized ? "synthesized" : "extractive"}` }),
      el("div", { class: "answer", text: d.answer || "(empty answer)" }),
      sources.length ? el("div", { class: "meta", text: `Sources (${sources.length})` }) : el("div", { class: "meta", text: "No source." }),
      sources.length ? el("ol", { class: "sources" }, sources.slice(0, 20).map(renderSource)) : null,
      renderData(d.data),
    );
    answer.scrollIntoView({ block: "nearest" });
  }

  $("chat-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const question = $("chat-input").value.trim();
    if (!question) return;
    $("chat-input").value = "";
    ask(question);
  });
  document.querySelectorAll("button.prompt").forEach((b) =>
    b.addEventListener("click", () => {
      $("chat-input").value = b.textContent;
      $("chat-form").requestSubmit();
    }),
  );

  async function probeQuery() {
    // OPTIONS tells whether the route exists without asking a question.
    const r = await api("/api/query", { method: "OPTIONS" });
    setAvailable("query", !r.missing);
  }

  // --- Simulate Failover (staff) -----------------------------------------------------
  const isStaffPanel = Boolean($("panel-failover"));
  let failoverTrail = null;
  let failoverStarted = 0;
  let failoverSteps = new Map();

  function updateFailoverTarget() {
    if (!isStaffPanel) return;
    const others = cfg.regions.filter((r) => r !== currentRegion);
    $("fo-target").textContent = others[0] || "";
    $("fo-confirm-target").textContent = others[0] || "";
  }

  async function loadFailover() {
    if (!isStaffPanel) return;
    const r = await api("/api/failover/status");
    if (r.missing) return setAvailable("failover", false);
    setAvailable("failover", true);
    if (!r.ok) {
      $("fo-current").textContent = `Failover status not available: ${r.error}`;
      return;
    }
    const d = r.data || {};
    const region = pick(d, ["current_region", "active_region", "region"]);
    if (region && typeof region === "string") currentRegion = region;
    updateFailoverTarget();
    const nodes = Array.isArray(d.nodes) ? d.nodes : [];
    $("fo-current").textContent =
      `Serving region: ${region || "?"}` +
      (d.redis_master ? ` · Redis master: ${d.redis_master}` : "") +
      (nodes.length ? "" : d.topology ? ` · ${d.topology}` : "");
    fillTable(
      $("fo-nodes"),
      nodes.map((n) => ({
        region: n.region,
        role: !n.reachable ? "unreachable" : n.in_recovery ? "replica" : n.read_only ? "fenced" : "primary",
        port: n.port,
        wal_lsn: n.wal_lsn,
        replay_delay_s: n.replay_delay_s,
        error: n.error || "",
      })),
    );
    const history = await api("/api/failover/history");
    if (history.ok) fillTable($("fo-history").querySelector("table"), results(history.data));
  }

  function trail(text) {
    if (!failoverTrail || failoverTrail[failoverTrail.length - 1] === text) return;
    failoverTrail.push(text);
    $("fo-status-trail").textContent = failoverTrail.join(" … ");
  }
  statusListeners.push((text) => trail(text === "switch" ? "switch" : text.split(" (")[0]));

  function seconds(ev) {
    const s = pick(ev, ["duration_s", "seconds", "elapsed_s"]);
    if (typeof s === "number") return s;
    const ms = pick(ev, ["duration_ms", "elapsed_ms"]);
    return typeof ms === "number" ? ms / 1000 : null;
  }

  function showStep(ev) {
    if (!isStaffPanel) return;
    const name = pick(ev, ["step", "name", "stage"]);
    if (!name) return;
    let status = pick(ev, ["status", "state", "result"]) || "";
    const secs = seconds(ev);
    if (!status && typeof ev.ok === "boolean") status = ev.ok ? "done" : secs === null ? "running" : "failed";
    let item = failoverSteps.get(name);
    if (!item) {
      item = el("li", { dataset: { step: name } });
      failoverSteps.set(name, item);
      $("fo-steps").append(item);
    }
    const failed = /fail|error|refused/i.test(status);
    item.className = failed ? "failed" : "";
    setChildren(
      item,
      el("strong", { text: humanize(name) }),
      status ? ` ${status}` : "",
      secs !== null ? el("span", { class: "dur", text: `${secs.toFixed(3)} s` }) : null,
      ev.message || ev.detail ? el("div", { class: "meta", text: ev.message || ev.detail }) : null,
    );
  }

  // A progress message may carry every step so far ({steps: [{name, seconds, ok, detail}]}) or one step.
  function showProgress(ev) {
    if (Array.isArray(ev.steps)) ev.steps.forEach(showStep);
    else if (ev.steps && typeof ev.steps === "object") {
      Object.entries(ev.steps).forEach(([name, v]) => showStep(typeof v === "number" ? { name, seconds: v, ok: true } : { name, ...v }));
    } else showStep(ev);
    if (ev.error) {
      const item = failoverSteps.get("__error") || el("li", { class: "failed" });
      failoverSteps.set("__error", item);
      item.textContent = `${humanize(ev.status || "error")}: ${ev.error}`;
      $("fo-steps").append(item);
    }
  }

  function finishFailover(ev) {
    const settle = () => trail(appStatus.split(" (")[0]);
    const total = pick(ev, ["total_s", "rto_s", "failover_time_s", "elapsed_s", "duration_s"]);
    if (typeof total === "number") $("fo-time").textContent = `${total.toFixed(3)} seconds`;
    else if (failoverStarted) $("fo-time").textContent = `${((performance.now() - failoverStarted) / 1000).toFixed(3)} seconds (measured in the browser)`;
    loadVersion().then(loadHealth).then(settle).then(loadFailover);
  }

  function onFailover(ev) {
    loadVersionSoon();
    if (!isStaffPanel) return;
    if (!failoverTrail) {
      // A failover someone else started: follow it too.
      failoverTrail = [appStatus.split(" (")[0]];
      failoverSteps = new Map();
      $("fo-steps").replaceChildren();
    }
    showProgress(ev);
    const status = String(pick(ev, ["status", "state"]) || "");
    const step = String(pick(ev, ["step", "name"]) || "");
    if (ev.finished || ev.done || /^(done|complete|completed|finished)$/i.test(step) || (/^(completed|succeeded|failed|refused)$/i.test(status) && !step)) {
      finishFailover(ev);
    }
  }

  if (isStaffPanel) {
    $("fo-start").addEventListener("click", () => {
      updateFailoverTarget();
      $("fo-confirm").showModal();
    });
    $("fo-confirm").addEventListener("close", async () => {
      if ($("fo-confirm").returnValue !== "yes") return;
      const target = $("fo-target").textContent;
      failoverTrail = [appStatus.split(" (")[0]];
      $("fo-status-trail").textContent = failoverTrail[0];
      failoverSteps = new Map();
      $("fo-steps").replaceChildren();
      $("fo-time").textContent = "running…";
      $("fo-start").disabled = true;
      failoverStarted = performance.now();
      const poll = setInterval(loadHealth, 1000);
      const r = await api(`/api/failover/${encodeURIComponent(target)}`, { method: "POST", body: {}, timeoutMs: 180000 });
      clearInterval(poll);
      $("fo-start").disabled = false;
      if (r.missing) {
        setAvailable("failover", false);
        return;
      }
      if (!r.ok) {
        if (r.data && r.data.event) showProgress({ ...r.data.event, error: undefined });
        $("fo-steps").append(el("li", { class: "failed", text: `Not done: ${r.error}` }));
        $("fo-time").textContent = "–";
        loadFailover();
        return;
      }
      if (r.data) showProgress({ ...r.data, error: undefined });
      finishFailover(r.data || {});
    });
  }

  // --- the websocket ------------------------------------------------------------------
  let socket = null;
  let attempts = 0;
  let everOpened = false;
  let connects = 0;
  function setLink(state, text) {
    $("live-link").dataset.state = state;
    $("live-link").textContent = text;
  }

  function connect() {
    const scheme = window.location.protocol === "https:" ? "wss" : "ws";
    socket = new WebSocket(`${scheme}://${window.location.host}${cfg.wsPath}`);
    socket.addEventListener("open", () => {
      attempts = 0;
      connects += 1;
      setLink("open", "live");
      // Events sent while we were away are gone: read the current state again.
      if (everOpened) loadAll();
      everOpened = true;
    });
    socket.addEventListener("message", (message) => {
      let ev;
      try {
        ev = JSON.parse(message.data);
      } catch (error) {
        return;
      }
      if (ev.type === "telemetry.update") onTelemetry(ev);
      else if (ev.type === "sessions.update") onSessions(ev);
      else if (ev.type === "failover.progress") onFailover(ev);
      else if (ev.type === "images.update") loadGallerySoon();
      else if (ev.type === "hello") setLink("open", `live (${ev.groups.join(", ")})`);
    });
    socket.addEventListener("close", () => {
      attempts += 1;
      const delay = Math.min(10000, 500 * 2 ** Math.min(attempts, 5)) * (0.75 + Math.random() * 0.5);
      setLink("closed", `reconnecting in ${Math.round(delay / 1000)} s…`);
      setTimeout(connect, delay);
    });
  }
  setInterval(() => socket && socket.readyState === WebSocket.OPEN && socket.send(JSON.stringify({ type: "ping" })), 25000);

  function loadAll() {
    loadHealth();
    loadVersion();
    loadUsers();
    loadDevices();
    loadGallery();
    probeQuery();
    loadFailover();
  }

  const loaders = { users: loadUsers, devices: loadDevices, images: loadGallery, query: probeQuery, failover: loadFailover };
  setInterval(() => [...unavailable].forEach((key) => loaders[key] && loaders[key]()), RETRY_MS);
  setInterval(loadHealth, 10000);
  setInterval(loadVersion, 30000);
  // A slow safety net in case an event was missed; events drive the real updates.
  setInterval(() => {
    if (!unavailable.has("users")) loadUsers();
    if (!unavailable.has("devices")) loadDevices();
  }, 30000);

  updateFailoverTarget();
  loadAll();
  connect();
  window.tier0Dashboard = { openDevice, selectPanel, connects: () => connects };
})();
