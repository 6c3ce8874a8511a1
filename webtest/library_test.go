package webtest

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/glasshouse/glasshouse/media"
)

// TestLibrarySortGridAudit: the library sorts by name, switches to a grid,
// and the audit log page lists what was done.
func TestLibrarySortGridAudit(t *testing.T) {
	needTools(t)
	dir := t.TempDir()
	srv := startServer(t)
	for i, name := range []string{"charlie.png", "alpha.png", "bravo.png"} {
		p := filepath.Join(dir, name)
		src := []string{"testsrc2", "smptebars", "rgbtestsrc"}[i]
		if _, err := media.Run(t.Context(), ffmpegLimits, "ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", src+"=size=320x240", "-frames:v", "1", p); err != nil {
			t.Fatal(err)
		}
		srv.upload(t, p)
	}
	ctx := startBrowser(t)
	srv.signIn(t, ctx, adminUser)
	run(t, ctx, 20*time.Second, "sort by name",
		chromedp.Navigate(srv.URL+"/"),
		chromedp.WaitVisible(chromedp.CSS("#assets-body a.asset-link")),
		chromedp.SetValue(chromedp.ID("filter-sort"), "name"),
		chromedp.Click(chromedp.CSS("#filter-form button[type=submit]")))
	names := poll(t, ctx, 10*time.Second, "names in name order",
		`[...document.querySelectorAll("#assets-body a.asset-link")].map(a => a.textContent)`,
		func(n []string) bool { return len(n) == 3 && n[0] == "alpha.png" })
	if names[1] != "bravo.png" || names[2] != "charlie.png" {
		t.Errorf("sorted by name: %v", names)
	}
	run(t, ctx, 10*time.Second, "grid view", chromedp.Click(chromedp.ID("grid-toggle")))
	poll(t, ctx, 5*time.Second, "the list is a grid",
		`getComputedStyle(document.getElementById("assets-body")).display`,
		func(d string) bool { return d == "grid" })
	screenshot(t, ctx, dir, "library-grid")
	run(t, ctx, 10*time.Second, "open the audit log", chromedp.Click(chromedp.ID("nav-audit")), chromedp.WaitVisible(chromedp.ID("audit-table")))
	poll(t, ctx, 10*time.Second, "audit events listed",
		`[...document.querySelectorAll("#audit-body tr td:nth-child(4)")].map(td => td.textContent)`,
		func(a []string) bool {
			uploads := 0
			for _, x := range a {
				if x == "upload" {
					uploads++
				}
			}
			return uploads == 3
		})
	screenshot(t, ctx, dir, "audit")
}
