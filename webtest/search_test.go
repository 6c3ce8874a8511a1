package webtest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/glasshouse/glasshouse"
	"github.com/glasshouse/glasshouse/media"
)

// clearSearchBox empties the top-bar search box.
var clearSearchBox = chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
	_, err := chromedp.Evaluate[bool](`(document.getElementById("search-q").value = "") === ""`)(ctx, t)
	return err
})

// playerState is what the test reads off the page's media element.
type playerState struct {
	Time    float64 `json:"t"`
	Ready   int     `json:"ready"`
	Seeking bool    `json:"seeking"`
	Paused  bool    `json:"paused"`
	Hash    string  `json:"hash"`
	Error   string  `json:"error"`
}

const readPlayer = `(() => {
  const v = document.querySelector("#player video, #player audio");
  if (!v || document.getElementById("player-section").hidden) return null;
  return { t: v.currentTime, ready: v.readyState, seeking: v.seeking, paused: v.paused,
           hash: location.hash, error: v.error ? String(v.error.code) + " " + v.error.message : "" };
})()`

// settled reports a player that has its metadata and is not seeking.
func settled(p *playerState) bool { return p != nil && (p.Error != "" || (p.Ready >= 1 && !p.Seeking)) }

// TestSearchPlaysFromHit uploads a captioned video through the page, lets
// the real analyzers run, searches from the top bar and clicks the hit: the
// player must land in the shot whose caption matched.
func TestSearchPlaysFromHit(t *testing.T) {
	needTools(t)
	dir := t.TempDir()
	video := filepath.Join(dir, "council-meeting.mp4")
	makeCaptionVideo(t, video)
	srv := startServer(t)
	ctx := startBrowser(t)
	srv.signIn(t, ctx, adminUser)

	still := filepath.Join(dir, "still.png")
	if _, err := media.Run(t.Context(), ffmpegLimits, "ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc2=size=320x240", "-frames:v", "1", still); err != nil {
		t.Fatal(err)
	}
	// Two files at once: one request and one progress bar per file.
	run(t, ctx, 30*time.Second, "upload through the page",
		chromedp.Navigate(srv.URL+"/"),
		chromedp.WaitVisible(chromedp.ID("upload-files")),
		chromedp.SetUploadFiles(chromedp.ID("upload-files"), []string{video, still}),
		chromedp.Click(chromedp.ID("upload-button")),
		chromedp.WaitVisible(chromedp.CSS("#upload-results li:nth-child(1) a")),
		chromedp.WaitVisible(chromedp.CSS("#upload-results li:nth-child(2) a")))
	bars := value(t, ctx, 5*time.Second, "per-file progress bars",
		chromedp.Evaluate[[]int](`[...document.querySelectorAll("#upload-results li progress")].map(p => p.value)`))
	if len(bars) != 2 || bars[0] != 100 || bars[1] != 100 {
		t.Errorf("per-file progress bars %v, want two at 100", bars)
	}
	if !value(t, ctx, 5*time.Second, "uploads went through tus",
		chromedp.Evaluate[bool](`performance.getEntriesByType("resource").some(e => e.name.includes("/api/uploads/"))`)) {
		t.Error("the page did not upload through the resumable (tus) endpoint")
	}
	href := value(t, ctx, 5*time.Second, "read the upload result", chromedp.AttributeValue(chromedp.CSS("#upload-results li:nth-child(1) a"), "href")).Value
	id := glasshouse.AssetID(strings.TrimPrefix(href, "#/asset/"))
	if len(id) != 36 {
		t.Fatalf("upload result links to %q, want #/asset/<id>", href)
	}
	// Keep the list row's analyzer-state element: it must turn to done by
	// itself, from the server's event stream, without the list being redrawn.
	poll(t, ctx, 10*time.Second, "the new asset is listed",
		fmt.Sprintf(`(() => { window.__runsUL = document.querySelector('ul.runs[data-asset="%s"]'); return !!window.__runsUL; })()`, id),
		func(ok bool) bool { return ok })
	jobs := srv.waitAnalysed(t, id, "council", 75*time.Second)
	poll(t, ctx, 15*time.Second, "analyzer states update live in the list",
		`(() => { const ul = window.__runsUL; return ul && ul.isConnected ? ul.textContent : "redrawn"; })()`,
		func(s string) bool {
			return strings.Contains(s, "ocr: done") && strings.Contains(s, "speech: done") && strings.Contains(s, "shots: done")
		})
	for _, j := range jobs {
		t.Logf("job %s: %s %s", j.Kind, j.State, j.LastError)
	}
	// Each upload row shows its file's processing, also kept live by the
	// event stream: every analyzer of both files ends done.
	poll(t, ctx, 20*time.Second, "upload rows show processing done",
		`[...document.querySelectorAll("#upload-results > li")].map(li => { const r = [...li.querySelectorAll("ul.runs > li")]; return r.length && r.every(x => x.className === "state-done") ? "done" : li.textContent; })`,
		func(rows []string) bool { return len(rows) == 2 && rows[0] == "done" && rows[1] == "done" })

	searchAndPlay(t, ctx, srv, id, "council", 4000, 8000, dir, "synthetic")

	// The shots strip seeks too: the first shot starts at 0.
	run(t, ctx, 10*time.Second, "click the first shot",
		chromedp.WaitVisible(chromedp.CSS("#insight-shots button.seek")),
		chromedp.Click(chromedp.CSS("#insight-shots li:first-child button.seek")))
	p := poll(t, ctx, 10*time.Second, "seek to the first shot", readPlayer, func(p *playerState) bool { return settled(p) && p.Time < 4 })
	if p.Error != "" {
		t.Fatalf("media error: %s", p.Error)
	}
	if !strings.Contains(p.Hash, "t=0") {
		t.Errorf("after clicking the first shot the address is %q, want it to name t=0", p.Hash)
	}

	// Back returns to the results; Enter on a hit (keyboard only) plays it.
	run(t, ctx, 10*time.Second, "go back", chromedp.NavigateBack(), chromedp.WaitVisible(chromedp.CSS("#search-results a.hit")))
	if !value(t, ctx, 5*time.Second, "player hidden", chromedp.Evaluate[bool](`document.getElementById("player-section").hidden`)) {
		t.Error("after going back the player is still shown")
	}
	sel := fmt.Sprintf(`#search-results a.hit[href^="#/asset/%s?t="]`, id)
	run(t, ctx, 10*time.Second, "focus the hit and press Enter",
		chromedp.Focus(chromedp.CSS(sel)),
		chromedp.KeyEvent(kb.Enter))
	p = poll(t, ctx, 15*time.Second, "play after Enter", readPlayer, func(p *playerState) bool { return settled(p) && p.Time > 0 })
	if p.Time < 4 || p.Time >= 8 {
		t.Errorf("after Enter on the hit currentTime = %.2f s, want inside the second shot (4..8 s)", p.Time)
	}

	// A query with an error is shown next to the box with its position.
	run(t, ctx, 10*time.Second, "search with an unterminated quote",
		clearSearchBox,
		chromedp.SendKeys(chromedp.ID("search-q"), `evacuation "route`+kb.Enter),
		chromedp.WaitVisible(chromedp.CSS("#search-error strong")))
	msg := value(t, ctx, 5*time.Second, "read the error", chromedp.Text(chromedp.ID("search-error")))
	invalid := value(t, ctx, 5*time.Second, "read aria-invalid", chromedp.AttributeValue(chromedp.ID("search-q"), "aria-invalid")).Value
	if !strings.Contains(msg, "unterminated quote at 11") || !strings.Contains(msg, "character 12") {
		t.Errorf("error next to the box = %q, want the parser's message with its position", msg)
	}
	if invalid != "true" {
		t.Errorf("search box aria-invalid = %q, want true", invalid)
	}
	screenshot(t, ctx, dir, "search-error")

	// The shared briefing clip: "council" is in its second shot (5-10 s).
	briefing := filepath.Join(repoRoot(t), "..", "shared", "testdata", "video", "briefing.mp4")
	if _, err := os.Stat(briefing); err != nil {
		t.Log("../shared/testdata/video/briefing.mp4 not present; skipping the briefing check")
		return
	}
	bid := srv.upload(t, briefing)
	srv.waitAnalysed(t, bid, "council", 75*time.Second)
	searchAndPlay(t, ctx, srv, bid, "council", 5000, 10000, dir, "briefing")
}

// searchAndPlay types word into the top-bar search box, checks the result
// group of asset id, clicks its best hit and checks that the player lands
// in [shotStart, shotEnd) ms and that the transcript/OCR list follows.
func searchAndPlay(t *testing.T, ctx context.Context, srv *server, id glasshouse.AssetID, word string, shotStart, shotEnd int64, dir, name string) {
	t.Helper()
	hits := srv.search(t, word, id)
	for _, h := range hits {
		t.Logf("%s: API hit %s/%s %d-%d ms %q thumb=%v", name, h.Kind, h.Source, h.StartMS, h.EndMS, h.Snippet, h.Thumb != "")
	}
	if len(hits) == 0 {
		t.Fatalf("%s: the API finds no %q", name, word)
	}
	// The first hit of the asset that points at a moment (file-name and
	// note hits open the asset from the start).
	var want *apiHit
	for i, h := range hits {
		if h.Kind != "name" && h.Kind != "note" {
			want = &hits[i]
			break
		}
	}
	if want == nil {
		t.Fatalf("%s: the API finds %q only in the name or note", name, word)
	}
	group := fmt.Sprintf(`#search-results li.result:has(a.hit[href^="#/asset/%s"])`, id)
	first := group + ` a.hit[href*="?t="]`
	run(t, ctx, 20*time.Second, name+": search from the top bar",
		clearSearchBox,
		chromedp.SendKeys(chromedp.ID("search-q"), word+kb.Enter),
		chromedp.WaitVisible(chromedp.CSS(first)))

	marks := value(t, ctx, 5*time.Second, name+": read the marks",
		chromedp.Evaluate[[]string](fmt.Sprintf(`[...document.querySelectorAll(%q)].map(m => m.textContent)`, group+" mark")))
	count := value(t, ctx, 5*time.Second, name+": count the hits",
		chromedp.Evaluate[int](fmt.Sprintf(`document.querySelectorAll(%q).length`, group+" a.hit")))
	img := value(t, ctx, 5*time.Second, name+": read the hit thumbnail", chromedp.AttributeValue(chromedp.CSS(first+" img"), "src")).Value
	if count != len(hits) {
		t.Errorf("%s: the page lists %d hits for the asset, the API %d", name, count, len(hits))
	}
	found := false
	for _, m := range marks {
		if hasPrefixFold(m, word) {
			found = true
		}
	}
	if !found {
		t.Errorf("%s: no highlighted %q in the snippets (marks %q)", name, word, marks)
	}
	if want.Thumb != "" && img != "/api/blobs/"+want.Thumb {
		t.Errorf("%s: hit thumbnail src = %q, want the moment's keyframe /api/blobs/%s", name, img, want.Thumb)
	}
	// The thumbnails must have loaded (naturalWidth > 0).
	poll(t, ctx, 10*time.Second, name+": result thumbnails load",
		fmt.Sprintf(`[...document.querySelectorAll(%q)].every(i => i.complete && i.naturalWidth > 0)`, group+" img"),
		func(ok bool) bool { return ok })
	screenshot(t, ctx, dir, name+"-search")

	run(t, ctx, 10*time.Second, name+": click the first timed hit", chromedp.Click(chromedp.CSS(first)))
	p := poll(t, ctx, 20*time.Second, name+": player seeks", readPlayer, func(p *playerState) bool { return settled(p) && p.Time > 0 })
	if p.Error != "" {
		t.Fatalf("%s: the browser cannot play the video: %s", name, p.Error)
	}
	t.Logf("%s: player at %.3f s (hit starts at %d ms), paused=%v, address %s", name, p.Time, want.StartMS, p.Paused, p.Hash)
	if p.Time < float64(shotStart)/1000 || p.Time >= float64(shotEnd)/1000 {
		t.Errorf("%s: currentTime = %.3f s, want inside the shot %d..%d ms", name, p.Time, shotStart, shotEnd)
	}
	if want := "#/asset/" + string(id) + "?t=" + strconv.FormatFloat(float64(want.StartMS)/1000, 'f', -1, 64); p.Hash != want {
		t.Errorf("%s: address %q, want %q (shareable link to the moment)", name, p.Hash, want)
	}
	if p.Paused {
		t.Logf("%s: the player did not start playing (autoplay refused?)", name)
	}
	// The OCR list follows playback: the line with the word is current.
	poll(t, ctx, 15*time.Second, name+": the matching line is marked current",
		`(() => { const b = document.querySelector("#insight-ocr button.current, #insight-transcript button.current"); return b ? b.textContent : ""; })()`,
		func(s string) bool { return strings.Contains(strings.ToLower(s), strings.ToLower(word)) })
	// Shots strip with keyframe images.
	poll(t, ctx, 10*time.Second, name+": keyframes load",
		`(() => { const i = [...document.querySelectorAll("#insight-shots img")]; return i.length >= 2 && i.every(x => x.complete && x.naturalWidth > 0); })()`,
		func(ok bool) bool { return ok })
	// Captions track and download links; the captions file is WebVTT.
	poll(t, ctx, 10*time.Second, name+": captions track and downloads",
		`(() => { const tr = document.querySelector("#player video track[kind=captions]"); const links = [...document.querySelectorAll("#player-downloads a")].map(a => a.textContent); return !!tr && links.includes("Captions (WebVTT)") && links.includes("Insights (CSV)"); })()`,
		func(ok bool) bool { return ok })
	poll(t, ctx, 10*time.Second, name+": the WebVTT download is WebVTT",
		`(() => { const x = new XMLHttpRequest(); x.open("GET", document.querySelector("#player video track").src, false); x.send(); return x.status === 200 && x.responseText.startsWith("WEBVTT"); })()`,
		func(ok bool) bool { return ok })
	screenshot(t, ctx, dir, name+"-asset")
}
