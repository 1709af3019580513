// The demo page: calls POST /v1/translate and shows translation, alternatives, attention.
"use strict";

const $ = (id) => document.getElementById(id);

function headers() {
  const h = { "Content-Type": "application/json" };
  const key = $("apikey").value.trim();
  if (key) h["Authorization"] = "Bearer " + key;
  return h;
}

function clamp(value, low, high) {
  const n = parseInt(value, 10);
  return Number.isNaN(n) ? low : Math.min(high, Math.max(low, n));
}

function renderAlternatives(alternatives) {
  const list = $("alternatives");
  list.replaceChildren();
  for (const alt of alternatives) {
    const item = document.createElement("li");
    item.appendChild(cell("span", alt.text, "alt-text"));
    item.appendChild(cell("span", " (" + alt.score.toFixed(2) + ")", "muted"));
    list.appendChild(item);
  }
}

function cell(tag, text, className) {
  const node = document.createElement(tag);
  node.textContent = text;
  if (className) node.className = className;
  return node;
}

// Rows: target pieces; columns: source pieces; darker blue = more attention.
function renderHeatmap(attention) {
  const box = $("heatmap");
  box.replaceChildren();
  if (!attention) return;
  const table = document.createElement("table");
  const head = document.createElement("tr");
  head.appendChild(cell("th", ""));
  for (const piece of attention.source_pieces) head.appendChild(cell("th", piece, "col"));
  table.appendChild(head);
  attention.weights.forEach((row, i) => {
    const tr = document.createElement("tr");
    tr.appendChild(cell("th", attention.target_pieces[i], "row"));
    for (const w of row) {
      const td = cell("td", w >= 0.1 ? w.toFixed(1) : "");
      td.title = w.toFixed(3);
      td.style.backgroundColor = "rgba(25, 90, 200, " + Math.min(1, Math.max(0, w)).toFixed(3) + ")";
      if (w > 0.5) td.style.color = "#fff";
      tr.appendChild(td);
    }
    table.appendChild(tr);
  });
  box.appendChild(table);
}

function renderDiagnostics(d) {
  const parts = ["mean log-prob " + d.mean_log_prob.toFixed(2)];
  if (d.repetition) parts.push("repetition");
  if (d.under_translated) parts.push("possibly untranslated: " + d.untranslated_source_pieces.join(" "));
  $("diagnostics").textContent = parts.join(" · ");
}

async function translate(event) {
  event.preventDefault();
  const text = $("source").value;
  const beam = clamp($("beam").value, 1, 16);
  // n_best as the API means it: the translation plus up to n-1 alternatives; the API
  // refuses n_best > beam_size, and the page shows that refusal instead of hiding it.
  const nBest = clamp($("nbest").value, 1, 16);
  $("status").textContent = "translating…";
  $("status").className = "muted";
  try {
    const response = await fetch("/v1/translate", {
      method: "POST",
      headers: headers(),
      body: JSON.stringify({
        text: text, beam_size: beam, n_best: nBest, return_attention: true,
      }),
    });
    const body = await response.json();
    if (!response.ok) throw new Error(errorMessage(body));
    const result = body.translations[0];
    $("output").textContent = result.text;
    $("score").textContent = "score " + result.score.toFixed(2);
    renderAlternatives(result.alternatives);
    renderHeatmap(result.attention);
    renderDiagnostics(result.diagnostics);
    $("status").textContent = "done in " + body.timing_ms.toFixed(0) + " ms";
  } catch (error) {
    $("status").textContent = "error: " + error.message;
    $("status").className = "error";
  }
}

// {"error": "..."} from the service, or FastAPI's {"detail": [{"msg": ...}]} for a 422.
function errorMessage(body) {
  if (body.error) return body.error;
  if (Array.isArray(body.detail)) return body.detail.map((d) => d.msg).join("; ");
  return JSON.stringify(body.detail || body);
}

async function loadModel() {
  try {
    const response = await fetch("/v1/model");
    const info = await response.json();
    if (!response.ok) return;
    const label = $("model-name");
    label.textContent = info.name + " (" + info.src_lang + " → " + info.tgt_lang + ")";
    if (info.bleu !== null && info.bleu !== undefined) label.textContent += ", test BLEU " + info.bleu;
    if (info.model_card_url) {
      const link = document.createElement("a");
      link.href = info.model_card_url;
      link.id = "model-card-link";
      link.textContent = "model card";
      label.append(" · ", link);
    }
  } catch (error) {
    $("model-name").textContent = "model information unavailable";
  }
}

$("translate-form").addEventListener("submit", translate);
loadModel();
