/* The one websocket (/ws/live/): relays the pipelines' channel-layer events to
 * handlers by event type; reconnects with backoff and reloads state on return. */
import { $, cfg } from "./lib.js";

let connects = 0;

function setLink(state, text) {
  $("live-link").dataset.state = state;
  $("live-link").textContent = text;
}

export function connectLive(handlers, onReconnect) {
  let socket = null;
  let attempts = 0;
  const open = () => {
    const scheme = window.location.protocol === "https:" ? "wss" : "ws";
    socket = new WebSocket(`${scheme}://${window.location.host}${cfg.wsPath}`);
    socket.addEventListener("open", () => {
      attempts = 0;
      connects += 1;
      setLink("open", "live");
      // Events sent while we were away are gone: read the current state again.
      if (connects > 1) onReconnect();
    });
    socket.addEventListener("message", (message) => {
      let ev;
      try {
        ev = JSON.parse(message.data);
      } catch {
        return;
      }
      if (ev.type === "hello") setLink("open", `live (${ev.groups.join(", ")})`);
      else if (handlers[ev.type]) handlers[ev.type](ev);
    });
    socket.addEventListener("close", () => {
      attempts += 1;
      const delay = Math.min(10000, 500 * 2 ** Math.min(attempts, 5)) * (0.75 + Math.random() * 0.5);
      setLink("closed", `reconnecting in ${Math.round(delay / 1000)} s…`);
      setTimeout(open, delay);
    });
  };
  setInterval(() => socket && socket.readyState === WebSocket.OPEN && socket.send(JSON.stringify({ type: "ping" })), 25000);
  open();
}

export const liveConnects = () => connects;
