/* Site Image Intelligence: a paged gallery (12 a page, so the question box
 * stays in view), a chart of hard hats per site with the images to review, the
 * per-site summary and the word cloud. An empty store says which command fills it. */
import { $, api, cfg, coalesce, el, fillTable, fmt, humanize } from "../lib.js";

const PAGE_SIZE = 12;
const FILL_COMMAND = ".venv/bin/python manage.py scan_images ../shared/seed-data/images";
const hasChart = typeof window.Chart === "function";
let page = 1;
let imagesTotal = null;
let siteChart = null;

function badge(flag, yes, no, people) {
  if (flag === true) return el("span", { class: "badge yes", text: `✓ ${yes}` });
  if (flag === false) return el("span", { class: "badge no", text: `✗ ${no}` });
  // Unknown is said, never left out: the analyser was not sure, and a review decides.
  if (people > 0) return el("span", { class: "badge unsure", title: "The analyser was not sure: a review decides", text: `? ${yes}` });
  return null;
}

function imageCard(item) {
  const c = item.safety_compliance || {};
  const score = item.compliance_score;
  const scoreBadge =
    score === null || score === undefined
      ? el("span", { class: "badge", text: "No people in view" })
      : el("span", { class: `badge ${score >= 70 ? "score-high" : score >= 40 ? "score-mid" : "score-low"}`, text: `Compliance ${Math.round(score)}%` });
  const people = item.persons;
  return el(
    "figure",
    { class: "card", dataset: { imageId: item.id } },
    el("img", { src: item.thumbnail_url, alt: item.description || item.filename, loading: "lazy" }),
    el(
      "figcaption",
      { class: "body" },
      el("strong", { text: item.filename }),
      el("div", { class: "meta", text: `${item.site_id} · ${typeLabel(item.device_type)} · ${people} ${people === 1 ? "person" : "people"}` }),
      el(
        "div",
        { class: "badges" },
        scoreBadge,
        badge(c.has_hard_hat, "Hard hat", "No hard hat", people),
        badge(c.has_safety_vest, "Vest", "No vest", people),
        badge(c.has_inspection_equipment, "Equipment", "No equipment", people),
        item.reviewed ? el("span", { class: "badge", text: "reviewed" }) : null,
      ),
      cfg.staff ? reviewForm(item) : null,
    ),
  );
}

const REVIEWED_FLAGS = [
  ["has_hard_hat", "Hard hat"],
  ["has_safety_vest", "Vest"],
  ["has_inspection_equipment", "Equipment"],
];

function choice(name, label, value) {
  const current = value === true ? "true" : value === false ? "false" : "";
  const options = [["", "analyser's"], ["true", "yes"], ["false", "no"]].map(([v, text]) =>
    el("option", { value: v, text, selected: v === current ? "selected" : null }),
  );
  return el("label", {}, label, " ", el("select", { name }, ...options));
}

// Staff correct a card in place (PATCH /api/images/{id}): "analyser's" drops a correction. The review wins over the
// analyser, also after rescans, and the card, the chart and the counts follow.
function reviewForm(item) {
  const review = item.review || {};
  const status = el("span", { class: "meta", role: "status" });
  const persons = el("input", { type: "number", name: "persons", min: "0", step: "1", placeholder: String(item.persons) });
  if (review.persons !== undefined) persons.value = String(review.persons);
  const form = el(
    "form",
    { class: "review-form" },
    el("label", {}, "People ", persons),
    ...REVIEWED_FLAGS.map(([key, label]) => choice(key, label, review[key])),
    el("button", { type: "submit", class: "btn btn-small", text: "Save review" }),
    status,
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const changes = { persons: persons.value === "" ? null : Number(persons.value) };
    for (const [key] of REVIEWED_FLAGS) {
      const value = form.elements[key].value;
      changes[key] = value === "" ? null : value === "true";
    }
    status.textContent = "saving…";
    const r = await api(`/api/images/${encodeURIComponent(item.id)}`, { method: "PATCH", body: changes });
    status.textContent = r.ok ? "saved" : `not saved: ${r.error}`;
    if (r.ok) loadGallery();
  });
  return el("details", { class: "review" }, el("summary", { text: "Review" }), form);
}

function guidance(text, command) {
  return el("p", { class: "guidance", dataset: { testid: "empty-guidance" } }, text, " ", el("code", { text: command }));
}

export async function loadGallery() {
  const filters = [...new FormData($("image-filter"))].filter(([, v]) => v);
  const params = new URLSearchParams([...filters, ["page", String(page)], ["page_size", String(PAGE_SIZE)]]);
  const r = await api(`/api/images?${params}`);
  const gallery = $("gallery");
  if (!r.ok) {
    if (r.status === 404 && page > 1) {
      page = 1; // the filtered set shrank under the current page
      return loadGallery();
    }
    gallery.replaceChildren(el("p", { class: "form-error", text: `Images not available: ${r.error}` }));
    return;
  }
  const items = r.data.results;
  if (!filters.length) imagesTotal = r.data.count;
  gallery.replaceChildren(...items.map(imageCard));
  if (!items.length) {
    gallery.append(
      imagesTotal === 0
        ? guidance("No image has been scanned yet. Fill the gallery with", FILL_COMMAND)
        : el("p", { class: "muted", text: `No image matches these filters (${fmt(imagesTotal)} images in all).` }),
    );
  }
  const pages = Math.max(1, Math.ceil(r.data.count / PAGE_SIZE));
  $("gallery-page").textContent = r.data.count ? `Page ${page} of ${fmt(pages)} · ${fmt(r.data.count)} images` : "";
  $("gallery-prev").disabled = page <= 1;
  $("gallery-next").disabled = page >= pages;
  $("gallery-pager").hidden = r.data.count <= PAGE_SIZE;
  $("wordcloud-btn").disabled = imagesTotal === 0;
  $("wordcloud-hint").textContent = imagesTotal === 0 ? "The word cloud describes scanned images: scan some first (the command above)." : "";
  const summary = await api("/api/images/summary");
  if (summary.ok && summary.data) renderImageSummary(summary.data);
}
export const loadGallerySoon = coalesce(loadGallery, 2000);

function renderImageSummary(data) {
  drawSiteChart(data.by_site || []);
  // {by_site: [...], by_device_type: [...], ...}: one table per list, device types by their names.
  const box = $("images-summary").querySelector(".table-scroll");
  box.replaceChildren(
    ...Object.entries(data)
      .filter(([, v]) => Array.isArray(v))
      .flatMap(([key, rows]) => {
        const table = el("table", { class: "grid" });
        fillTable(table, rows.map((r) => ("device_type" in r ? { ...r, device_type: typeLabel(r.device_type) } : r)));
        return [el("h4", { text: humanize(key) }), table];
      }),
  );
}

function typeLabel(key) {
  return (cfg.deviceTypes[key] || {}).label || key;
}

// Per site, the images with people in view: hard hats on everyone, someone without one, or the analyser not sure
// of the hats; the bar's label carries the site's average compliance.
function drawSiteChart(sites) {
  const withPeople = sites.filter((s) => s.images_with_people > 0);
  const review = sites.reduce((n, s) => n + (s.uncertain || 0), 0);
  $("images-review").hidden = review === 0;
  $("images-review-count").textContent = `${fmt(review)} ${review === 1 ? "image" : "images"}`;
  const canvas = $("images-site-chart");
  $("images-site").hidden = withPeople.length === 0; // no title over an empty chart
  canvas.closest(".chart-box").style.height = `${90 + 28 * withPeople.length}px`; // a readable bar, and a label, for every site
  canvas.dataset.sites = String(withPeople.length);
  if (!hasChart || !withPeople.length) return;
  const labels = withPeople.map((s) => `${s.site_id} · ${s.average_compliance === null ? "–" : `${Math.round(s.average_compliance)}%`}`);
  const unsure = withPeople.map((s) => s.images_with_people - s.with_hard_hat - s.without_hard_hat);
  const data = {
    labels,
    datasets: [
      { label: "hard hats on everyone", data: withPeople.map((s) => s.with_hard_hat), backgroundColor: "#00b050" },
      { label: "someone without a hard hat", data: withPeople.map((s) => s.without_hard_hat), backgroundColor: "#c0392b" },
      { label: "not sure of the hats", data: unsure, backgroundColor: "#a5a5a5" },
    ],
  };
  if (siteChart) siteChart.destroy();
  siteChart = new window.Chart(canvas, {
    type: "bar",
    data,
    options: {
      indexAxis: "y",
      animation: false,
      responsive: true,
      maintainAspectRatio: false,
      scales: { x: { stacked: true, beginAtZero: true, ticks: { precision: 0 }, title: { display: true, text: "images with people in view" } }, y: { stacked: true, ticks: { autoSkip: false } } },
      plugins: { legend: { position: "bottom" } },
    },
  });
}

async function drawWordCloud() {
  const site = $("wordcloud-site").value;
  const caption = $("wordcloud-caption");
  $("wordcloud-figure").hidden = false;
  caption.textContent = "drawing…";
  let response;
  try {
    response = await fetch(`/api/images/wordcloud${site ? `?site_id=${encodeURIComponent(site)}` : ""}`, { credentials: "same-origin" });
  } catch {
    caption.textContent = "The server is not answering.";
    return;
  }
  const type = response.headers.get("Content-Type") || "";
  if (!response.ok || !type.startsWith("image/")) {
    const body = type.includes("json") ? await response.json().catch(() => ({})) : {};
    $("wordcloud-img").hidden = true;
    caption.textContent = `No word cloud: ${body.error || `HTTP ${response.status}`}`;
    return;
  }
  const old = $("wordcloud-img").src;
  $("wordcloud-img").src = URL.createObjectURL(await response.blob());
  $("wordcloud-img").hidden = false;
  if (old.startsWith("blob:")) URL.revokeObjectURL(old);
  caption.textContent = `What the images of ${site || "all sites"} show`;
}

export function initImages() {
  $("image-filter").addEventListener("change", () => {
    page = 1;
    loadGallery();
  });
  $("gallery-prev").addEventListener("click", () => {
    page = Math.max(1, page - 1);
    loadGallery();
  });
  $("gallery-next").addEventListener("click", () => {
    page += 1;
    loadGallery();
  });
  $("wordcloud-btn").addEventListener("click", drawWordCloud);
  $("images-review-show").addEventListener("click", () => {
    $("image-filter").elements.uncertain.value = "true";
    page = 1;
    loadGallery();
    $("gallery").scrollIntoView({ block: "nearest" });
  });
}
