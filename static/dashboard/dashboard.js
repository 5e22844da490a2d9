/* Tier-0 dashboard entry module: fills the server-rendered panels from the REST
 * API and keeps them live from one websocket. One module per panel under
 * panels/; data always goes into the page with textContent, never as HTML. */
import { initAlarms, loadAlarmsSoon, onAlarms } from "./panels/alarms.js";
import { initChat } from "./panels/chat.js";
import { initDevices, loadDevices, onTelemetry, openDevice } from "./panels/devices.js";
import { initFailover, loadFailover, onFailover } from "./panels/failover.js";
import { initImages, loadGallery, loadGallerySoon } from "./panels/images.js";
import { loadHealth, loadVersion, loadVersionSoon } from "./panels/status.js";
import { initUsers, loadUsers, onSessions } from "./panels/users.js";
import { connectLive, liveConnects } from "./live.js";
import { initTabs, showPanel } from "./tabs.js";

function loadAll() {
  loadHealth();
  loadVersion();
  loadUsers();
  loadDevices();
  loadGallery();
  loadFailover();
}

initTabs();
initUsers();
initDevices();
initAlarms();
initImages();
initChat();
initFailover();

// The event types the pipelines publish (see the live-event module on the server).
const handlers = {
  "telemetry.update": onTelemetry,
  "sessions.update": onSessions,
  "failover.progress": (ev) => {
    loadVersionSoon();
    onFailover(ev);
  },
  "images.update": loadGallerySoon,
  "alarms.update": onAlarms,
};

loadAll();
connectLive(handlers, loadAll);
setInterval(loadHealth, 10000);
setInterval(loadVersion, 30000);
// A slow safety net in case an event was missed; events drive the real updates.
setInterval(() => {
  loadUsers();
  loadDevices();
  loadAlarmsSoon();
}, 30000);

window.tier0Dashboard = { openDevice, showPanel, connects: liveConnects };
document.body.dataset.ready = "true";
