package webtest

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/chromedp"

	"github.com/glasshouse/glasshouse"
	"github.com/glasshouse/glasshouse/redact"
)

// TestRedactionReview drives the review page: draw a box over the player,
// pick an on-screen text region and a transcript word, choose a fill (the
// page warns that pixelate can be reversed), render, follow the progress
// to the finished copy, and check the manifest through the API.
func TestRedactionReview(t *testing.T) {
	needTools(t)
	dir := t.TempDir()
	srv := startServer(t)
	video := filepath.Join(dir, "council.mp4")
	makeCaptionVideo(t, video)
	id := srv.upload(t, video)
	srv.waitAnalysed(t, id, "evacuation", 4*time.Minute)
	// The clip's sound is silent, so give it a transcript (stored as the
	// speech analyzer's result in the real catalog) to pick a word from.
	words := []glasshouse.Word{{Text: "route", StartMS: 1000, EndMS: 1400, Confidence: 0.9}, {Text: "north", StartMS: 1500, EndMS: 1900, Confidence: 0.9}}
	res := &glasshouse.Result{Asset: id, Tenant: glasshouse.DefaultTenant,
		Run:      glasshouse.AnalyzerRun{Name: "speech", Version: "test", State: glasshouse.JobDone, Started: time.Now().UTC()},
		Insights: glasshouse.Insights{Transcript: []glasshouse.TranscriptSegment{{StartMS: 1000, EndMS: 1900, Text: "route north", Confidence: 0.9, Words: words}}}}
	if err := srv.app.DB().PutResult(t.Context(), res, glasshouse.NewEvent(glasshouse.System(glasshouse.DefaultTenant), "analyze", string(id), nil)); err != nil {
		t.Fatal(err)
	}

	ctx := startBrowser(t)
	srv.signIn(t, ctx, adminUser)
	run(t, ctx, 30*time.Second, "open the review page from the asset page",
		chromedp.Navigate(srv.URL+"/#/asset/"+string(id)),
		chromedp.WaitVisible(chromedp.ID("redact-link")),
		chromedp.Click(chromedp.ID("redact-link")),
		chromedp.WaitVisible(chromedp.ID("redact-overlay")),
		chromedp.WaitVisible(chromedp.CSS("#redact-ocr button")),
		chromedp.WaitVisible(chromedp.CSS("#redact-words button.word")))
	// No face detector in this server: cover only what is picked.
	run(t, ctx, 10*time.Second, "turn off faces", chromedp.Click(chromedp.ID("redact-faces")))

	var r struct{ X, Y, W, H float64 }
	r = value(t, ctx, 5*time.Second, "overlay position", chromedp.Evaluate[struct{ X, Y, W, H float64 }](
		`(() => { const b = document.getElementById("redact-overlay").getBoundingClientRect(); return {X: b.left, Y: b.top, W: b.width, H: b.height}; })()`))
	if r.W < 100 || r.H < 50 {
		t.Fatalf("overlay is %vx%v", r.W, r.H)
	}
	x0, y0, x1, y1 := r.X+0.1*r.W, r.Y+0.1*r.H, r.X+0.4*r.W, r.Y+0.5*r.H
	run(t, ctx, 10*time.Second, "draw a box",
		chromedp.MouseEvent(input.DispatchMouseEventTypeMousePressed, x0, y0, chromedp.ButtonLeft),
		chromedp.MouseEvent(input.DispatchMouseEventTypeMouseMoved, (x0+x1)/2, (y0+y1)/2, chromedp.ButtonLeft),
		chromedp.MouseEvent(input.DispatchMouseEventTypeMouseMoved, x1, y1, chromedp.ButtonLeft),
		chromedp.MouseEvent(input.DispatchMouseEventTypeMouseReleased, x1, y1, chromedp.ButtonLeft))
	poll(t, ctx, 5*time.Second, "the drawn box over the player", `document.querySelectorAll("#redact-overlay .rbox.kind-manual").length`, func(n int) bool { return n == 1 })
	run(t, ctx, 10*time.Second, "pick the text and a word",
		chromedp.Click(chromedp.CSS("#redact-ocr li:first-child button")),
		chromedp.Evaluate[chromedp.Void](`[...document.querySelectorAll("#redact-words button.word")].find(b => b.textContent === "north").click()`),
		chromedp.SetValue(chromedp.ID("redact-audio-mode"), "bleep"),
		chromedp.Evaluate[chromedp.Void](`document.getElementById("redact-audio-mode").dispatchEvent(new Event("change"))`),
		chromedp.SetValue(chromedp.ID("redact-fill"), "pixelate"),
		chromedp.Evaluate[chromedp.Void](`document.getElementById("redact-fill").dispatchEvent(new Event("change"))`))
	note := value(t, ctx, 5*time.Second, "fill note", chromedp.Evaluate[string](`document.getElementById("redact-fill-note").textContent`))
	if !strings.Contains(note, "reversed") {
		t.Errorf("no warning that pixelate can be reversed: %q", note)
	}
	pressed := value(t, ctx, 5*time.Second, "picked word", chromedp.Evaluate[string](`[...document.querySelectorAll("#redact-words button.word")].find(b => b.textContent === "north").getAttribute("aria-pressed")`))
	if pressed != "true" {
		t.Errorf("picked word aria-pressed = %q", pressed)
	}
	screenshot(t, ctx, dir, "redaction-review")
	run(t, ctx, 10*time.Second, "render", chromedp.Click(chromedp.ID("redact-render")))
	state := poll(t, ctx, 4*time.Minute, "render finished", `(document.getElementById("redact-state") || {}).textContent || ""`,
		func(s string) bool { return strings.Contains(s, "done") || strings.Contains(s, "failed") })
	if !strings.Contains(state, "done") {
		t.Fatalf("render: %q (%s)", state, value(t, ctx, 5*time.Second, "error", chromedp.Evaluate[string](`document.getElementById("redact-result").textContent`)))
	}
	if v := value(t, ctx, 5*time.Second, "progress", chromedp.Evaluate[string](`document.getElementById("redact-progress").value + ""`)); v != "100" {
		t.Errorf("progress bar at %s when done", v)
	}
	href := value(t, ctx, 5*time.Second, "result link", chromedp.Evaluate[string](`document.getElementById("redact-output").getAttribute("href")`))
	out := glasshouse.AssetID(strings.TrimPrefix(href, "#/asset/"))

	var list struct {
		Redactions []redact.Render `json:"redactions"`
	}
	srv.getJSON(t, "/api/assets/"+string(id)+"/redactions", &list)
	if len(list.Redactions) != 1 || list.Redactions[0].Output != out || list.Redactions[0].State != redact.StateDone {
		t.Fatalf("renders: %+v", list.Redactions)
	}
	var m redact.Manifest
	if err := json.Unmarshal(list.Redactions[0].Manifest, &m); err != nil {
		t.Fatal(err)
	}
	kinds := map[string]int{}
	for _, rg := range m.Regions {
		kinds[rg.Kind]++
	}
	if kinds[redact.KindManual] != 1 || kinds[redact.KindText] != 1 || len(m.Audio) != 1 || m.Audio[0].Word != "north" || m.Audio[0].Mode != redact.AudioBleep ||
		m.Settings.Fill != redact.FillPixelate || m.Output.Asset != out {
		t.Errorf("manifest: regions %v audio %+v fill %s output %s", kinds, m.Audio, m.Settings.Fill, m.Output.Asset)
	}
	var plan redact.Plan
	srv.getJSON(t, "/api/assets/"+string(id)+"/redaction", &plan)
	if plan.Revision < 1 || plan.Faces {
		t.Errorf("saved plan: revision %d faces %v", plan.Revision, plan.Faces)
	}
	run(t, ctx, 20*time.Second, "open the copy",
		chromedp.Click(chromedp.ID("redact-output")),
		chromedp.WaitVisible(chromedp.ID("player-section")))
	poll(t, ctx, 10*time.Second, "the copy's page", `document.getElementById("player-heading").textContent`,
		func(s string) bool { return strings.Contains(s, "(redacted)") })
}
