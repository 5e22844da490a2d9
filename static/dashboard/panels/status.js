/* Application status (health checks) and the deployment version, shared by the
 * version panel and the failover panel's status trail. */
import { $, api, clock, coalesce, el } from "../lib.js";

export const state = {
  appStatus: $("app-status").textContent,
  version: $("site-version").textContent,
  region: $("site-region").textContent,
};
// Called with the new status text, or "switch" when the version changed.
export const statusListeners = [];

export async function loadHealth() {
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
    tbody.replaceChildren(
      ...Object.entries(r.data.checks).map(([name, check]) =>
        el(
          "tr",
          {},
          el("td", { text: name }),
          el("td", { class: check.ok ? "" : "alert", text: check.ok ? "ok" : check.error || "failing" }),
          el("td", { text: check.ms === undefined ? "–" : `${check.ms} ms` }),
        ),
      ),
    );
  }
  if (text !== state.appStatus) {
    state.appStatus = text;
    statusListeners.forEach((fn) => fn(text));
  }
}

export async function loadVersion() {
  const r = await api("/api/version");
  if (!r.ok || !r.data) return;
  const changed = r.data.version !== state.version;
  state.version = r.data.version;
  state.region = r.data.region;
  $("site-version").textContent = r.data.version;
  $("site-region").textContent = r.data.region;
  $("version-checked").textContent = `${clock(Date.now())} UTC`;
  if (changed) statusListeners.forEach((fn) => fn("switch"));
}
export const loadVersionSoon = coalesce(loadVersion, 500);
