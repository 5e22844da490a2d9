/* Simulate Failover (staff only). Without the HA topology the status answers
 * {configured: false, hint}: the panel shows the hint and hides the button.
 * Progress events carry every step so far ({steps: [{name, seconds, ok, detail}]}). */
import { $, api, cfg, el, fillTable, humanize, results, setChildren } from "../lib.js";
import { loadHealth, loadVersion, state, statusListeners } from "./status.js";

const present = Boolean($("panel-failover"));
let trailItems = null;
let started = 0;
let steps = new Map();
let refusalShown = null;
let requestPending = false;

function target() {
  return cfg.regions.find((r) => r !== state.region) || "";
}

function updateTarget() {
  $("fo-target").textContent = target();
  $("fo-confirm-target").textContent = target();
}

export async function loadFailover() {
  if (!present) return;
  const r = await api("/api/failover/status", { timeoutMs: 5000 });
  if (!r.ok || !r.data) {
    $("fo-current").textContent = `Failover status not available: ${r.error}`;
    return;
  }
  const d = r.data;
  const nodes = Array.isArray(d.nodes) ? d.nodes : [];
  // Without the HA topology (configured: false, or no node layout) the status says how to start it.
  const usable = d.configured !== false && !(d.hint && !nodes.length);
  $("fo-hint").hidden = usable;
  $("fo-controls").hidden = !usable;
  if (!usable) {
    setChildren($("fo-hint-text"), withCode(d.hint || "The failover topology is not running."));
    return;
  }
  if (d.current_region) state.region = d.current_region;
  updateTarget();
  $("fo-nodes").hidden = !nodes.length;
  $("fo-current").textContent = `Serving region: ${d.current_region}` + (d.redis_master ? ` · Redis master: ${d.redis_master}` : "");
  // Ports are identifiers: printed as they are, never with thousands separators.
  fillTable(
    $("fo-nodes"),
    nodes.map((n) => ({ region: n.region, role: n.role, port: String(n.port), replay_delay_s: n.replay_delay_s, error: n.error || "" })),
    { columns: ["region", "role", "port", "replay_delay_s", "error"] },
  );
  const history = await api("/api/failover/history");
  if (history.ok) fillTable($("fo-history").querySelector("table"), results(history.data), { columns: ["started_at", "kind", "status", "source_region", "target_region", "total_s"] });
}

// `command` spans of a hint become <code>, the rest stays text.
function withCode(text) {
  return text.split("`").map((part, i) => (i % 2 ? el("code", { text: part }) : part));
}

function trail(text) {
  if (!trailItems || trailItems[trailItems.length - 1] === text) return;
  trailItems.push(text);
  $("fo-status-trail").textContent = trailItems.join(" … ");
}

function showStep(step) {
  let item = steps.get(step.name);
  if (!item) {
    item = el("li", { dataset: { step: step.name } });
    steps.set(step.name, item);
    $("fo-steps").append(item);
  }
  const status = step.seconds === null ? "running" : step.ok ? "done" : "failed";
  item.className = status === "failed" ? "failed" : "";
  setChildren(
    item,
    el("strong", { text: humanize(step.name) }),
    ` ${status}`,
    typeof step.seconds === "number" ? el("span", { class: "dur", text: `${step.seconds.toFixed(3)} s` }) : null,
    step.detail ? el("div", { class: "meta", text: step.detail }) : null,
  );
}

// One refusal or error is shown once, however many times it is reported (event, answer, status).
function showError(text) {
  if (!text || refusalShown === text) return;
  refusalShown = text;
  $("fo-steps").append(el("li", { class: "failed", text: `Not done: ${text}` }));
}

function showProgress(ev) {
  (ev.steps || []).forEach(showStep);
  if (ev.error) showError(ev.error);
}

function finish(ev) {
  // The request stays open while the old primary is rebuilt as the new standby.
  if (requestPending) $("fo-busy").textContent = "Failover done; rebuilding the old primary as the new standby (the button comes back when it is ready)…";
  if (typeof ev.total_s === "number") $("fo-time").textContent = `${ev.total_s.toFixed(3)} seconds`;
  else if (started) $("fo-time").textContent = `${((performance.now() - started) / 1000).toFixed(3)} seconds (measured in the browser)`;
  loadVersion()
    .then(loadHealth)
    .then(() => trail(state.appStatus.split(" (")[0]))
    .then(loadFailover);
}

function reset() {
  trailItems = [state.appStatus.split(" (")[0]];
  $("fo-status-trail").textContent = trailItems[0];
  steps = new Map();
  refusalShown = null;
  $("fo-steps").replaceChildren();
}

export function onFailover(ev) {
  if (!present) return;
  if (!trailItems) reset(); // a failover someone else started: follow it too
  showProgress(ev);
  if (ev.status && ev.status !== "running") finish(ev);
}

async function run() {
  reset();
  $("fo-time").textContent = "running…";
  $("fo-start").disabled = true;
  requestPending = true;
  $("fo-busy").textContent = "running…";
  started = performance.now();
  const poll = setInterval(loadHealth, 1000);
  const r = await api(`/api/failover/${encodeURIComponent(target())}`, { method: "POST", body: {}, timeoutMs: 180000 });
  clearInterval(poll);
  requestPending = false;
  $("fo-busy").textContent = "";
  $("fo-start").disabled = false;
  if (!r.ok) {
    if (r.data && r.data.event) showProgress(r.data.event);
    showError(r.error);
    $("fo-time").textContent = "–";
    loadFailover();
    return;
  }
  showProgress(r.data);
  finish(r.data);
}

export function initFailover() {
  if (!present) return;
  statusListeners.push((text) => trail(text === "switch" ? "switch" : text.split(" (")[0]));
  statusListeners.push((text) => {
    if (text === "switch") $("fo-version").textContent = `${$("fo-version").textContent} → ${state.version}`;
    updateTarget();
  });
  $("fo-start").addEventListener("click", () => {
    updateTarget();
    $("fo-confirm").showModal();
  });
  $("fo-confirm").addEventListener("close", () => {
    if ($("fo-confirm").returnValue === "yes") run();
  });
  updateTarget();
}
