// glasshouse redaction review page (#/redact/ID): the plan drawn over the
// player. Boxes can be drawn (drag on the picture), moved (drag a box),
// adjusted (numbers in the list), turned off or removed; on-screen text
// regions and transcript words are picked from the lists; then the copy is
// rendered as a job with progress, and the page links to the result and its
// manifest. Uses el, api, say, $, setView, fmtTime from app.js.
"use strict";

const rd = { id: null, asset: null, plan: null, media: null, selected: null, render: null, poll: null, seq: 0 };

function clamp01(v) { return Math.min(1, Math.max(0, v)); }

function regionActive(r, tMS) {
  if (!rd.asset || rd.asset.kind !== "video") return true;
  return tMS >= r.start_ms && tMS < r.end_ms;
}

function nowMS() { return rd.media && rd.media.tagName === "VIDEO" ? Math.round(rd.media.currentTime * 1000) : 0; }

// drawOverlay shows the regions active at the play position.
function drawOverlay() {
  const ov = $("redact-overlay");
  if (!ov || !rd.plan) return;
  ov.replaceChildren();
  const t = nowMS();
  rd.plan.regions.forEach((r, i) => {
    if (!regionActive(r, t)) return;
    const b = el("div", {
      class: "rbox kind-" + r.kind + (r.off ? " off" : "") + (rd.selected === i ? " selected" : ""),
      "data-index": String(i), title: (r.label || r.kind) + (r.off ? " (off)" : ""),
    });
    b.style.left = (r.box.x * 100) + "%";
    b.style.top = (r.box.y * 100) + "%";
    b.style.width = (r.box.w * 100) + "%";
    b.style.height = (r.box.h * 100) + "%";
    ov.append(b);
  });
}

function overlayPoint(ev) {
  const rect = $("redact-overlay").getBoundingClientRect();
  return { x: clamp01((ev.clientX - rect.left) / rect.width), y: clamp01((ev.clientY - rect.top) / rect.height) };
}

// setupOverlay: drag on empty picture draws a manual box (for a video it
// covers two seconds from the play position; change the times in the
// list); drag a box to move it.
function setupOverlay(ov) {
  let drag = null;
  ov.addEventListener("mousedown", (ev) => {
    ev.preventDefault();
    const p = overlayPoint(ev);
    const hit = ev.target.closest(".rbox");
    if (hit) {
      const i = parseInt(hit.dataset.index, 10);
      rd.selected = i;
      drag = { mode: "move", i, start: p, box: Object.assign({}, rd.plan.regions[i].box) };
    } else {
      drag = { mode: "draw", start: p };
      const g = el("div", { class: "rbox ghost" });
      ov.append(g);
      drag.ghost = g;
    }
  });
  window.addEventListener("mousemove", (ev) => {
    if (!drag) return;
    const p = overlayPoint(ev);
    if (drag.mode === "move") {
      const r = rd.plan.regions[drag.i];
      r.box.x = clamp01(Math.min(1 - r.box.w, drag.box.x + p.x - drag.start.x));
      r.box.y = clamp01(Math.min(1 - r.box.h, drag.box.y + p.y - drag.start.y));
      if (r.kind === "face") r.adjusted = true;
      drawOverlay();
    } else {
      const x0 = Math.min(p.x, drag.start.x), y0 = Math.min(p.y, drag.start.y);
      drag.ghost.style.left = (x0 * 100) + "%";
      drag.ghost.style.top = (y0 * 100) + "%";
      drag.ghost.style.width = (Math.abs(p.x - drag.start.x) * 100) + "%";
      drag.ghost.style.height = (Math.abs(p.y - drag.start.y) * 100) + "%";
    }
  });
  window.addEventListener("mouseup", (ev) => {
    if (!drag) return;
    const d = drag;
    drag = null;
    if (d.mode === "draw") {
      const p = overlayPoint(ev);
      const box = { x: Math.min(p.x, d.start.x), y: Math.min(p.y, d.start.y), w: Math.abs(p.x - d.start.x), h: Math.abs(p.y - d.start.y) };
      if (box.w > 0.01 && box.h > 0.01) {
        const t = nowMS();
        const dur = rd.asset.probe ? rd.asset.probe.duration_ms : 0;
        const r = { kind: "manual", box, label: "drawn box", start_ms: 0, end_ms: 0 };
        if (rd.asset.kind === "video") { r.start_ms = t; r.end_ms = Math.min(dur || t + 2000, t + 2000); if (r.end_ms <= r.start_ms) r.end_ms = r.start_ms + 1000; }
        rd.plan.regions.push(r);
        rd.selected = rd.plan.regions.length - 1;
        changed();
      }
    }
    renderRegionList();
    drawOverlay();
  });
}

function changed() {
  $("redact-dirty").textContent = "Unsaved changes.";
}

function numInput(label, value, step, onChange) {
  const id = "rd-" + Math.random().toString(36).slice(2);
  const inp = el("input", { id, type: "number", step: String(step), value: String(value), class: "small" });
  inp.addEventListener("change", () => { const v = parseFloat(inp.value); if (isFinite(v)) { onChange(v); changed(); drawOverlay(); } });
  return el("span", { class: "numfield" }, el("label", { for: id, text: label }), inp);
}

function renderRegionList() {
  const ol = $("redact-regions");
  ol.replaceChildren();
  const video = rd.asset.kind === "video";
  rd.plan.regions.forEach((r, i) => {
    const li = el("li", { class: (r.off ? "off " : "") + (rd.selected === i ? "selected" : ""), "data-index": String(i) });
    const name = (r.kind === "face" ? "Face" : r.kind === "text" ? "Text" : "Box") + (r.label ? ": " + r.label : "");
    const offBox = el("input", { type: "checkbox", id: "rd-on-" + i, checked: !r.off });
    offBox.addEventListener("change", () => { r.off = !offBox.checked; changed(); renderRegionList(); drawOverlay(); });
    li.append(el("span", { class: "rname" }, offBox, el("label", { for: "rd-on-" + i, text: " cover " + name })));
    if (video) {
      li.append(el("button", { type: "button", class: "link", text: fmtTime(r.start_ms) + "–" + fmtTime(r.end_ms), onclick: () => { rd.media.currentTime = r.start_ms / 1000; } }));
    }
    const ed = el("div", { class: "redit" });
    const setBox = (k) => (v) => { r.box[k] = clamp01(v); if (r.kind === "face") r.adjusted = true; };
    ed.append(numInput("x", r.box.x.toFixed(3), 0.01, setBox("x")), numInput("y", r.box.y.toFixed(3), 0.01, setBox("y")),
      numInput("w", r.box.w.toFixed(3), 0.01, setBox("w")), numInput("h", r.box.h.toFixed(3), 0.01, setBox("h")));
    if (video) {
      ed.append(numInput("from s", (r.start_ms / 1000).toFixed(2), 0.1, (v) => { r.start_ms = Math.round(v * 1000); }),
        numInput("to s", (r.end_ms / 1000).toFixed(2), 0.1, (v) => { r.end_ms = Math.round(v * 1000); }));
    }
    ed.append(el("button", { type: "button", text: "Remove", "aria-label": "Remove " + name, onclick: () => { rd.plan.regions.splice(i, 1); rd.selected = null; changed(); renderRegionList(); drawOverlay(); } }));
    li.append(ed);
    ol.append(li);
  });
  if (!rd.plan.regions.length) ol.append(el("li", { class: "hint", text: "No boxes. Drag on the picture to add one." }));
}

// Text regions from OCR, and transcript words, to pick from.
function renderPickers(ins) {
  const ocr = $("redact-ocr");
  ocr.replaceChildren();
  for (const o of ins.ocr || []) {
    ocr.append(el("li", {}, el("button", { type: "button", text: "Cover “" + o.text + "”" + (rd.asset.kind === "video" ? " " + fmtTime(o.start_ms) : ""), onclick: () => {
      rd.plan.regions.push({ kind: "text", box: Object.assign({}, o.box), label: o.text, start_ms: o.start_ms, end_ms: Math.max(o.end_ms, o.start_ms + 1) });
      changed(); renderRegionList(); drawOverlay();
    } })));
  }
  if (!(ins.ocr || []).length) ocr.append(el("li", { class: "hint", text: "No text found on screen." }));
  const words = $("redact-words");
  words.replaceChildren();
  let n = 0;
  for (const seg of ins.transcript || []) {
    for (const w of seg.words || []) {
      n++;
      const picked = () => rd.plan.audio.findIndex((c) => c.start_ms === w.start_ms && c.end_ms === w.end_ms);
      const b = el("button", { type: "button", class: "word", "aria-pressed": picked() >= 0 ? "true" : "false", text: w.text, title: fmtTime(w.start_ms) });
      b.addEventListener("click", () => {
        const i = picked();
        if (i >= 0) rd.plan.audio.splice(i, 1);
        else rd.plan.audio.push({ start_ms: w.start_ms, end_ms: w.end_ms, mode: $("redact-audio-mode").value, word: w.text });
        b.setAttribute("aria-pressed", picked() >= 0 ? "true" : "false");
        changed(); renderCuts();
      });
      words.append(b, " ");
    }
  }
  if (!n) words.append(el("span", { class: "hint", text: rd.asset.kind === "video" ? "No transcript words (speech not analysed yet?)." : "An image has no sound." }));
}

function renderCuts() {
  const ul = $("redact-cuts");
  ul.replaceChildren();
  rd.plan.audio.forEach((c, i) => {
    ul.append(el("li", {}, el("span", { text: c.mode + " " + fmtTime(c.start_ms) + "–" + fmtTime(c.end_ms) + (c.word ? " “" + c.word + "”" : "") + " " }),
      el("button", { type: "button", text: "Keep", "aria-label": "Keep the audio of " + (c.word || fmtTime(c.start_ms)), onclick: () => { rd.plan.audio.splice(i, 1); changed(); renderCuts(); } })));
  });
  if (!rd.plan.audio.length) ul.append(el("li", { class: "hint", text: "Audio kept as it is." }));
}

function readSettings() {
  const p = rd.plan;
  p.faces = $("redact-faces").checked;
  p.settings.fill = $("redact-fill").value;
  const pad = parseFloat($("redact-padding").value);
  if (isFinite(pad)) p.settings.padding = pad;
  p.remove_audio = $("redact-remove-audio").checked;
}

function showSettings() {
  const p = rd.plan;
  $("redact-faces").checked = !!p.faces;
  $("redact-fill").value = p.settings.fill || "solid";
  $("redact-padding").value = String(p.settings.padding);
  $("redact-remove-audio").checked = !!p.remove_audio;
  if (p.audio.length) $("redact-audio-mode").value = p.audio[0].mode || "silence";
  fillNote();
}

function fillNote() {
  const f = $("redact-fill").value;
  $("redact-fill-note").textContent = f === "solid"
    ? "Solid boxes leave nothing of what they cover."
    : "Careful: " + f + " can sometimes be partly reversed to show what was underneath. Use solid for anything that must not be recovered.";
  $("redact-fill-note").className = f === "solid" ? "hint" : "warning";
}

async function savePlan() {
  readSettings();
  const res = await api("/api/assets/" + encodeURIComponent(rd.id) + "/redaction", {
    method: "PUT", headers: { "Content-Type": "application/json" }, body: JSON.stringify(rd.plan),
  });
  rd.plan = res;
  $("redact-dirty").textContent = "Saved (revision " + res.revision + ").";
  return res;
}

async function startRender() {
  const btn = $("redact-render");
  btn.disabled = true;
  try {
    await savePlan();
    const r = await api("/api/assets/" + encodeURIComponent(rd.id) + "/redactions", { method: "POST" });
    showRender(r);
    followRender(r.id);
  } catch (err) {
    say("Could not render: " + err.message, true);
    $("redact-result").replaceChildren(el("p", { class: "error", text: err.message }));
    btn.disabled = false;
  }
}

function followRender(rid) {
  clearInterval(rd.poll);
  const seq = rd.seq;
  rd.poll = setInterval(async () => {
    if (seq !== rd.seq) { clearInterval(rd.poll); return; }
    try {
      const r = await api("/api/redactions/" + encodeURIComponent(rid));
      showRender(r);
      if (r.state === "done" || r.state === "failed") { clearInterval(rd.poll); $("redact-render").disabled = false; loadRenders(); }
    } catch (err) { /* keep polling */ }
  }, 700);
}

function showRender(r) {
  const box = $("redact-result");
  const pct = Math.round((r.state === "done" ? 1 : r.progress || 0) * 100);
  const prog = el("progress", { id: "redact-progress", max: "100", value: String(pct), "aria-label": "Render progress" });
  prog.textContent = pct + "%";
  const parts = [el("p", { id: "redact-state", class: "state-" + r.state, text: "Render " + r.state + (r.state === "running" || r.state === "queued" ? " " + pct + "%" : "") }), prog];
  if (r.state === "failed") parts.push(el("p", { class: "error", text: r.error || "failed" }));
  if (r.state === "done" && r.output) {
    parts.push(el("p", {}, el("a", { id: "redact-output", href: "#/asset/" + encodeURIComponent(r.output), text: "Open the redacted copy" }),
      " · ", el("a", { href: "/api/redactions/" + encodeURIComponent(r.id) + "/manifest?download=1", download: "", text: "Download the manifest" })));
    let m = r.manifest;
    if (m) {
      const low = (m.coverage && m.coverage.low_confidence) || [];
      const missed = (m.coverage && m.coverage.missed) || [];
      parts.push(el("p", { text: (m.faces || []).length + " face(s) followed over " + m.frames + " frame(s); " + low.length + " low-confidence and " + missed.length + " missed frame(s) to check." }));
      const ol = el("ol", { class: "coverage" });
      for (const f of low.concat(missed).slice(0, 100)) {
        ol.append(el("li", {}, el("button", { type: "button", class: "link", text: fmtTime(f.time_ms) + (f.score ? " score " + f.score.toFixed(2) : " expected, not detected"), onclick: () => { if (rd.media && rd.media.tagName === "VIDEO") rd.media.currentTime = f.time_ms / 1000; } })));
      }
      if (ol.childElementCount) parts.push(el("h4", { text: "Frames to review (in the original)" }), ol);
    }
  }
  box.replaceChildren(...parts);
}

async function loadRenders() {
  const ul = $("redact-renders");
  try {
    const res = await api("/api/assets/" + encodeURIComponent(rd.id) + "/redactions");
    ul.replaceChildren();
    for (const r of res.redactions || []) {
      ul.append(el("li", {}, el("span", { text: new Date(r.created).toLocaleString() + " – " + r.state + " " }),
        r.output ? el("a", { href: "#/asset/" + encodeURIComponent(r.output), text: "copy" }) : null,
        r.manifest ? el("span", {}, " · ", el("a", { href: "/api/redactions/" + encodeURIComponent(r.id) + "/manifest?download=1", text: "manifest" })) : null));
    }
    if (!ul.childElementCount) ul.append(el("li", { class: "hint", text: "None yet." }));
  } catch (err) { ul.replaceChildren(el("li", { class: "error", text: err.message })); }
}

async function showRedact(id) {
  setView("redact");
  const seq = ++rd.seq;
  clearInterval(rd.poll);
  rd.id = id; rd.selected = null;
  $("redact-result").replaceChildren();
  $("redact-dirty").textContent = "";
  const stage = $("redact-stage");
  stage.replaceChildren(el("p", { class: "hint", text: "Loading…" }));
  let a, plan, ins;
  try {
    [a, plan, ins] = await Promise.all([
      api("/api/assets/" + encodeURIComponent(id)),
      api("/api/assets/" + encodeURIComponent(id) + "/redaction"),
      api("/api/assets/" + encodeURIComponent(id) + "/insights"),
    ]);
  } catch (err) {
    if (seq !== rd.seq) return;
    stage.replaceChildren(el("p", { class: "error", text: "Could not open the redaction plan: " + err.message }));
    return;
  }
  if (seq !== rd.seq) return;
  rd.asset = a; rd.plan = plan;
  plan.regions = plan.regions || []; plan.audio = plan.audio || [];
  $("redact-heading").textContent = "Redaction review: " + a.name;
  document.title = "Redact " + a.name + " – glasshouse";
  const src = "/api/assets/" + encodeURIComponent(a.id) + "/content";
  const media = a.kind === "video" ? el("video", { src, controls: true, preload: "metadata", "aria-label": a.name }) : el("img", { src, alt: a.name });
  rd.media = media;
  const ov = el("div", { id: "redact-overlay", "aria-label": "Redaction boxes; drag to draw a box" });
  stage.replaceChildren(el("div", { class: "stage" }, media, ov));
  setupOverlay(ov);
  if (a.kind === "video") { media.addEventListener("timeupdate", drawOverlay); media.addEventListener("seeked", drawOverlay); }
  $("redact-audio-fieldset").hidden = a.kind !== "video";
  showSettings();
  renderRegionList();
  renderPickers(ins || {});
  renderCuts();
  drawOverlay();
  loadRenders();
  $("redact-heading").focus();
}

function stopRedact() {
  rd.seq++;
  clearInterval(rd.poll);
  if (rd.media && rd.media.pause) rd.media.pause();
}

function initRedact() {
  $("redact-fill").addEventListener("change", () => { fillNote(); changed(); });
  $("redact-faces").addEventListener("change", changed);
  $("redact-padding").addEventListener("change", changed);
  $("redact-remove-audio").addEventListener("change", changed);
  $("redact-audio-mode").addEventListener("change", () => {
    if (!rd.plan) return;
    for (const c of rd.plan.audio) c.mode = $("redact-audio-mode").value;
    changed(); renderCuts();
  });
  $("redact-save").addEventListener("click", async () => {
    try { await savePlan(); say("Plan saved."); } catch (err) { say("Could not save the plan: " + err.message, true); $("redact-dirty").textContent = err.message; }
  });
  $("redact-render").addEventListener("click", startRender);
}

document.addEventListener("DOMContentLoaded", initRedact);
