package webtest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image"
	"image/png"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/remote"

	"github.com/glasshouse/glasshouse"
	"github.com/glasshouse/glasshouse/analyze/keywords"
	"github.com/glasshouse/glasshouse/analyze/ocr"
	"github.com/glasshouse/glasshouse/analyze/probe"
	"github.com/glasshouse/glasshouse/analyze/shots"
	"github.com/glasshouse/glasshouse/analyze/speech"
	"github.com/glasshouse/glasshouse/app"
	"github.com/glasshouse/glasshouse/auth"
	"github.com/glasshouse/glasshouse/httpapi"
	"github.com/glasshouse/glasshouse/media"
)

// chromiumPath is where Debian's chromium package puts the browser.
const chromiumPath = "/usr/bin/chromium"

// ffmpegLimits bound the ffmpeg runs that make test media.
var ffmpegLimits = media.Limits{Timeout: 2 * time.Minute, MaxBytes: 4 << 30}

func needTools(t *testing.T) {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		t.Skipf("%s is missing: install the Debian package chromium (apt-get install -y chromium) to run the browser tests", chromiumPath)
	}
	if _, err := exec.LookPath("ffmpeg"); err != nil {
		t.Skip("ffmpeg is not installed")
	}
}

// repoRoot walks up from the package directory to the folder with go.mod.
func repoRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the test directory")
		}
		dir = parent
	}
}

// server is a real glasshouse server: app (SQLite, file blobs, analyzers,
// workers) behind the HTTP API and the page.
type server struct {
	URL   string
	app   *app.App
	token string // API token of the admin, for the test's own API calls
}

// Accounts of every test server: the admin of tenant default and a viewer.
const (
	adminUser   = "admin"
	viewerUser  = "vera"
	webPassword = "browser test password"
)

func startServer(t *testing.T) *server {
	t.Helper()
	ctx := t.Context()
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	o, err := ocr.New(ocr.Config{})
	if err != nil {
		t.Fatalf("ocr.New: %v", err)
	}
	sp, err := speech.New(speech.Config{Logger: log})
	if err != nil {
		t.Fatalf("speech.New: %v", err)
	}
	a, err := app.Open(ctx, app.Config{
		DataDir:    t.TempDir(),
		Logger:     log,
		Analyzers:  []glasshouse.Analyzer{probe.New(media.Limits{}), shots.New(media.Limits{}, shots.Options{}), o, sp},
		Derived:    []glasshouse.Analyzer{keywords.New()},
		SoleWorker: true,
	})
	if err != nil {
		t.Fatalf("app.Open: %v", err)
	}
	local := auth.LocalPrincipal(glasshouse.DefaultTenant, "webtest")
	if _, err := a.Auth().CreateTenant(ctx, local, glasshouse.DefaultTenant, "", ""); err != nil {
		t.Fatal(err)
	}
	for u, r := range map[string]auth.Role{adminUser: auth.Admin, viewerUser: auth.Viewer} {
		if _, err := a.Auth().CreateUser(ctx, local, glasshouse.DefaultTenant, u, r, webPassword, ""); err != nil {
			t.Fatal(err)
		}
	}
	_, token, err := a.Auth().CreateToken(ctx, local, adminUser, "webtest", auth.ScopeAdmin, time.Hour, "")
	if err != nil {
		t.Fatal(err)
	}
	// Secure cookies as in production: browsers accept them from
	// http://127.0.0.1, a potentially trustworthy origin.
	srv := httptest.NewServer(httpapi.New(a, httpapi.Options{Logger: log, UploadDir: filepath.Join(a.Config().DataDir, "uploads"),
		Accounts: a.Auth(), SecureCookies: true}))
	runCtx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(runCtx) }()
	t.Cleanup(func() {
		stop()
		if err := <-done; err != nil {
			t.Errorf("app.Run: %v", err)
		}
		srv.Close()
		if err := a.Close(); err != nil {
			t.Errorf("app.Close: %v", err)
		}
	})
	return &server{URL: srv.URL, app: a, token: token}
}

// signIn opens the page, which asks for a sign-in, and signs in as user.
func (s *server) signIn(t *testing.T, ctx context.Context, user string) {
	t.Helper()
	run(t, ctx, 30*time.Second, "sign in as "+user,
		chromedp.Navigate(s.URL+"/"),
		chromedp.WaitVisible(chromedp.ID("signin-user")),
		chromedp.Clear(chromedp.ID("signin-user")),
		chromedp.Clear(chromedp.ID("signin-password")),
		chromedp.SendKeys(chromedp.ID("signin-user"), user),
		chromedp.SendKeys(chromedp.ID("signin-password"), webPassword),
		chromedp.Click(chromedp.ID("signin-button")),
		chromedp.WaitVisible(chromedp.ID("whoami")))
}

// get sends an authenticated GET.
func (s *server) get(path string) (*http.Response, error) {
	req, err := http.NewRequest(http.MethodGet, s.URL+path, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+s.token)
	return http.DefaultClient.Do(req)
}

func (s *server) getJSON(t *testing.T, path string, v any) {
	t.Helper()
	res, err := s.get(path)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s: %s", path, res.Status, b)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("GET %s: decode: %v", path, err)
	}
}

// upload posts one file through the API and returns the asset id.
func (s *server) upload(t *testing.T, path string) glasshouse.AssetID {
	t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	fw, err := mw.CreateFormFile("file", filepath.Base(path))
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	_, err = io.Copy(fw, f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	mw.Close()
	req, err := http.NewRequest(http.MethodPost, s.URL+"/api/assets", &body)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Authorization", "Bearer "+s.token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("upload %s: %v", path, err)
	}
	defer res.Body.Close()
	var out []struct {
		Asset *glasshouse.Asset `json:"asset"`
		Error *struct {
			Message string `json:"message"`
		} `json:"error"`
	}
	if err := json.NewDecoder(res.Body).Decode(&out); err != nil || len(out) != 1 || out[0].Asset == nil {
		t.Fatalf("upload %s: %s, %v, %+v", path, res.Status, err, out)
	}
	return out[0].Asset.ID
}

// waitAnalysed polls the asset's jobs until none is queued or running and
// a search for word finds the asset (the derived keywords run after).
func (s *server) waitAnalysed(t *testing.T, id glasshouse.AssetID, word string, limit time.Duration) []glasshouse.Job {
	t.Helper()
	deadline := time.Now().Add(limit)
	var jobs []glasshouse.Job
	for {
		s.getJSON(t, "/api/assets/"+string(id)+"/jobs", &jobs)
		busy := len(jobs) == 0
		for _, j := range jobs {
			if j.State == glasshouse.JobQueued || j.State == glasshouse.JobRunning {
				busy = true
			}
		}
		if !busy && len(s.search(t, word, id)) > 0 {
			return jobs
		}
		if time.Now().After(deadline) {
			t.Fatalf("asset %s not analysed within %s: jobs %+v", id, limit, jobs)
		}
		time.Sleep(300 * time.Millisecond)
	}
}

// apiHit is a search hit as the API returns it.
type apiHit struct {
	Kind    string `json:"kind"`
	Source  string `json:"source"`
	StartMS int64  `json:"start_ms"`
	EndMS   int64  `json:"end_ms"`
	Snippet string `json:"snippet"`
	Thumb   string `json:"thumb"`
}

// search returns the hits of asset id for q.
func (s *server) search(t *testing.T, q string, id glasshouse.AssetID) []apiHit {
	t.Helper()
	var res struct {
		Assets []struct {
			Asset glasshouse.AssetID `json:"asset"`
			Hits  []apiHit           `json:"hits"`
		} `json:"assets"`
	}
	s.getJSON(t, "/api/search?q="+q, &res)
	for _, g := range res.Assets {
		if g.Asset == id {
			return g.Hits
		}
	}
	return nil
}

// startBrowser starts headless Chromium through media.Command (timeout, its
// own process group) and returns a chromedp context attached to it.
func startBrowser(t *testing.T) context.Context {
	t.Helper()
	profile := t.TempDir()
	// No address-space cap: V8 and the renderer reserve terabytes of
	// virtual memory up front, so prlimit --as would kill the browser.
	cmd, cancelCmd := media.Command(context.Background(), media.Limits{Timeout: 5 * time.Minute}, chromiumPath,
		"--headless", "--no-sandbox", "--disable-gpu",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--no-first-run", "--no-default-browser-check", "--mute-audio",
		"--window-size=1280,900", "--remote-debugging-address=127.0.0.1", "--remote-debugging-port=0",
		"--user-data-dir="+profile, "about:blank")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		cancelCmd()
		t.Fatalf("start chromium: %v", err)
	}
	wsURL := make(chan string, 1)
	var tail bytes.Buffer
	go func() {
		re := regexp.MustCompile(`DevTools listening on (ws://\S+)`)
		sc := bufio.NewScanner(stderr)
		sent := false
		for sc.Scan() {
			if m := re.FindStringSubmatch(sc.Text()); m != nil && !sent {
				wsURL <- m[1]
				sent = true
			} else if !sent && tail.Len() < 8192 {
				tail.WriteString(sc.Text() + "\n")
			}
		}
		if !sent {
			close(wsURL)
		}
	}()
	var url string
	select {
	case u, ok := <-wsURL:
		if !ok {
			_ = cmd.Wait()
			cancelCmd()
			t.Fatalf("chromium exited without a DevTools address:\n%s", tail.String())
		}
		url = u
	case <-time.After(30 * time.Second):
		cancelCmd()
		_ = cmd.Wait()
		t.Fatal("chromium gave no DevTools address within 30 s")
	}
	allocCtx, cancelAlloc := remote.NewAllocator(context.Background(), url, remote.NoModifyURL)
	ctx, cancelCtx := chromedp.NewContext(allocCtx)
	if err := chromedp.Do(ctx); err != nil {
		cancelCtx()
		cancelAlloc()
		cancelCmd()
		_ = cmd.Wait()
		t.Fatalf("attach to chromium: %v", err)
	}
	t.Cleanup(func() {
		closeCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
		_, _ = chromedp.CallBrowser(closeCtx, browser.Close, cdp.Empty{})
		cancel()
		cancelCtx()
		cancelAlloc()
		waited := make(chan struct{})
		go func() { _ = cmd.Wait(); close(waited) }()
		select {
		case <-waited:
		case <-time.After(5 * time.Second):
		}
		cancelCmd() // kills the process group if it is still there
		<-waited
	})
	return ctx
}

// run runs actions with a time limit, failing the test with what on error.
func run(t *testing.T, ctx context.Context, limit time.Duration, what string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	c, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	if err := chromedp.Do(c, actions...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// value runs one action that returns a value, with a time limit.
func value[T any](t *testing.T, ctx context.Context, limit time.Duration, what string, a chromedp.Action[T]) T {
	t.Helper()
	c, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	v, err := chromedp.Run(c, a)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	return v
}

// poll evaluates js until ok accepts its result or the limit passes.
func poll[T any](t *testing.T, ctx context.Context, limit time.Duration, what, js string, ok func(T) bool) T {
	t.Helper()
	deadline := time.Now().Add(limit)
	var v T
	for {
		c, cancel := context.WithTimeout(ctx, 5*time.Second)
		got, err := chromedp.Run(c, chromedp.Evaluate[T](js))
		cancel()
		if err == nil {
			v = got
		}
		if err == nil && ok(v) {
			return v
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not reached within %s (last value %+v, err %v)", what, limit, v, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// screenshot takes a full-page PNG, checks that it shows something (large
// enough, more than one colour) and saves it in dir and, if set, in
// $GLASSHOUSE_SCREENSHOTS.
func screenshot(t *testing.T, ctx context.Context, dir, name string) string {
	t.Helper()
	buf := value(t, ctx, 20*time.Second, "screenshot "+name, chromedp.FullScreenshot(100))
	img, err := png.Decode(bytes.NewReader(buf))
	if err != nil {
		t.Fatalf("screenshot %s is not a PNG: %v", name, err)
	}
	b := img.Bounds()
	if b.Dx() < 800 || b.Dy() < 400 {
		t.Errorf("screenshot %s is only %dx%d", name, b.Dx(), b.Dy())
	}
	if colours := countColours(img, 50); colours < 50 {
		t.Errorf("screenshot %s has only %d colours: the page looks blank", name, colours)
	}
	path := filepath.Join(dir, name+".png")
	if err := os.WriteFile(path, buf, 0o644); err != nil {
		t.Fatal(err)
	}
	if keep := os.Getenv("GLASSHOUSE_SCREENSHOTS"); keep != "" {
		if err := os.MkdirAll(keep, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(keep, name+".png"), buf, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return path
}

// countColours counts distinct colours in img, stopping at max.
func countColours(img image.Image, max int) int {
	seen := map[[4]uint32]bool{}
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y += 3 {
		for x := b.Min.X; x < b.Max.X; x += 3 {
			r, g, bl, a := img.At(x, y).RGBA()
			seen[[4]uint32{r, g, bl, a}] = true
			if len(seen) >= max {
				return len(seen)
			}
		}
	}
	return len(seen)
}

// makeCaptionVideo writes an 8 s H.264 video: "EVACUATION ROUTE NORTH" on
// dark blue for 0-4 s, then a hard cut to amber with "CITY COUNCIL
// MEETING" for 4-8 s, with a quiet sound track.
func makeCaptionVideo(t *testing.T, path string) {
	t.Helper()
	font := "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"
	if _, err := os.Stat(font); err != nil {
		t.Skipf("%s is missing: install fonts-dejavu-core", font)
	}
	draw := func(text, colour string) string {
		return fmt.Sprintf("drawtext=fontfile=%s:text='%s':fontsize=36:fontcolor=%s:x=(w-text_w)/2:y=h-110", font, text, colour)
	}
	filter := fmt.Sprintf("[0:v]%s[a];[1:v]%s[b];[a][b]concat=n=2:v=1:a=0[v]",
		draw("EVACUATION ROUTE NORTH", "white"), draw("CITY COUNCIL MEETING", "black"))
	_, err := media.Run(t.Context(), ffmpegLimits, "ffmpeg", "-v", "error", "-y",
		"-f", "lavfi", "-i", "color=c=0x1a3a6b:s=640x360:r=25:d=4",
		"-f", "lavfi", "-i", "color=c=0xe8b030:s=640x360:r=25:d=4",
		"-f", "lavfi", "-i", "anullsrc=r=16000:cl=mono",
		"-filter_complex", filter, "-map", "[v]", "-map", "2:a", "-t", "8",
		"-c:v", "libx264", "-pix_fmt", "yuv420p", "-g", "25", "-c:a", "aac", "-movflags", "+faststart", path)
	if err != nil {
		t.Fatalf("make test video: %v", err)
	}
}

func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}
