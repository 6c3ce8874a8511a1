package webtest

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/glasshouse/glasshouse/media"
)

// TestSignInOutAndRoles: the page shows only the sign-in form to a
// stranger; a wrong password is refused; a viewer sees the assets but no
// upload or delete control; the session cookie is invisible to scripts;
// a state-changing request without the CSRF token is refused; signing out
// ends the session; an admin sees upload, delete, the users and can make an
// API token shown once.
func TestSignInOutAndRoles(t *testing.T) {
	needTools(t)
	dir := t.TempDir()
	srv := startServer(t)
	img := filepath.Join(dir, "harbour.png")
	if _, err := media.Run(t.Context(), ffmpegLimits, "ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc2=size=320x240", "-frames:v", "1", img); err != nil {
		t.Fatal(err)
	}
	id := srv.upload(t, img)
	ctx := startBrowser(t)

	run(t, ctx, 30*time.Second, "open the page signed out",
		chromedp.Navigate(srv.URL+"/"),
		chromedp.WaitVisible(chromedp.ID("signin-form")))
	hidden := value(t, ctx, 5*time.Second, "what a stranger sees",
		chromedp.Evaluate[[]bool](`["assets-section","upload-section","account"].map(id => document.getElementById(id).hidden || document.getElementById(id).offsetParent === null)`))
	for i, h := range hidden {
		if !h {
			t.Errorf("element %d visible before sign-in", i)
		}
	}
	run(t, ctx, 20*time.Second, "wrong password",
		chromedp.SendKeys(chromedp.ID("signin-user"), viewerUser),
		chromedp.SendKeys(chromedp.ID("signin-password"), "not the password"),
		chromedp.Click(chromedp.ID("signin-button")))
	poll(t, ctx, 20*time.Second, "sign-in refused", `document.getElementById("signin-error").textContent`,
		func(s string) bool { return strings.Contains(s, "failed") })

	// A viewer.
	srv.signIn(t, ctx, viewerUser)
	who := value(t, ctx, 5*time.Second, "who", chromedp.Evaluate[string](`document.getElementById("whoami").textContent`))
	if !strings.Contains(who, "vera (viewer") {
		t.Errorf("whoami = %q", who)
	}
	run(t, ctx, 20*time.Second, "viewer sees the asset list", chromedp.WaitVisible(chromedp.CSS("#assets-body a.asset-link")))
	if up := value(t, ctx, 5*time.Second, "upload control", chromedp.Evaluate[bool](`document.getElementById("upload-section").hidden`)); !up {
		t.Error("a viewer sees the upload form")
	}
	if c := value(t, ctx, 5*time.Second, "cookie", chromedp.Evaluate[string](`document.cookie`)); c != "" {
		t.Errorf("the session cookie is readable by scripts: %q", c)
	}
	run(t, ctx, 20*time.Second, "viewer opens the asset",
		chromedp.Navigate(srv.URL+"/#/asset/"+string(id)),
		chromedp.WaitVisible(chromedp.ID("player-details")))
	poll(t, ctx, 10*time.Second, "no delete control for a viewer", `document.getElementById("asset-delete").hidden`, func(b bool) bool { return b })
	status := value(t, ctx, 10*time.Second, "viewer delete by hand",
		chromedp.Evaluate[int](`(async () => (await fetch("/api/assets/`+string(id)+`", {method: "DELETE", headers: {"X-CSRF-Token": me.info.csrf}})).status)()`, chromedp.EvalAwaitPromise))
	if status != 403 {
		t.Errorf("viewer DELETE: %d, want 403", status)
	}

	// Sign out ends the session.
	run(t, ctx, 20*time.Second, "sign out",
		chromedp.Click(chromedp.ID("signout-button")),
		chromedp.WaitVisible(chromedp.ID("signin-form")))
	if s := value(t, ctx, 10*time.Second, "API after sign-out",
		chromedp.Evaluate[int](`(async () => (await fetch("/api/assets")).status)()`, chromedp.EvalAwaitPromise)); s != 401 {
		t.Errorf("GET /api/assets after sign-out: %d, want 401", s)
	}

	// An admin.
	srv.signIn(t, ctx, adminUser)
	run(t, ctx, 20*time.Second, "admin sees upload", chromedp.WaitVisible(chromedp.ID("upload-files")))
	// CSRF: the cookie alone does not change anything.
	s := value(t, ctx, 10*time.Second, "PATCH without the CSRF token",
		chromedp.Evaluate[string](`(async () => { const r = await fetch("/api/assets/`+string(id)+`", {method: "PATCH", headers: {"Content-Type": "application/json"}, body: '{"note":"x"}'}); return r.status + " " + (await r.json()).error.code; })()`, chromedp.EvalAwaitPromise))
	if s != "403 csrf" {
		t.Errorf("PATCH without the CSRF header: %q, want 403 csrf", s)
	}
	n := value(t, ctx, 10*time.Second, "PATCH with the CSRF token",
		chromedp.Evaluate[int](`(async () => (await fetch("/api/assets/`+string(id)+`", {method: "PATCH", headers: {"Content-Type": "application/json", "X-CSRF-Token": me.info.csrf}, body: '{"note":"checked"}'})).status)()`, chromedp.EvalAwaitPromise))
	if n != 200 {
		t.Errorf("PATCH with the CSRF header: %d", n)
	}
	run(t, ctx, 20*time.Second, "admin opens the asset",
		chromedp.Navigate(srv.URL+"/#/asset/"+string(id)),
		chromedp.WaitVisible(chromedp.ID("asset-delete")))
	run(t, ctx, 20*time.Second, "admin page",
		chromedp.Navigate(srv.URL+"/#/admin"),
		chromedp.WaitVisible(chromedp.ID("users-table")))
	poll(t, ctx, 10*time.Second, "users listed", `[...document.querySelectorAll("#users-body td:first-child")].map(td => td.textContent)`,
		func(u []string) bool { return strings.Join(u, ",") == "admin,vera" })
	run(t, ctx, 20*time.Second, "create a token", chromedp.Click(chromedp.ID("token-create")))
	secret := poll(t, ctx, 10*time.Second, "token shown once", `document.getElementById("token-secret").textContent`,
		func(s string) bool { return strings.Contains(s, "ghtok_") })
	tok := secret[strings.Index(secret, "ghtok_"):]
	srv.token = tok // the new token works for the API
	var page struct {
		Total int `json:"total"`
	}
	srv.getJSON(t, "/api/assets", &page)
	if page.Total != 1 {
		t.Errorf("listing with the page's token: %d assets", page.Total)
	}
	if p := os.Getenv("GLASSHOUSE_SCREENSHOTS"); p != "" {
		screenshot(t, ctx, p, "admin.png")
	}
}
