/* The natural-language question box: POST /api/query, the answer with its sources. */
import { $, api, el, fillTable, setChildren } from "../lib.js";

function renderSource(s) {
  if (s.document !== undefined) {
    return el("li", {}, el("strong", { text: s.document }), s.page !== undefined ? `, page ${s.page}` : "", s.snippet ? el("div", {}, el("q", { text: s.snippet })) : null);
  }
  if (s.image !== undefined && s.image && typeof s.image === "object") {
    const img = s.image;
    return el("li", {}, el("img", { src: img.thumbnail_url, alt: img.filename }), `image ${img.filename} · ${img.site_id} ${img.device_type}`);
  }
  if (s.query !== undefined) {
    return el("li", {}, "query: ", el("pre", { text: typeof s.query === "string" ? s.query : JSON.stringify(s.query, null, 1) }));
  }
  return el("li", { text: JSON.stringify(s) });
}

function renderData(data) {
  if (!data || typeof data !== "object" || !Object.keys(data).length) return null;
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
    el("div", { class: "meta", text: sources.length ? `Sources (${sources.length})` : "No source." }),
    sources.length ? el("ol", { class: "sources" }, sources.slice(0, 20).map(renderSource)) : null,
    renderData(d.data),
  );
  answer.scrollIntoView({ block: "nearest" });
}

export function initChat() {
  // On a narrow screen the prompts start folded, so the gallery is not pushed down.
  if (window.matchMedia("(max-width: 900px)").matches) document.querySelector(".prompts").open = false;
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
}
