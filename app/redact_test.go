package app_test

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"image"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/glasshouse/glasshouse"
	"github.com/glasshouse/glasshouse/app"
	"github.com/glasshouse/glasshouse/auth"
	"github.com/glasshouse/glasshouse/httpapi"
	"github.com/glasshouse/glasshouse/media"
	"github.com/glasshouse/glasshouse/redact"
)

var redactLim = media.Limits{Timeout: 5 * time.Minute, MaxBytes: 4 << 30}

func decodeFrames(t *testing.T, path string) []*image.RGBA {
	t.Helper()
	var out []*image.RGBA
	err := media.Frames(context.Background(), redactLim, path, 0, 0, func(_ int64, img *image.RGBA) error {
		out = append(out, &image.RGBA{Pix: append([]byte(nil), img.Pix...), Stride: img.Stride, Rect: img.Rect})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// regionStats returns the mean brightness of b in img and the mean absolute
// difference to ref there.
func regionStats(img, ref *image.RGBA, b glasshouse.Box) (mean, diff float64) {
	w, h := img.Rect.Dx(), img.Rect.Dy()
	n := 0.0
	for y := int(b.Y * float64(h)); y < int((b.Y+b.H)*float64(h)); y++ {
		for x := int(b.X * float64(w)); x < int((b.X+b.W)*float64(w)); x++ {
			p, q := img.Pix[img.PixOffset(x, y):], ref.Pix[ref.PixOffset(x, y):]
			for c := 0; c < 3; c++ {
				mean += float64(p[c])
				diff += math.Abs(float64(p[c]) - float64(q[c]))
				n++
			}
		}
	}
	return mean / n, diff / n
}

// rms of the 16 kHz mono audio of path between from and to seconds.
func rms(t *testing.T, path string, from, to float64) float64 {
	t.Helper()
	raw, err := media.Run(context.Background(), redactLim, "ffmpeg", "-nostdin", "-v", "error", "-i", path, "-map", "0:a:0", "-ac", "1", "-ar", "16000", "-f", "s16le", "-")
	if err != nil {
		t.Fatal(err)
	}
	s := 0.0
	n := 0
	for i := int(from * 16000); i < int(to*16000) && 2*i+1 < len(raw); i++ {
		v := float64(int16(binary.LittleEndian.Uint16(raw[2*i:])))
		s += v * v
		n++
	}
	if n == 0 {
		t.Fatalf("no audio between %.1f and %.1f s", from, to)
	}
	return math.Sqrt(s / float64(n))
}

// TestRedactionEndToEnd runs on media made here (no ../shared, no models):
// a manual box over one second and a silenced stretch, rendered by the
// queued job into a new asset with a manifest; the original is untouched.
func TestRedactionEndToEnd(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "street.mp4")
	ffmpeg(t, "-f", "lavfi", "-i", "testsrc2=size=640x360:rate=25:duration=3", "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000:duration=3",
		"-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest", src)
	a, err := app.Open(context.Background(), app.Config{DataDir: filepath.Join(dir, "data"), Lease: time.Minute,
		Logger:   slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
		Redactor: redact.NewRenderer(redact.Config{Limits: redactLim})})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	ctx := context.Background()
	f, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	as, _, err := a.Ingest(ctx, actor, "street.mp4", "news", f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	plan, err := a.RedactionPlan(ctx, actor, as.ID)
	if err != nil {
		t.Fatal(err)
	}
	if plan.Revision != 0 || !plan.Faces || plan.Settings.Fill != redact.FillSolid {
		t.Fatalf("default plan: revision %d faces %v fill %q", plan.Revision, plan.Faces, plan.Settings.Fill)
	}
	box := glasshouse.Box{X: 0.25, Y: 0.25, W: 0.25, H: 0.25}
	plan.Faces = false // no detector in this process
	plan.Regions = append(plan.Regions, redact.Region{Kind: redact.KindManual, StartMS: 1000, EndMS: 2000, Box: box})
	plan.Audio = append(plan.Audio, redact.AudioCut{StartMS: 500, EndMS: 1500, Mode: redact.AudioSilence})
	stale := *plan
	if plan, err = a.SaveRedactionPlan(ctx, actor, as.ID, plan); err != nil {
		t.Fatal(err)
	}
	if plan.Revision != 1 {
		t.Fatalf("saved revision %d", plan.Revision)
	}
	if _, err := a.SaveRedactionPlan(ctx, actor, as.ID, &stale); !errors.Is(err, glasshouse.ErrConflict) {
		t.Fatalf("save of a stale plan: %v, want conflict", err)
	}
	bad := *plan
	bad.Regions = []redact.Region{{Kind: redact.KindManual, StartMS: 0, EndMS: 100, Box: glasshouse.Box{X: 0.9, Y: 0, W: 0.5, H: 0.1}}}
	if _, err := a.SaveRedactionPlan(ctx, actor, as.ID, &bad); !errors.Is(err, glasshouse.ErrInvalid) || !strings.Contains(err.Error(), "not inside the picture") {
		t.Fatalf("box outside the picture: %v", err)
	}

	r, err := a.StartRedaction(ctx, actor, as.ID, nil)
	if err != nil {
		t.Fatal(err)
	}
	if r.State != redact.StateQueued {
		t.Fatalf("new render state %q", r.State)
	}
	jobs, err := a.Jobs(ctx, actor, as.ID)
	if err != nil {
		t.Fatal(err)
	}
	queued := false
	for _, j := range jobs {
		queued = queued || j.Kind == app.RedactJobKind && j.Version == r.ID
	}
	if !queued {
		t.Fatal("no redact job queued")
	}
	if err := a.RunPending(ctx); err != nil {
		t.Fatal(err)
	}
	r, err = a.Redaction(ctx, actor, r.ID)
	if err != nil {
		t.Fatal(err)
	}
	if r.State != redact.StateDone || r.Output == "" || r.Error != "" {
		t.Fatalf("render after the job: state %s output %q error %q", r.State, r.Output, r.Error)
	}
	out, err := a.GetAsset(ctx, actor, r.Output)
	if err != nil {
		t.Fatal(err)
	}
	if out.Collection != "news" || out.Kind != glasshouse.KindVideo || !strings.Contains(out.Note, string(as.Hash)) || out.Hash == as.Hash {
		t.Fatalf("redacted copy: collection %q kind %s note %q", out.Collection, out.Kind, out.Note)
	}
	// The original is unchanged.
	orig, ok := a.Blobs().LocalPath(as.Hash)
	if !ok {
		t.Fatal("no local blob")
	}
	b, _ := os.ReadFile(orig)
	if sum := sha256.Sum256(b); glasshouse.RefFromSum(sum[:]) != as.Hash {
		t.Fatal("the original's content changed")
	}
	copyPath, _ := a.Blobs().LocalPath(out.Hash)
	before, after := decodeFrames(t, src), decodeFrames(t, copyPath)
	if len(after) != len(before) {
		t.Fatalf("copy has %d frames, original %d", len(after), len(before))
	}
	for i := range after {
		tMS := int64(i) * 40
		mean, diff := regionStats(after[i], before[i], box)
		if tMS >= 1000 && tMS < 2000 {
			if mean > 20 {
				t.Errorf("frame %d (%d ms): box not covered (mean %.1f)", i, tMS, mean)
			}
		} else if diff > 12 {
			t.Errorf("frame %d (%d ms): box changed outside its time (diff %.1f)", i, tMS, diff)
		}
	}
	if v := rms(t, copyPath, 0.7, 1.3); v > 50 {
		t.Errorf("cut audio rms %.0f, want silence", v)
	}
	if v := rms(t, copyPath, 2.0, 2.8); v < 1000 {
		t.Errorf("kept audio rms %.0f, want the tone", v)
	}
	c, err := a.RedactionManifest(ctx, actor, r.ID)
	if err != nil {
		t.Fatal(err)
	}
	mb, _ := io.ReadAll(c)
	c.Close()
	var m redact.Manifest
	if err := json.Unmarshal(mb, &m); err != nil {
		t.Fatal(err)
	}
	if m.Source.Hash != as.Hash || m.Output.Hash != out.Hash || m.Output.Asset != out.ID || len(m.Regions) != 1 || len(m.Audio) != 1 || m.Frames != len(before) {
		t.Fatalf("manifest: %s", mb)
	}
	list, err := a.Redactions(ctx, actor, as.ID)
	if err != nil || len(list) != 1 || list[0].ID != r.ID {
		t.Fatalf("redactions of the source: %d, %v", len(list), err)
	}
	evs, err := a.AuditEvents(ctx, actor, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, e := range evs {
		seen[e.Action] = true
	}
	for _, want := range []string{"redaction_plan", "redact", "redacted"} {
		if !seen[want] {
			t.Errorf("no %q audit event", want)
		}
	}
}

// TestRedactionOverHTTP: the API routes on the real service: plan read and
// save (409 on a stale revision, 400 naming a bad box), render queued with
// 202 and a Location, the manifest 404 until done.
func TestRedactionOverHTTP(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "clip.mp4")
	ffmpeg(t, "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25:duration=1", "-c:v", "libx264", "-pix_fmt", "yuv420p", src)
	a, err := app.Open(context.Background(), app.Config{DataDir: filepath.Join(dir, "data"),
		Logger:   slog.New(slog.NewTextHandler(io.Discard, nil)),
		Redactor: redact.NewRenderer(redact.Config{Limits: redactLim})})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	f, _ := os.Open(src)
	as, _, err := a.Ingest(context.Background(), actor, "clip.mp4", "", f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	local := auth.LocalPrincipal(glasshouse.DefaultTenant, "test")
	if _, err := a.Auth().CreateTenant(ctx, local, glasshouse.DefaultTenant, "", ""); err != nil {
		t.Fatal(err)
	}
	tokens := map[string]string{}
	for _, u := range []struct {
		name  string
		role  auth.Role
		scope auth.Scope
	}{{"ed", auth.Editor, auth.ScopeWrite}, {"vi", auth.Viewer, auth.ScopeRead}} {
		if _, err := a.Auth().CreateUser(ctx, local, glasshouse.DefaultTenant, u.name, u.role, "a long enough password 1", ""); err != nil {
			t.Fatal(err)
		}
		_, tok, err := a.Auth().CreateToken(ctx, local, u.name, "test", u.scope, time.Hour, "")
		if err != nil {
			t.Fatal(err)
		}
		tokens[u.name] = tok
	}
	srv := httptest.NewServer(httpapi.New(a, httpapi.Options{Accounts: a.Auth()}))
	defer srv.Close()
	token := tokens["ed"]
	do := func(method, path, body string) (int, []byte, http.Header) {
		req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+token)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, b, res.Header
	}
	base := "/api/assets/" + string(as.ID)
	code, body, _ := do("GET", base+"/redaction", "")
	var plan redact.Plan
	if code != 200 || json.Unmarshal(body, &plan) != nil || plan.Revision != 0 || !plan.Faces {
		t.Fatalf("GET plan: %d %s", code, body)
	}
	plan.Faces = false
	plan.Regions = []redact.Region{{Kind: redact.KindManual, StartMS: 0, EndMS: 500, Box: glasshouse.Box{X: 0.1, Y: 0.1, W: 0.3, H: 0.3}}}
	pj, _ := json.Marshal(plan)
	token = tokens["vi"] // a viewer reads the plan but may not change it or render
	if code, body, _ = do("GET", base+"/redaction", ""); code != 200 {
		t.Fatalf("viewer GET plan: %d %s", code, body)
	}
	if code, body, _ = do("PUT", base+"/redaction", string(pj)); code != 403 {
		t.Fatalf("viewer PUT plan: %d %s, want 403", code, body)
	}
	if code, body, _ = do("POST", base+"/redactions", ""); code != 403 {
		t.Fatalf("viewer POST render: %d %s, want 403", code, body)
	}
	token = tokens["ed"]
	if code, body, _ = do("PUT", base+"/redaction", string(pj)); code != 200 {
		t.Fatalf("PUT plan: %d %s", code, body)
	}
	if code, body, _ = do("PUT", base+"/redaction", string(pj)); code != 409 {
		t.Fatalf("PUT stale plan: %d %s, want 409", code, body)
	}
	bad := strings.Replace(string(pj), `"revision":0`, `"revision":1`, 1)
	bad = strings.Replace(bad, `"w":0.3`, `"w":3`, 1)
	if code, body, _ = do("PUT", base+"/redaction", bad); code != 400 || !strings.Contains(string(body), "not inside the picture") {
		t.Fatalf("PUT bad box: %d %s, want 400 naming the box", code, body)
	}
	code, body, hdr := do("POST", base+"/redactions", "")
	var r redact.Render
	if code != 202 || json.Unmarshal(body, &r) != nil || hdr.Get("Location") != "/api/redactions/"+r.ID || r.State != redact.StateQueued {
		t.Fatalf("POST render: %d %s", code, body)
	}
	if code, body, _ = do("GET", "/api/redactions/"+r.ID+"/manifest", ""); code != 404 {
		t.Fatalf("manifest before done: %d %s", code, body)
	}
	if err := a.RunPending(context.Background()); err != nil {
		t.Fatal(err)
	}
	code, body, _ = do("GET", "/api/redactions/"+r.ID+"/manifest?download=1", "")
	var m redact.Manifest
	if code != 200 || json.Unmarshal(body, &m) != nil || m.Source.Hash != as.Hash || m.Output.Hash == "" {
		t.Fatalf("manifest: %d %s", code, body)
	}
	if code, _, _ = do("GET", "/api/redactions/nope", ""); code != 404 {
		t.Fatalf("unknown render: %d", code)
	}
}
