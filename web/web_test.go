package web

import (
	"context"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/glasshouse/glasshouse/media"
)

func read(t *testing.T, name string) string {
	t.Helper()
	b, err := fs.ReadFile(Files(), name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestHandlerServesPage(t *testing.T) {
	h := Handler()
	for path, want := range map[string]string{
		"/":          "text/html",
		"/app.js":    "text/javascript",
		"/style.css": "text/css",
	} {
		rr := httptest.NewRecorder()
		h.ServeHTTP(rr, httptest.NewRequest(http.MethodGet, path, nil))
		if rr.Code != 200 || !strings.HasPrefix(rr.Header().Get("Content-Type"), want) {
			t.Errorf("GET %s: %d %q, want 200 %s", path, rr.Code, rr.Header().Get("Content-Type"), want)
		}
		if csp := rr.Header().Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'self'") {
			t.Errorf("GET %s: CSP = %q", path, csp)
		}
	}
	rr := httptest.NewRecorder()
	h.ServeHTTP(rr, httptest.NewRequest(http.MethodGet, "/missing.js", nil))
	if rr.Code != 404 {
		t.Errorf("GET /missing.js: %d, want 404", rr.Code)
	}
}

// TestPageIsSelfContained: no CDN, everything the page loads is embedded.
func TestPageIsSelfContained(t *testing.T) {
	for _, name := range []string{"index.html", "app.js", "style.css"} {
		s := read(t, name)
		if m := regexp.MustCompile(`(?i)(https?:)?//[a-z0-9.-]+\.[a-z]{2,}/`).FindString(s); m != "" {
			t.Errorf("%s refers to an outside URL %q", name, m)
		}
	}
	index := read(t, "index.html")
	for _, m := range regexp.MustCompile(`(?:src|href)="([^"#]+)"`).FindAllStringSubmatch(index, -1) {
		if strings.HasPrefix(m[1], "/api/") {
			continue
		}
		if _, err := fs.Stat(Files(), strings.TrimPrefix(m[1], "/")); err != nil {
			t.Errorf("index.html loads %q, which is not embedded", m[1])
		}
	}
}

// TestAccessibleBasics: every form control has a label, images get alt
// text, the page declares its language.
func TestAccessibleBasics(t *testing.T) {
	index := read(t, "index.html")
	if !strings.Contains(index, `<html lang="en">`) {
		t.Error("index.html has no lang")
	}
	labels := map[string]bool{}
	for _, m := range regexp.MustCompile(`<label for="([^"]+)"`).FindAllStringSubmatch(index, -1) {
		labels[m[1]] = true
	}
	controls := regexp.MustCompile(`<(input|select|textarea|progress)[^>]*\sid="([^"]+)"`).FindAllStringSubmatch(index, -1)
	if len(controls) < 5 {
		t.Fatalf("found only %d form controls", len(controls))
	}
	for _, m := range controls {
		if !labels[m[2]] {
			t.Errorf("<%s id=%q> has no <label for>", m[1], m[2])
		}
	}
	js := read(t, "app.js")
	imgs := regexp.MustCompile(`el\("img", \{[^}]*\}`).FindAllString(js, -1)
	if len(imgs) == 0 {
		t.Fatal("app.js builds no images; the check is stale")
	}
	for _, img := range imgs {
		if !strings.Contains(img, "alt:") {
			t.Errorf("image without alt text: %s", img)
		}
	}
	if strings.Contains(js, "innerHTML") {
		t.Error("app.js uses innerHTML; build nodes with textContent")
	}
	if !strings.Contains(js, "upload.onprogress") {
		t.Error("app.js has no upload progress")
	}
}

// TestAppJSHelpers loads app.js in node with a stub document and checks
// its formatting helpers. Skipped where node is not installed.
func TestAppJSHelpers(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node not installed")
	}
	dir := t.TempDir()
	app := filepath.Join(dir, "app.js")
	if err := os.WriteFile(app, []byte(read(t, "app.js")), 0o600); err != nil {
		t.Fatal(err)
	}
	script := `
const vm = require("vm"), fs = require("fs"), assert = require("assert");
// A tiny document: elements and text nodes that record what was built.
class Node_ { constructor(t, v) { this.t = t; this.v = v || ""; } toJSON() { return { t: this.t, v: this.v }; } }
const document = {
  addEventListener() {},
  createTextNode: (v) => new Node_("#text", v),
  createElement: (t) => { const n = new Node_(t); n.setAttribute = () => {}; n.addEventListener = () => {}; n.append = () => {};
    Object.defineProperty(n, "textContent", { set(v) { n.v = v; } }); return n; },
};
const ctx = { document, console, URLSearchParams };
vm.createContext(ctx);
vm.runInContext(fs.readFileSync(process.argv[1], "utf8"), ctx);
const run = (s) => vm.runInContext(s, ctx);
assert.strictEqual(run("fmtDuration(61000)"), "1:01");
assert.strictEqual(run("fmtDuration(3723000)"), "1:02:03");
assert.strictEqual(run("fmtDuration(0)"), "");
assert.strictEqual(run("fmtSize(999)"), "999 B");
assert.strictEqual(run("fmtSize(1500)"), "1.5 KB");
assert.strictEqual(run("fmtSize(2500000000)"), "2.5 GB");
assert.strictEqual(run("fmtTime(0)"), "0:00");
assert.strictEqual(run("fmtTime(4999)"), "0:04");
assert.strictEqual(run("fmtRange(4000, 8000)"), "0:04–0:08");
assert.strictEqual(run("fmtRange(5000, 0)"), "0:05");
// Snippets: only <mark> becomes an element; other markup stays text.
assert.strictEqual(run("unescapeHTML('a &lt;b&gt; &amp;amp; &#39;x&#39; &#x41; &bogus;')"), "a <b> &amp; 'x' A &bogus;");
assert.strictEqual(run("JSON.stringify(snippetNodes('CITY <mark>COUNCIL</mark> &lt;img src=x onerror=alert(1)&gt; <b>x</b>'))"),
  JSON.stringify([{t:"#text",v:"CITY "},{t:"mark",v:"COUNCIL"},{t:"#text",v:" <img src=x onerror=alert(1)> <b>x</b>"}]));
// Parser positions are UTF-8 byte offsets.
assert.strictEqual(run("byteToIndex('café \"x', 6)"), 5);
assert.strictEqual(run("byteToIndex('abc', 2)"), 2);
// Faces: counts over time, never identities.
assert.strictEqual(run("JSON.stringify(faceCounts([{start_ms:0,end_ms:5000},{start_ms:2000,end_ms:4000}]))"),
  JSON.stringify([{start:0,end:2000,count:1},{start:2000,end:4000,count:2},{start:4000,end:5000,count:1}]));
assert.strictEqual(run("JSON.stringify(faceCounts([{start_ms:0,end_ms:0},{start_ms:0,end_ms:0}]))"), JSON.stringify([{start:0,end:0,count:2}]));
assert.strictEqual(run("JSON.stringify(faceCounts([]))"), "[]");
// Routes.
assert.strictEqual(run("JSON.stringify(parseHash('#/asset/abc?t=12.5').parts)"), JSON.stringify(["asset","abc"]));
assert.strictEqual(run("parseHash('#/asset/abc?t=12.5').params.get('t')"), "12.5");
assert.strictEqual(run("parseHash('#/search?q=%22a+b%22').params.get('q')"), '"a b"');
assert.strictEqual(run("parseHash('#main')"), null);
assert.strictEqual(run("assetHash('abc', 4)"), "#/asset/abc?t=4");
assert.strictEqual(run("searchHash('council meeting', '')"), "#/search?q=council+meeting");
console.log("ok");
`
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	// V8 reserves a large address space up front, so the cap is generous.
	out, err := media.Run(ctx, media.Limits{Timeout: time.Minute, MaxBytes: 32 << 30}, node, "-e", script, app)
	if err != nil {
		t.Fatalf("node: %v", err)
	}
	if strings.TrimSpace(string(out)) != "ok" {
		t.Fatalf("node said %q", out)
	}
}
