package webtest

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/glasshouse/glasshouse"
	"github.com/glasshouse/glasshouse/media"
)

// TestUsageChart: the usage page, reached from the navigation, draws one
// bar per day whose figures are the API's, the last one the bytes stored,
// and lists what is stored by kind.
func TestUsageChart(t *testing.T) {
	needTools(t)
	dir := t.TempDir()
	srv := startServer(t)
	var total int64
	for i, src := range []string{"testsrc2", "smptebars"} {
		p := filepath.Join(dir, strconv.Itoa(i)+".png")
		if _, err := media.Run(t.Context(), ffmpegLimits, "ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", src+"=size=320x240", "-frames:v", "1", p); err != nil {
			t.Fatal(err)
		}
		st, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		total += st.Size()
		srv.upload(t, p)
	}
	var u glasshouse.Usage
	srv.getJSON(t, "/api/usage", &u)
	if len(u.StoredBytes) != 30 || u.StoredBytes[29].Bytes != total {
		t.Fatalf("API usage: %+v, want 30 days ending at %d bytes", u.StoredBytes, total)
	}

	ctx := startBrowser(t)
	srv.signIn(t, ctx, adminUser)
	run(t, ctx, 20*time.Second, "open the usage page from the navigation",
		chromedp.WaitVisible(chromedp.ID("nav-usage")),
		chromedp.Click(chromedp.ID("nav-usage")),
		chromedp.WaitVisible(chromedp.ID("usage-svg")))
	type bar struct {
		Day    string  `json:"day"`
		Bytes  string  `json:"bytes"`
		Height float64 `json:"height"`
	}
	bars := poll(t, ctx, 10*time.Second, "bars drawn",
		`[...document.querySelectorAll("#usage-svg rect.bar")].map(r => ({day: r.dataset.day, bytes: r.dataset.bytes, height: r.getBBox().height}))`,
		func(b []bar) bool { return len(b) == 30 })
	for i, b := range bars {
		if b.Day != u.StoredBytes[i].Day || b.Bytes != strconv.FormatInt(u.StoredBytes[i].Bytes, 10) {
			t.Errorf("bar %d: %+v, API says %+v", i, b, u.StoredBytes[i])
		}
	}
	if last := bars[29]; last.Height < 100 {
		t.Errorf("today's bar (the maximum) is %.0f px high, want the full chart height", last.Height)
	}
	if bars[0].Height != 0 {
		t.Errorf("a day with nothing stored has a bar %.0f px high", bars[0].Height)
	}
	kinds := poll(t, ctx, 5*time.Second, "kinds table",
		`[...document.querySelectorAll("#usage-kinds-body tr")].map(tr => tr.textContent)`,
		func(k []string) bool { return len(k) == 1 })
	if want := "image2"; len(kinds[0]) < len(want) || kinds[0][:len(want)] != want {
		t.Errorf("kinds row %q, want image with 2 assets", kinds[0])
	}
	screenshot(t, ctx, dir, "usage")
}
