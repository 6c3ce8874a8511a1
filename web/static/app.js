// glasshouse page: search, list assets, play one at the moment a search hit
// points to, upload files. No framework, no build step. Everything shown
// from the server goes through textContent or attributes, never parsed as
// HTML markup; search snippets (server-escaped text with <mark> around the
// matches) are split on the marks and built as nodes.
//
// Views are chosen by the URL hash, so that links can be shared and the
// back button works:
//   #/                      assets and upload
//   #/search?q=...&cursor=  search results
//   #/asset/ID?t=12.5       one asset, played from second 12.5
//   #/audit                 the tenant's audit log
//   #/admin                 users (admins) and API tokens
// Nothing but the sign-in form shows until GET /api/session names the
// caller; controls the caller's role does not allow are not shown.
"use strict";

const PAGE_SIZE = 20;
const SEARCH_PAGE_SIZE = 10;
const state = { cursors: [""], page: 0, collection: "", kind: "", sort: "newest" };
// shown: the query and cursor on show; lastHit: the hit link followed.
const searchState = { q: "", cursors: [""], page: 0, seq: 0, shown: "", lastHit: null, reload: false };
// The asset being shown: its id, media element and the insight nodes that
// follow playback ({start, end, node, list}; times in ms).
const player = { id: null, media: null, timeline: [], seq: 0 };

function $(id) { return document.getElementById(id); }

// me is the signed-in caller (GET /api/session): user, tenant, role,
// permissions and the CSRF token for state-changing requests.
const me = { info: null };
function can(perm) { return !!(me.info && me.info.permissions && me.info.permissions.includes(perm)); }
function csrfHeaders(h) { return Object.assign({}, h || {}, me.info && me.info.csrf ? { "X-CSRF-Token": me.info.csrf } : {}); }

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
  init = init || {};
  const method = (init.method || "GET").toUpperCase();
  if (method !== "GET" && method !== "HEAD") init.headers = csrfHeaders(init.headers);
  const res = await fetch(path, init);
  if (res.status === 401 && path !== "/api/session") showSignIn();
  if (res.status === 204) return null;
  let body = null;
  try { body = await res.json(); } catch (_) { /* not JSON */ }
  if (!res.ok) {
    const msg = body && body.error ? body.error.message + " (" + body.error.code + ")" : res.status + " " + res.statusText;
    const err = new Error(msg);
    err.status = res.status;
    if (body && body.error) { err.code = body.error.code; err.detail = body.error.message; }
    throw err;
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
  return fmtClock(Math.round(ms / 1000));
}

// fmtTime formats a media time in ms as m:ss (h:mm:ss past an hour); 0 is
// "0:00". Seconds are truncated, so a hit at 4.9 s reads 0:04.
function fmtTime(ms) {
  return fmtClock(Math.max(0, Math.floor((ms || 0) / 1000 + 1e-6)));
}

function fmtClock(s) {
  const h = Math.floor(s / 3600); s -= h * 3600;
  const m = Math.floor(s / 60); s -= m * 60;
  const pad = (x) => String(x).padStart(2, "0");
  return (h ? h + ":" + pad(m) : m) + ":" + pad(s);
}

function fmtRange(startMS, endMS) {
  if (endMS > startMS) return fmtTime(startMS) + "–" + fmtTime(endMS);
  return fmtTime(startMS);
}

// unescapeHTML turns the entities the server's HTML escaping produces back
// into characters (the result only ever goes into text nodes).
function unescapeHTML(s) {
  const named = { amp: "&", lt: "<", gt: ">", quot: "\"", apos: "'", nbsp: "\u00a0" };
  return s.replace(/&(#x[0-9a-fA-F]+|#[0-9]+|[a-zA-Z]+);/g, (m, ent) => {
    if (ent[0] === "#") {
      const n = ent[1] === "x" || ent[1] === "X" ? parseInt(ent.slice(2), 16) : parseInt(ent.slice(1), 10);
      return n > 0 && n <= 0x10ffff ? String.fromCodePoint(n) : m;
    }
    return Object.prototype.hasOwnProperty.call(named, ent) ? named[ent] : m;
  });
}

// snippetNodes builds the nodes of a server snippet: text, with <mark>
// elements where the server put <mark>...</mark>. Any other markup stays
// text, so nothing else from the snippet can become an element.
function snippetNodes(snippet) {
  const out = [];
  let inMark = false;
  for (const part of String(snippet || "").split(/(<\/?mark>)/)) {
    if (part === "<mark>") { inMark = true; continue; }
    if (part === "</mark>") { inMark = false; continue; }
    if (!part) continue;
    const text = unescapeHTML(part);
    out.push(inMark ? el("mark", { text }) : document.createTextNode(text));
  }
  return out;
}

// byteToIndex turns a byte offset into the UTF-8 form of s (what the query
// parser reports) into an index into the JavaScript string.
function byteToIndex(s, bytes) {
  let b = 0, i = 0;
  for (const ch of s) {
    if (b >= bytes) break;
    const cp = ch.codePointAt(0);
    b += cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
    i += ch.length;
  }
  return i;
}

// ---------------------------------------------------------------------------
// Routing

function parseHash(hash) {
  if (!hash || !hash.startsWith("#/")) return null;
  const rest = hash.slice(1);
  const qi = rest.indexOf("?");
  const path = qi < 0 ? rest : rest.slice(0, qi);
  const params = new URLSearchParams(qi < 0 ? "" : rest.slice(qi + 1));
  const parts = path.split("/").filter(Boolean).map((p) => { try { return decodeURIComponent(p); } catch (_) { return p; } });
  return { parts, params };
}

function assetHash(id, sec) {
  let h = "#/asset/" + encodeURIComponent(id);
  if (sec != null && isFinite(sec)) h += "?t=" + String(Math.round(sec * 1000) / 1000);
  return h;
}

function searchHash(q, cursor) {
  const p = new URLSearchParams({ q });
  if (cursor) p.set("cursor", cursor);
  return "#/search?" + p.toString();
}

function route() {
  const r = parseHash(location.hash);
  if (!r || !r.parts.length) { showHome(); return; }
  if (r.parts[0] === "search") {
    runSearch(r.params.get("q") || "", r.params.get("cursor") || "");
  } else if (r.parts[0] === "audit") {
    showAudit();
  } else if (r.parts[0] === "admin") {
    showAdmin();
  } else if (r.parts[0] === "asset" && r.parts[1]) {
    const t = r.params.has("t") ? parseFloat(r.params.get("t")) : null;
    showAsset(r.parts[1], t !== null && isFinite(t) && t >= 0 ? t : null);
  } else {
    showHome();
  }
}

function go(hash) {
  if (location.hash === hash) route();
  else location.hash = hash;
}

function setView(name) {
  $("signin-section").hidden = name !== "signin";
  $("admin-section").hidden = name !== "admin";
  $("search-section").hidden = name !== "search";
  $("player-section").hidden = name !== "asset";
  $("upload-section").hidden = name !== "home" || !can("assets.write");
  $("assets-section").hidden = name !== "home";
  $("audit-section").hidden = name !== "audit";
  if (name !== "asset") stopPlayer();
}

// The audit log of the tenant, newest first (the last 200 events).
async function showAudit() {
  setView("audit");
  document.title = "Audit log – glasshouse";
  $("audit-heading").focus();
  const body = $("audit-body");
  body.replaceChildren();
  let evs;
  try {
    evs = await api("/api/audit?limit=10000");
  } catch (err) {
    say("Could not read the audit log: " + err.message, true);
    return;
  }
  evs = (evs || []).slice(-200).reverse();
  for (const e of evs) {
    const detail = e.detail ? JSON.stringify(e.detail) : "";
    body.append(el("tr", {},
      el("td", { class: "num", text: String(e.seq) }),
      el("td", { text: new Date(e.time).toLocaleString() }),
      el("td", { text: e.actor }),
      el("td", { text: e.action }),
      el("td", {}, e.target && /^[0-9a-f-]{36}$/.test(e.target) ? el("a", { href: assetHash(e.target, null), text: e.target.slice(0, 8) + "…" }) : el("span", { text: e.target || "" })),
      el("td", { class: "detail", text: detail.length > 120 ? detail.slice(0, 117) + "…" : detail }),
      el("td", { class: "hash", title: e.hash, text: e.hash.slice(0, 12) + "…" })));
  }
  if (!evs.length) body.append(el("tr", {}, el("td", { colspan: 7, text: "No events yet." })));
}

function showHome() {
  if (!can("assets.read")) { // an auditor: the audit log is the home page
    if (can("audit.read")) showAudit(); else showAdmin();
    return;
  }
  setView("home");
  document.title = "glasshouse";
  loadPage();
}

// ---------------------------------------------------------------------------
// Search

const HIT_KINDS = {
  speech: "speech", text: "on-screen text", label: "label",
  keyword: "keyword", name: "file name", note: "note",
};

function clearSearchError() {
  $("search-error").replaceChildren();
  $("search-q").removeAttribute("aria-invalid");
}

// showSearchError shows the parser's message next to the box and points at
// the position it names ("unterminated quote at 11": a byte offset).
function showSearchError(q, message) {
  const box = $("search-error");
  const input = $("search-q");
  message = message.replace(/^[A-Za-z0-9_.]+: /, ""); // the server's operation name
  box.replaceChildren(el("strong", { text: "Query error: " }), message);
  const m = / at (\d+)$/.exec(message);
  if (m) {
    const pos = Math.min(byteToIndex(q, parseInt(m[1], 10)), q.length);
    box.append(" (character " + (pos + 1) + ")",
      el("code", { class: "query-echo", "aria-hidden": "true" },
        q.slice(0, pos), el("mark", { class: "err", text: q.slice(pos, pos + 1) || " " }), q.slice(pos + 1)));
    input.focus();
    input.setSelectionRange(pos, Math.min(pos + 1, q.length));
  } else {
    input.focus();
  }
  input.setAttribute("aria-invalid", "true");
}

async function runSearch(q, cursor) {
  setView("search");
  const input = $("search-q");
  if (input.value !== q) input.value = q;
  clearSearchError();
  document.title = q ? q + " – glasshouse search" : "glasshouse search";
  const list = $("search-results");
  if (!q.trim()) {
    list.replaceChildren();
    $("search-total").textContent = "Type a query in the search box.";
    $("search-prev").disabled = $("search-next").disabled = true;
    return;
  }
  // Coming back (history) to the page on show keeps it as it was, with
  // the focus on the hit that was followed; the search button reloads.
  $("search-heading").textContent = q ? "Results for “" + q + "”" : "Search results";
  const key = q + "\u0000" + (cursor || "");
  if (searchState.shown === key && !searchState.reload) {
    if (searchState.lastHit && document.body.contains(searchState.lastHit)) searchState.lastHit.focus();
    return;
  }
  searchState.reload = false;
  searchState.shown = "";
  if (searchState.q !== q) { searchState.q = q; searchState.cursors = [""]; }
  let page = searchState.cursors.indexOf(cursor || "");
  if (page < 0) { searchState.cursors = ["", cursor]; page = 1; }
  searchState.page = page;
  const seq = ++searchState.seq;
  const params = new URLSearchParams({ q, limit: SEARCH_PAGE_SIZE });
  if (cursor) params.set("cursor", cursor);
  $("search-total").textContent = "Searching…";
  let res;
  try {
    res = await api("/api/search?" + params.toString());
  } catch (err) {
    if (seq !== searchState.seq) return;
    list.replaceChildren();
    $("search-prev").disabled = $("search-next").disabled = true;
    if (err.code === "invalid" && err.detail) {
      $("search-total").textContent = "No search: the query has an error.";
      showSearchError(q, err.detail);
    } else {
      $("search-total").textContent = "";
      say("Search failed: " + err.message, true);
    }
    return;
  }
  // The groups carry the names, durations and thumbnails of their assets
  // (no extra request, so no extra "view" in the audit log per result).
  const assets = res.assets.map((g) => ({
    id: g.asset, name: g.name || g.asset, kind: g.media_kind, thumb: g.thumb || "",
    probe: { duration_ms: g.duration_ms || 0 },
  }));
  if (seq !== searchState.seq) return;
  list.replaceChildren();
  res.assets.forEach((g, i) => list.append(resultGroup(g, assets[i])));
  const n = res.total;
  $("search-total").textContent = n === 0 ? "Nothing found."
    : (res.total_estimated ? "at least " : "") + n + " asset" + (n === 1 ? "" : "s") + " found" + (searchState.page ? ", page " + (searchState.page + 1) : "") + ".";
  searchState.cursors.length = searchState.page + 1;
  if (res.next) searchState.cursors.push(res.next);
  $("search-prev").disabled = searchState.page === 0;
  $("search-next").disabled = !res.next;
  $("search-page").textContent = "Page " + (searchState.page + 1);
  $("search-heading").textContent = "Results for “" + q + "”";
  searchState.shown = key;
  searchState.lastHit = null;
}

function resultGroup(g, a) {
  const name = a ? a.name : g.asset;
  const kind = a ? a.kind : g.media_kind;
  const playable = kind === "video" || kind === "audio";
  const headingId = "result-" + g.asset;
  const hits = el("ol", { class: "hits", "aria-labelledby": headingId });
  for (const h of g.hits || []) hits.append(el("li", {}, hitLink(g, a, h, name, playable)));
  const meta = [kind];
  if (a && a.probe && a.probe.duration_ms) meta.push(fmtDuration(a.probe.duration_ms));
  if (g.collection) meta.push("collection " + g.collection);
  return el("li", { class: "result" },
    el("h3", { id: headingId },
      el("a", { href: assetHash(g.asset, null), text: name }),
      el("span", { class: "meta", text: " · " + meta.join(" · ") })),
    hits);
}

function hitLink(g, a, h, name, playable) {
  // A file name or note is no moment: those hits open the asset at the start.
  const timed = playable && h.kind !== "name" && h.kind !== "note" && (h.end_ms > 0 || h.start_ms > 0);
  const sec = timed ? h.start_ms / 1000 : null;
  let thumb;
  const when = timed ? " at " + fmtTime(h.start_ms) : "";
  if (h.thumb) {
    thumb = el("img", { class: "thumb", src: "/api/blobs/" + encodeURIComponent(h.thumb), alt: "Frame of " + name + when, loading: "lazy" });
  } else if (a && a.thumb) {
    thumb = el("img", { class: "thumb", src: "/api/assets/" + encodeURIComponent(g.asset) + "/thumb", alt: "Thumbnail of " + name, loading: "lazy" });
  } else {
    thumb = el("span", { class: "nothumb", role: "img", "aria-label": "No thumbnail", text: g.media_kind || "" });
  }
  return el("a", {
    class: "hit", href: assetHash(g.asset, sec), "data-start-ms": h.start_ms,
    onclick: (e) => { searchState.lastHit = e.currentTarget; },
  },
    thumb,
    el("span", { class: "hit-body" },
      el("span", { class: "hit-head" },
        el("span", { class: "badge badge-" + h.kind, text: HIT_KINDS[h.kind] || h.kind }),
        timed ? el("span", { class: "time", text: fmtRange(h.start_ms, h.end_ms) }) : null),
      el("span", { class: "snippet" }, ...snippetNodes(h.snippet))));
}

// ---------------------------------------------------------------------------
// Assets list

function runsList(runs, assetID) {
  const ul = el("ul", { class: "runs", "data-asset": assetID || "" });
  for (const r of runs || []) {
    const text = r.name + ": " + r.state + (r.error ? " (" + r.error + ")" : "");
    ul.append(el("li", { class: "state-" + r.state, "data-kind": r.name, text }));
  }
  const live = jobStates.get(assetID);
  if (live) for (const ev of live.values()) showJob(ul, ev);
  if (!ul.childElementCount) ul.append(el("li", { class: "none", text: "—" }));
  return ul;
}

// Live job states from the server's event stream (GET /api/events): the
// server reads the queue and sends only changes, so the page does not poll.
const jobStates = new Map(); // asset id -> Map(kind -> event)

function showJob(ul, ev) {
  let li = [...ul.children].find((x) => x.dataset.kind === ev.kind);
  if (!li) {
    const none = ul.querySelector("li.none");
    if (none) none.remove();
    li = el("li", { "data-kind": ev.kind });
    ul.append(li);
  }
  const pct = ev.state === "running" && ev.progress > 0 ? " " + Math.round(ev.progress * 100) + "%" : "";
  li.className = "state-" + ev.state;
  li.textContent = ev.kind + ": " + ev.state + pct + (ev.state === "failed" && ev.error ? " (" + ev.error + ")" : "");
}

function onJobEvent(ev) {
  if (!jobStates.has(ev.asset)) jobStates.set(ev.asset, new Map());
  const known = jobStates.get(ev.asset).get(ev.kind);
  if (known && known.job > ev.job) return; // an older version's job
  jobStates.get(ev.asset).set(ev.kind, ev);
  for (const ul of document.querySelectorAll("ul.runs")) {
    if (ul.dataset.asset === ev.asset) showJob(ul, ev);
  }
}

function followJobs() {
  if (typeof EventSource !== "function") return null;
  const es = new EventSource("/api/events");
  es.addEventListener("job", (m) => {
    try { onJobEvent(JSON.parse(m.data)); } catch (e) { /* ignore a malformed event */ }
  });
  return es;
}

function contentURL(a) { return "/api/assets/" + encodeURIComponent(a.id) + "/content"; }

async function loadPage() {
  const q = new URLSearchParams({ limit: PAGE_SIZE });
  const cursor = state.cursors[state.page];
  if (cursor) q.set("cursor", cursor);
  if (state.collection) q.set("collection", state.collection);
  if (state.kind) q.set("kind", state.kind);
  if (state.sort && state.sort !== "newest") q.set("sort", state.sort);
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
    body.append(el("tr", {}, el("td", { colspan: 8, text: "No assets yet." })));
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
    el("td", {}, el("a", { href: assetHash(a.id, null), class: "asset-link", text: a.name, "aria-label": "Show " + a.name })),
    el("td", { text: a.kind }),
    el("td", { text: a.collection || "—" }),
    el("td", { class: "num", text: dur }),
    el("td", { class: "num", text: fmtSize(a.size) }),
    el("td", {}, runsList(a.runs, a.id)),
    el("td", {},
      el("a", { href: contentURL(a) + "?download=1", text: "Download", "aria-label": "Download " + a.name })),
  );
}

// ---------------------------------------------------------------------------
// Asset view: player and insights

// seekTo moves the player to sec once its metadata is loaded and, if play,
// starts it. A refused play() (autoplay policy) leaves it paused there.
function seekTo(sec, play) {
  const m = player.media;
  if (!m || typeof m.play !== "function") return;
  const goThere = () => {
    const d = m.duration;
    m.currentTime = isFinite(d) && d > 0 ? Math.min(sec, d) : sec;
    if (play) {
      const p = m.play();
      if (p && p.catch) p.catch((err) => say("Press play to start (" + err.name + ").", false));
    }
  };
  if (m.readyState >= 1) goThere();
  else m.addEventListener("loadedmetadata", goThere, { once: true });
}

// seekFromInsight seeks and records the moment in the URL (without a new
// history entry), so the address bar can be shared.
function seekFromInsight(ms) {
  seekTo(ms / 1000, true);
  if (player.id) history.replaceState(null, "", assetHash(player.id, ms / 1000));
}

function stopPlayer() {
  const p = $("player");
  for (const m of p.querySelectorAll("video, audio")) m.pause();
}

function closePlayer() {
  stopPlayer();
  go("#/");
}

async function showAsset(id, t) {
  const already = player.id === id && player.media && !$("player-section").hidden;
  setView("asset");
  $("asset-delete").hidden = !can("assets.delete");
  if (already) {
    if (t != null) seekTo(t, true);
    return;
  }
  const seq = ++player.seq;
  // Drop the previous player at once, so nothing stale plays or shows.
  stopPlayer();
  $("player").replaceChildren(el("p", { class: "hint", text: "Loading…" }));
  $("insights").replaceChildren();
  player.id = null; player.media = null; player.timeline = [];
  let a;
  try {
    a = await api("/api/assets/" + encodeURIComponent(id));
  } catch (err) {
    if (seq !== player.seq) return;
    $("player").replaceChildren(el("p", { class: "error", text: "Could not open the asset: " + err.message }));
    $("player-heading").textContent = "Asset not available";
    $("insights").replaceChildren();
    $("player-details").replaceChildren();
    player.id = null; player.media = null;
    say("Could not open the asset: " + err.message, true);
    return;
  }
  if (seq !== player.seq) return;
  const box = $("player");
  box.replaceChildren();
  const src = contentURL(a);
  let media = null;
  if (a.kind === "video") {
    media = el("video", { src, controls: true, preload: "metadata", "aria-label": a.name });
    if (a.poster) media.poster = "/api/assets/" + encodeURIComponent(a.id) + "/poster";
    // Captions from the transcript (an empty file until speech has run).
    media.append(el("track", { kind: "captions", src: exportURL(a.id, "vtt"), srclang: "en", label: "Transcript (automatic)", default: true }));
    box.append(media);
  } else if (a.kind === "audio") {
    media = el("audio", { src, controls: true, preload: "metadata", "aria-label": a.name });
    box.append(media);
  } else {
    box.append(el("img", { src, alt: a.name }));
  }
  player.id = a.id;
  player.media = media;
  player.timeline = [];
  if (media) {
    media.addEventListener("timeupdate", followPlayback);
    media.addEventListener("seeked", followPlayback);
  }
  $("player-position").textContent = "";
  renderDetails(a);
  renderDownloads(a);
  $("player-heading").textContent = a.name;
  document.title = a.name + " – glasshouse";
  $("player-heading").focus();
  if (t != null) seekTo(t, true);
  $("insights").replaceChildren(el("p", { class: "hint", text: "Loading what was found…" }));
  let ins;
  try {
    ins = await api("/api/assets/" + encodeURIComponent(id) + "/insights");
  } catch (err) {
    if (seq !== player.seq) return;
    $("insights").replaceChildren(el("p", { class: "error", text: "Could not load the insights: " + err.message }));
    return;
  }
  if (seq !== player.seq) return;
  renderInsights(ins || {}, a);
  followPlayback();
}

function exportURL(id, format, download) {
  return "/api/assets/" + encodeURIComponent(id) + "/export?format=" + format + (download ? "&download=1" : "");
}

function renderDownloads(a) {
  const nav = $("player-downloads");
  const list = el("ul", { class: "downloads" });
  const link = (href, text) => list.append(el("li", {}, el("a", { href, download: "", text })));
  link(contentURL(a) + "?download=1", "Original file");
  if (a.kind !== "image") {
    link(exportURL(a.id, "vtt", true), "Captions (WebVTT)");
    link(exportURL(a.id, "srt", true), "Captions (SRT)");
  }
  link(exportURL(a.id, "json", true), "Insights (JSON)");
  link(exportURL(a.id, "csv", true), "Insights (CSV)");
  nav.replaceChildren(el("h3", { text: "Download" }), list);
}

function renderDetails(a) {
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
  dl.append(el("dt", { text: "Analyzers" }), el("dd", {}, runsList(a.runs, a.id)));
}

// followPlayback marks the insight entries under the play position and
// keeps the current transcript line in view inside its list.
function followPlayback() {
  const m = player.media;
  if (!m) return;
  const ms = m.currentTime * 1000;
  const d = m.duration;
  $("player-position").textContent = fmtTime(ms) + (isFinite(d) ? " / " + fmtTime(d * 1000) : "");
  for (const it of player.timeline) {
    const on = it.start <= ms && ms < it.end;
    if (on === it.node.classList.contains("current")) continue;
    it.node.classList.toggle("current", on);
    if (on) it.node.setAttribute("aria-current", "time");
    else it.node.removeAttribute("aria-current");
    if (on && it.list) {
      const l = it.list, n = it.node.parentElement || it.node;
      if (n.offsetTop < l.scrollTop || n.offsetTop + n.offsetHeight > l.scrollTop + l.clientHeight) {
        l.scrollTop = Math.max(0, n.offsetTop - l.clientHeight / 3);
      }
    }
  }
}

function insightSection(id, title, count) {
  const h = el("h3", { id: id + "-heading" }, title, count != null ? el("span", { class: "count", text: " (" + count + ")" }) : null);
  return el("section", { class: "insight", id, "aria-labelledby": id + "-heading" }, h);
}

function none(text) { return el("p", { class: "hint", text: text || "None found." }); }

// seekButton is one clickable moment of an insight list.
function seekButton(startMS, endMS, label, playable, follow, list, extra) {
  const b = el("button", {
    type: "button", class: "seek",
    "aria-label": (playable ? "Play from " + fmtTime(startMS) + ": " : "") + label,
    disabled: !playable,
  }, el("span", { class: "time", text: fmtRange(startMS, endMS) }), " ", extra || el("span", { class: "seg-text", text: label }));
  if (playable) b.addEventListener("click", () => seekFromInsight(startMS));
  if (follow) player.timeline.push({ start: startMS, end: endMS > startMS ? endMS : startMS + 1, node: b, list });
  return b;
}

function byStart(a, b) { return (a.start_ms - b.start_ms) || (a.end_ms - b.end_ms); }

function renderInsights(ins, a) {
  const aside = $("insights");
  aside.replaceChildren();
  const playable = !!player.media;
  const ran = new Set((a.runs || []).map((r) => r.name));
  const missing = (name) => ran.has(name) ? none() : none("Not analysed.");

  // Transcript
  const tr = (ins.transcript || []).slice().sort(byStart);
  const ts = insightSection("insight-transcript", "Transcript", tr.length);
  if (tr.length) {
    const ol = el("ol", { class: "transcript timed" });
    for (const s of tr) ol.append(el("li", {}, seekButton(s.start_ms, s.end_ms, s.text, playable, true, ol)));
    ts.append(ol);
  } else ts.append(a.kind === "image" ? none("No sound in an image.") : missing("speech"));
  aside.append(ts);

  // OCR
  const ocr = (ins.ocr || []).slice().sort(byStart);
  const os = insightSection("insight-ocr", "Text on screen", ocr.length);
  if (ocr.length) {
    const ol = el("ol", { class: "ocr timed" });
    for (const o of ocr) ol.append(el("li", {}, seekButton(o.start_ms, o.end_ms, o.text, playable, true, ol)));
    os.append(ol);
  } else os.append(missing("ocr"));
  aside.append(os);

  // Shots and keyframes
  const shots = (ins.shots || []).slice().sort(byStart);
  if (shots.length || (ins.keyframes || []).length) {
    const kf = new Map();
    for (const k of ins.keyframes || []) if (!kf.has(k.shot) && (k.thumb || k.image)) kf.set(k.shot, k);
    const ss = insightSection("insight-shots", "Shots", shots.length);
    const strip = el("ol", { class: "strip" });
    for (const s of shots) {
      const k = kf.get(s.index);
      const label = "Shot " + (s.index + 1);
      const img = k ? el("img", { src: "/api/blobs/" + encodeURIComponent(k.thumb || k.image), alt: label + " at " + fmtTime(k.time_ms) }) : null;
      strip.append(el("li", {}, seekButton(s.start_ms, s.end_ms, label, playable, true, strip, el("span", { class: "shot" }, img, el("span", { class: "seg-text", text: label })))));
    }
    ss.append(strip);
    aside.append(ss);
  }

  // Labels
  const labels = (ins.labels || []).slice().sort((x, y) => y.confidence - x.confidence);
  const ls = insightSection("insight-labels", "Labels", labels.length);
  if (labels.length) {
    const ul = el("ul", { class: "chips" });
    for (const l of labels) {
      const li = el("li", { class: "chip" }, el("span", { class: "chip-name", text: l.name }),
        el("span", { class: "hint", text: " " + Math.round((l.confidence || 0) * 100) + "%" }));
      for (const r of (l.ranges || []).slice(0, 6)) {
        if (playable && r.end_ms > r.start_ms) li.append(" ", seekButton(r.start_ms, r.end_ms, l.name, true, false, null, el("span", { class: "visually-hidden", text: l.name })));
      }
      ul.append(li);
    }
    ls.append(ul);
  } else ls.append(missing("labels"));
  aside.append(ls);

  // Faces: how many, when. Never who.
  const fs = faceCounts(ins.faces || []);
  const fsec = insightSection("insight-faces", "Faces detected", null);
  if (fs.length) {
    const ol = el("ol", { class: "faces timed" });
    for (const f of fs) {
      const label = f.count + " face" + (f.count === 1 ? "" : "s");
      if (f.end > f.start) ol.append(el("li", {}, seekButton(f.start, f.end, label, playable, true, ol)));
      else ol.append(el("li", { text: label + " in the picture" }));
    }
    fsec.append(ol, el("p", { class: "hint", text: "Counts only: glasshouse never identifies people." }));
  } else fsec.append(missing("faces"));
  aside.append(fsec);

  // Keywords
  const kws = ins.keywords || [];
  const ks = insightSection("insight-keywords", "Keywords", kws.length);
  if (kws.length) {
    const ul = el("ul", { class: "chips" });
    for (const k of kws) {
      const r = (k.ranges || [])[0];
      if (playable && r && r.end_ms >= r.start_ms && (r.end_ms > 0 || r.start_ms > 0)) {
        ul.append(el("li", {}, el("button", {
          type: "button", class: "chip seek", text: k.text,
          "aria-label": "Play from " + fmtTime(r.start_ms) + ": " + k.text,
          onclick: () => seekFromInsight(r.start_ms),
        })));
      } else {
        ul.append(el("li", { class: "chip", text: k.text }));
      }
    }
    ks.append(ul);
  } else ks.append(missing("keywords"));
  aside.append(ks);
}

// faceCounts turns face detections (a box over a time range each) into
// spans with the number of faces seen at once: [{start, end, count}].
// Stills (no time range) give one entry with start = end = 0.
function faceCounts(faces) {
  if (!faces.length) return [];
  if (faces.every((f) => !(f.end_ms > f.start_ms))) return [{ start: 0, end: 0, count: faces.length }];
  const pts = [...new Set(faces.flatMap((f) => [f.start_ms, f.end_ms]))].sort((x, y) => x - y);
  const out = [];
  for (let i = 0; i + 1 < pts.length; i++) {
    const s = pts[i], e = pts[i + 1];
    const count = faces.filter((f) => f.start_ms < e && f.end_ms > s).length;
    const last = out[out.length - 1];
    if (last && last.count === count && last.end === s) last.end = e;
    else out.push({ start: s, end: e, count });
  }
  return out.filter((x) => x.count > 0);
}

// ---------------------------------------------------------------------------
// Upload

function upload(ev) {
  ev.preventDefault();
  const files = [...$("upload-files").files];
  if (!files.length) { say("Choose at least one file.", true); return; }
  uploadFiles(files);
}

// uploadFiles sends each file as its own request (raw body, name and
// collection in the query), two at a time, each with its own progress bar;
// the overall bar counts bytes of all of them.
async function uploadFiles(files) {
  const coll = $("upload-collection").value.trim();
  const bar = $("upload-progress"), pct = $("upload-percent"), button = $("upload-button");
  const results = $("upload-results");
  results.replaceChildren();
  const total = files.reduce((n, f) => n + f.size, 0) || 1;
  const sent = new Array(files.length).fill(0);
  const overall = () => {
    const p = Math.round((sent.reduce((a, b) => a + b, 0) / total) * 100);
    bar.value = p; bar.textContent = p + "%"; pct.textContent = p + "%";
  };
  overall();
  button.disabled = true;
  let failed = 0;
  const one = (f, i) => new Promise((resolve) => {
    const prog = el("progress", { max: 100, value: 0, "aria-label": "Upload of " + f.name });
    const status = el("span", { class: "upload-status", text: " waiting" });
    const li = el("li", {}, el("span", { class: "upload-name", text: f.name + " " }), prog, status);
    results.append(li);
    const progress = (loaded, size) => {
      prog.value = size ? Math.round((loaded / size) * 100) : 100;
      status.textContent = " " + prog.value + "%";
      sent[i] = loaded; overall();
    };
    const done = (id, duplicate) => {
      sent[i] = f.size; overall();
      prog.value = 100;
      const text = f.name + (duplicate ? ": already stored" : ": stored");
      // Processing status of this file, kept live by the event stream.
      li.replaceChildren(el("a", { href: assetHash(id, null), text }), " ", prog, runsList([], id));
      resolve();
    };
    const fail = (msg) => { failed++; li.className = "error"; status.textContent = ": " + msg; resolve(); };
    if (window.tus && window.tus.isSupported) {
      // Resumable (tus): a dropped connection resumes where the server
      // stopped, also after a page reload (the upload is remembered).
      let id = "", dup = false;
      const up = new window.tus.Upload(f, {
        endpoint: "/api/uploads/",
        headers: csrfHeaders(),
        metadata: { filename: f.name, collection: coll },
        retryDelays: [0, 1000, 3000, 5000, 10000, 20000],
        removeFingerprintOnSuccess: true,
        onProgress: progress,
        onAfterResponse: (req, res) => {
          const a = res.getHeader("X-Glasshouse-Asset");
          if (a) { id = a; dup = res.getHeader("X-Glasshouse-Duplicate") === "true"; }
        },
        onSuccess: () => (id ? done(id, dup) : fail("the server did not name the stored asset")),
        onError: (err) => {
          let msg = err.message;
          const res = err.originalResponse;
          if (res) {
            try { const b = JSON.parse(res.getBody()); if (b && b.error) msg = b.error.message; } catch (e) { /* not JSON */ }
          }
          fail(msg);
        },
      });
      status.textContent = " 0%";
      up.findPreviousUploads().then((prev) => {
        if (prev.length) up.resumeFromPreviousUpload(prev[0]);
        up.start();
      });
      return;
    }
    const q = new URLSearchParams({ name: f.name });
    if (coll) q.set("collection", coll);
    const xhr = new XMLHttpRequest();
    xhr.open("POST", "/api/assets?" + q.toString());
    xhr.setRequestHeader("Content-Type", "application/octet-stream");
    for (const [k, v] of Object.entries(csrfHeaders())) xhr.setRequestHeader(k, v);
    xhr.responseType = "json";
    xhr.upload.onprogress = (e) => { if (e.lengthComputable) progress(e.loaded, e.total); };
    xhr.onload = () => {
      const body = xhr.response;
      if (xhr.status < 300 && body && body.id) done(body.id, body.duplicate);
      else fail(body && body.error ? body.error.message : xhr.status + " " + xhr.statusText);
    };
    xhr.onerror = () => fail("the connection broke");
    status.textContent = " 0%";
    xhr.send(f);
  });
  let next = 0;
  const lane = async () => { while (next < files.length) { const i = next++; await one(files[i], i); } };
  await Promise.all([lane(), lane()]);
  button.disabled = false;
  say(failed ? "Upload finished: " + failed + " of " + files.length + " failed." : "Upload finished.", failed > 0);
  state.page = 0; state.cursors = [""];
  loadPage();
}

function setupDrop() {
  const zone = $("upload-section");
  const over = (e) => { e.preventDefault(); zone.classList.add("dragging"); };
  zone.addEventListener("dragenter", over);
  zone.addEventListener("dragover", over);
  zone.addEventListener("dragleave", () => zone.classList.remove("dragging"));
  zone.addEventListener("drop", (e) => {
    e.preventDefault();
    zone.classList.remove("dragging");
    const files = [...(e.dataTransfer ? e.dataTransfer.files : [])];
    if (files.length) uploadFiles(files);
  });
}

// ---------------------------------------------------------------------------

// ---------------------------------------------------------------------------
// Sign-in, the caller, users and tokens

function showSignIn() {
  me.info = null;
  $("account").hidden = true;
  document.querySelector("nav.mainnav").hidden = true;
  $("search-form").hidden = true;
  setView("signin");
  document.title = "Sign in – glasshouse";
  $("signin-user").focus();
}

async function signIn(ev) {
  ev.preventDefault();
  $("signin-error").textContent = "";
  try {
    me.info = await api("/api/session", {
      method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ user: $("signin-user").value, password: $("signin-password").value }),
    });
  } catch (err) {
    $("signin-error").textContent = err.status === 429 ? "Too many attempts: " + err.detail : "Sign-in failed: " + (err.detail || err.message);
    return;
  }
  $("signin-password").value = "";
  signedIn();
}

async function signOut() {
  try { await api("/api/session", { method: "DELETE" }); } catch (err) { /* signed out anyway */ }
  if (jobStream) { jobStream.close(); jobStream = null; }
  showSignIn();
}

let jobStream = null;

// signedIn shows what the caller's role allows and routes.
function signedIn() {
  const i = me.info;
  $("whoami").textContent = i.user + " (" + i.role + (i.tenant ? ", " + i.tenant : "") + ")";
  $("account").hidden = false;
  document.querySelector("nav.mainnav").hidden = false;
  $("search-form").hidden = !can("assets.read");
  $("nav-audit").parentElement.hidden = !can("audit.read");
  $("upload-section").hidden = !can("assets.write");
  if (can("assets.read") && !jobStream) jobStream = followJobs();
  route();
}

function tokenState(t) {
  if (t.revoked) return "revoked";
  if (new Date(t.expires) <= new Date()) return "expired";
  return "active";
}

async function showAdmin() {
  setView("admin");
  document.title = "Users and tokens – glasshouse";
  $("admin-heading").focus();
  $("users-part").hidden = !can("users.manage");
  if (can("users.manage")) {
    const body = $("users-body");
    body.replaceChildren();
    let users = [];
    try { users = await api("/api/users"); } catch (err) { say("Could not list users: " + err.message, true); }
    for (const u of users) {
      const role = el("select", { "aria-label": "Role of " + u.name });
      for (const r of ["viewer", "editor", "admin", "auditor"]) role.append(el("option", { value: r, text: r, selected: r === u.role }));
      role.addEventListener("change", () => changeUser(u.name, { role: role.value }));
      const self = me.info && u.name === me.info.user;
      if (self) role.disabled = true;
      body.append(el("tr", {},
        el("td", { text: u.name }), el("td", {}, role),
        el("td", { text: u.disabled ? "disabled" : "active" }),
        el("td", {}, self ? null : el("button", { type: "button", text: u.disabled ? "Enable" : "Disable",
          "aria-label": (u.disabled ? "Enable " : "Disable ") + u.name, onclick: () => changeUser(u.name, { disabled: !u.disabled }) }))));
    }
  }
  const tbody = $("tokens-body");
  tbody.replaceChildren();
  let toks = [];
  try { toks = await api("/api/tokens" + (can("users.manage") ? "?all=true" : "")); } catch (err) { say("Could not list tokens: " + err.message, true); }
  for (const t of toks) {
    const st = tokenState(t);
    tbody.append(el("tr", {},
      el("td", { text: t.id }), el("td", { text: t.user }), el("td", { text: t.name }), el("td", { text: t.scope }),
      el("td", { text: new Date(t.expires).toLocaleDateString() }), el("td", { text: st }),
      el("td", {}, st === "active" ? el("button", { type: "button", text: "Revoke", "aria-label": "Revoke token " + t.id, onclick: () => revokeToken(t.id) }) : null)));
  }
  if (!toks.length) tbody.append(el("tr", {}, el("td", { colspan: 7, text: "No tokens." })));
}

async function changeUser(name, change) {
  try {
    await api("/api/users/" + encodeURIComponent(name), { method: "PATCH", headers: { "Content-Type": "application/json" }, body: JSON.stringify(change) });
    say("Changed " + name + ".");
  } catch (err) { say("Could not change " + name + ": " + err.message, true); }
  showAdmin();
}

async function addUser(ev) {
  ev.preventDefault();
  const name = $("user-name").value.trim();
  try {
    await api("/api/users", { method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ name, role: $("user-role").value, password: $("user-password").value }) });
    $("user-name").value = ""; $("user-password").value = "";
    say("Added " + name + ".");
  } catch (err) { say("Could not add " + name + ": " + err.message, true); }
  showAdmin();
}

async function createToken(ev) {
  ev.preventDefault();
  try {
    const t = await api("/api/tokens", { method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ name: $("token-name").value, scope: $("token-scope").value, ttl: $("token-ttl").value }) });
    $("token-secret").textContent = "New token (copy it now, it is not shown again): " + t.secret;
  } catch (err) { say("Could not create the token: " + err.message, true); return; }
  showAdmin();
}

async function revokeToken(id) {
  try { await api("/api/tokens/" + encodeURIComponent(id), { method: "DELETE" }); say("Revoked " + id + "."); }
  catch (err) { say("Could not revoke " + id + ": " + err.message, true); }
  showAdmin();
}

async function deleteAsset() {
  const id = player.id;
  if (!id || !window.confirm("Delete this asset, its analysis results and (unless another asset uses it) its file?")) return;
  try { await api("/api/assets/" + encodeURIComponent(id), { method: "DELETE" }); say("Deleted."); go("#/"); }
  catch (err) { say("Could not delete: " + err.message, true); }
}

async function init() {
  setupDrop();
  $("signin-form").addEventListener("submit", signIn);
  $("signout-button").addEventListener("click", signOut);
  $("user-form").addEventListener("submit", addUser);
  $("token-form").addEventListener("submit", createToken);
  $("asset-delete").addEventListener("click", deleteAsset);
  $("grid-toggle").addEventListener("change", (e) => { $("assets-table").classList.toggle("grid", e.target.checked); });
  $("upload-form").addEventListener("submit", upload);
  $("player-close").addEventListener("click", closePlayer);
  $("search-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const q = $("search-q").value;
    if (!q.trim()) { showSearchError(q, "Type something to search for."); return; }
    searchState.reload = true;
    go(searchHash(q, ""));
  });
  $("search-q").addEventListener("input", clearSearchError);
  $("search-prev").addEventListener("click", () => {
    if (searchState.page > 0) go(searchHash(searchState.q, searchState.cursors[searchState.page - 1]));
  });
  $("search-next").addEventListener("click", () => {
    const c = searchState.cursors[searchState.page + 1];
    if (c) go(searchHash(searchState.q, c));
  });
  $("filter-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    state.collection = $("filter-collection").value.trim();
    state.kind = $("filter-kind").value;
    state.sort = $("filter-sort").value;
    state.page = 0; state.cursors = [""];
    loadPage();
  });
  $("page-prev").addEventListener("click", () => { if (state.page > 0) { state.page--; loadPage(); } });
  $("page-next").addEventListener("click", () => {
    if (state.cursors.length > state.page + 1) { state.page++; loadPage(); }
  });
  // The skip link moves focus without touching the hash (which routes).
  document.querySelector("a.skip").addEventListener("click", (e) => {
    e.preventDefault();
    $("main").focus();
  });
  document.addEventListener("keydown", (e) => {
    if (e.key !== "Escape" || $("player-section").hidden) return;
    const t = e.target;
    if (t && (t.tagName === "INPUT" || t.tagName === "SELECT" || t.tagName === "TEXTAREA")) return;
    closePlayer();
  });
  window.addEventListener("hashchange", () => { if (me.info) route(); });
  try {
    me.info = await api("/api/session");
  } catch (err) {
    showSignIn();
    return;
  }
  signedIn();
}

document.addEventListener("DOMContentLoaded", init);
