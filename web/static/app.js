// glasshouse page: list assets, play one, upload files. No framework, no
// build step. Everything shown from the server goes through textContent or
// attributes, never parsed as HTML markup.
"use strict";

const PAGE_SIZE = 20;
const state = { cursors: [""], page: 0, collection: "", kind: "" };

function $(id) { return document.getElementById(id); }

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "text") e.textContent = v;
    else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children) if (c) e.append(c);
  return e;
}

function say(msg, isError) {
  const s = $("status");
  s.textContent = msg;
  s.className = isError ? "error" : "";
}

async function api(path, init) {
  const res = await fetch(path, init);
  if (res.status === 204) return null;
  let body = null;
  try { body = await res.json(); } catch (_) { /* not JSON */ }
  if (!res.ok) {
    const msg = body && body.error ? body.error.message + " (" + body.error.code + ")" : res.status + " " + res.statusText;
    throw new Error(msg);
  }
  return body;
}

function fmtSize(n) {
  if (n == null) return "";
  const units = ["B", "KB", "MB", "GB", "TB"];
  let i = 0;
  while (n >= 1000 && i < units.length - 1) { n /= 1000; i++; }
  return (i === 0 ? n : n.toFixed(1)) + " " + units[i];
}

function fmtDuration(ms) {
  if (!ms) return "";
  let s = Math.round(ms / 1000);
  const h = Math.floor(s / 3600); s -= h * 3600;
  const m = Math.floor(s / 60); s -= m * 60;
  const pad = (x) => String(x).padStart(2, "0");
  return (h ? h + ":" + pad(m) : m) + ":" + pad(s);
}

function runsList(runs) {
  const ul = el("ul", { class: "runs" });
  for (const r of runs || []) {
    const text = r.name + ": " + r.state + (r.error ? " (" + r.error + ")" : "");
    ul.append(el("li", { class: "state-" + r.state, text }));
  }
  if (!ul.childElementCount) ul.append(el("li", { text: "—" }));
  return ul;
}

function contentURL(a) { return "/api/assets/" + encodeURIComponent(a.id) + "/content"; }

async function loadPage() {
  const q = new URLSearchParams({ limit: PAGE_SIZE });
  const cursor = state.cursors[state.page];
  if (cursor) q.set("cursor", cursor);
  if (state.collection) q.set("collection", state.collection);
  if (state.kind) q.set("kind", state.kind);
  let page;
  try {
    page = await api("/api/assets?" + q.toString());
  } catch (err) {
    say("Could not list assets: " + err.message, true);
    return;
  }
  const body = $("assets-body");
  body.replaceChildren();
  for (const a of page.assets) body.append(assetRow(a));
  if (!page.assets.length) {
    body.append(el("tr", {}, el("td", { colspan: 7, text: "No assets yet." })));
  }
  $("assets-total").textContent = page.total + " asset" + (page.total === 1 ? "" : "s");
  state.cursors.length = state.page + 1;
  if (page.next) state.cursors.push(page.next);
  $("page-prev").disabled = state.page === 0;
  $("page-next").disabled = !page.next;
  $("page-number").textContent = "Page " + (state.page + 1);
}

function assetRow(a) {
  const dur = a.probe ? fmtDuration(a.probe.duration_ms) : "";
  const preview = a.thumb
    ? el("img", { class: "thumb", src: "/api/assets/" + encodeURIComponent(a.id) + "/thumb", alt: "Thumbnail of " + a.name, loading: "lazy" })
    : el("span", { class: "nothumb", role: "img", "aria-label": "No thumbnail for " + a.name, text: a.kind });
  return el("tr", {},
    el("td", {}, preview),
    el("td", {}, el("button", { type: "button", class: "link", text: a.name, "aria-label": "Show " + a.name, onclick: () => show(a.id) })),
    el("td", { text: a.kind }),
    el("td", { class: "num", text: dur }),
    el("td", { class: "num", text: fmtSize(a.size) }),
    el("td", {}, runsList(a.runs)),
    el("td", {},
      el("a", { href: contentURL(a) + "?download=1", text: "Download", "aria-label": "Download " + a.name })),
  );
}

async function show(id) {
  let a;
  try {
    a = await api("/api/assets/" + encodeURIComponent(id));
  } catch (err) {
    say("Could not open the asset: " + err.message, true);
    return;
  }
  const player = $("player");
  player.replaceChildren();
  const src = contentURL(a);
  let media;
  if (a.kind === "video") {
    media = el("video", { src, controls: true, preload: "metadata", "aria-label": a.name });
    if (a.poster) media.poster = "/api/assets/" + encodeURIComponent(a.id) + "/poster";
  } else if (a.kind === "audio") {
    media = el("audio", { src, controls: true, preload: "metadata", "aria-label": a.name });
  } else {
    media = el("img", { src, alt: a.name });
  }
  player.append(media);
  const dl = $("player-details");
  dl.replaceChildren();
  const add = (k, v) => { if (v !== "" && v != null) dl.append(el("dt", { text: k }), el("dd", { text: v })); };
  add("Name", a.name);
  add("Kind", a.kind);
  add("Type", a.media_type);
  add("Size", fmtSize(a.size));
  add("Collection", a.collection);
  if (a.probe) {
    add("Duration", fmtDuration(a.probe.duration_ms));
    if (a.probe.width) add("Dimensions", a.probe.width + " × " + a.probe.height);
  }
  add("Added", new Date(a.created).toLocaleString());
  add("SHA-256", a.hash);
  dl.append(el("dt", { text: "Analyzers" }), el("dd", {}, runsList(a.runs)));
  $("player-heading").textContent = a.name;
  $("player-section").hidden = false;
  $("player-heading").focus();
}

function closePlayer() {
  const player = $("player");
  for (const m of player.querySelectorAll("video, audio")) m.pause();
  player.replaceChildren();
  $("player-section").hidden = true;
  $("assets-heading").focus();
}

function upload(ev) {
  ev.preventDefault();
  const files = $("upload-files").files;
  if (!files.length) { say("Choose at least one file.", true); return; }
  const fd = new FormData();
  // The collection goes first: the server applies it to the files after it.
  const coll = $("upload-collection").value.trim();
  if (coll) fd.append("collection", coll);
  for (const f of files) fd.append("file", f, f.name);

  const bar = $("upload-progress"), pct = $("upload-percent"), button = $("upload-button");
  const results = $("upload-results");
  results.replaceChildren();
  bar.value = 0; pct.textContent = "0%";
  button.disabled = true;
  const xhr = new XMLHttpRequest();
  xhr.open("POST", "/api/assets");
  xhr.responseType = "json";
  xhr.upload.onprogress = (e) => {
    if (!e.lengthComputable) return;
    const p = Math.round((e.loaded / e.total) * 100);
    bar.value = p; bar.textContent = p + "%"; pct.textContent = p + "%";
  };
  xhr.onload = () => {
    button.disabled = false;
    const body = xhr.response;
    if (Array.isArray(body)) {
      for (const r of body) {
        const text = r.error ? r.name + ": " + r.error.message
          : r.name + (r.duplicate ? ": already stored" : ": stored");
        results.append(el("li", { class: r.error ? "error" : "", text }));
      }
      say("Upload finished.");
    } else {
      const msg = body && body.error ? body.error.message : xhr.status + " " + xhr.statusText;
      say("Upload failed: " + msg, true);
    }
    state.page = 0; state.cursors = [""];
    loadPage();
  };
  xhr.onerror = () => { button.disabled = false; say("Upload failed: the connection broke.", true); };
  xhr.send(fd);
}

function init() {
  $("upload-form").addEventListener("submit", upload);
  $("player-close").addEventListener("click", closePlayer);
  $("filter-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    state.collection = $("filter-collection").value.trim();
    state.kind = $("filter-kind").value;
    state.page = 0; state.cursors = [""];
    loadPage();
  });
  $("page-prev").addEventListener("click", () => { if (state.page > 0) { state.page--; loadPage(); } });
  $("page-next").addEventListener("click", () => {
    if (state.cursors.length > state.page + 1) { state.page++; loadPage(); }
  });
  document.addEventListener("keydown", (e) => {
    if (e.key === "Escape" && !$("player-section").hidden) closePlayer();
  });
  loadPage();
}

document.addEventListener("DOMContentLoaded", init);
