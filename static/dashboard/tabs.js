/* Tabs are links to #panel-… anchors: before this script runs, CSS's :target
 * shows the chosen panel; once it runs, the page switches panels itself (no
 * jump) and tells the other modules which panel is shown. */
const tabs = [...document.querySelectorAll(".tab")];
const shownListeners = [];

export function onPanelShown(fn) {
  shownListeners.push(fn);
}

export function showPanel(key) {
  if (!tabs.some((t) => t.dataset.panel === key)) key = tabs[0].dataset.panel;
  tabs.forEach((t) => t.setAttribute("aria-selected", String(t.dataset.panel === key)));
  document.querySelectorAll(".panel").forEach((p) => p.classList.toggle("active", p.dataset.panel === key));
  if (window.location.hash !== `#panel-${key}`) history.replaceState(null, "", `#panel-${key}`);
  shownListeners.forEach((fn) => fn(key));
}

export function initTabs() {
  tabs.forEach((t) =>
    t.addEventListener("click", (event) => {
      event.preventDefault();
      showPanel(t.dataset.panel);
      window.scrollTo({ top: 0 });
    }),
  );
  window.addEventListener("hashchange", () => showPanel(window.location.hash.replace(/^#(panel-)?/, "")));
  document.body.classList.add("js");
  showPanel(window.location.hash.replace(/^#(panel-)?/, ""));
}
