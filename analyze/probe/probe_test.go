package probe_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/glasshouse/glasshouse"
	"github.com/glasshouse/glasshouse/analyze/probe"
	"github.com/glasshouse/glasshouse/media"
)

var limits = media.Limits{Timeout: time.Minute, MaxBytes: 4 << 30}

func TestAnalyze(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	p := filepath.Join(dir, "clip.mp4")
	if _, err := media.Run(ctx, limits, "ffmpeg", "-nostdin", "-v", "error", "-f", "lavfi", "-i", "testsrc2=s=320x240:r=25:d=2",
		"-f", "lavfi", "-i", "sine=d=2", "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac", "-shortest", p); err != nil {
		t.Fatal(err)
	}
	a := probe.New(limits)
	var _ glasshouse.Analyzer = a
	if a.Name() != "probe" || a.Version() != "1" {
		t.Errorf("name %q version %q", a.Name(), a.Version())
	}
	for _, k := range []glasshouse.MediaKind{glasshouse.KindImage, glasshouse.KindAudio, glasshouse.KindVideo} {
		if !a.Accepts(k) {
			t.Errorf("does not accept %s", k)
		}
	}
	var progress float64
	asset := &glasshouse.Asset{ID: "a1", Tenant: glasshouse.DefaultTenant, Kind: glasshouse.KindVideo}
	res, err := a.Analyze(ctx, glasshouse.Input{Asset: asset, Path: p, WorkDir: dir, Progress: func(f float64) { progress = f }})
	if err != nil {
		t.Fatal(err)
	}
	pi := res.Insights.Probe
	if pi == nil || pi.Width != 320 || pi.Height != 240 || pi.DurationMS < 1900 || pi.DurationMS > 2200 || len(pi.Streams) != 2 {
		t.Fatalf("probe = %+v", pi)
	}
	if res.Asset != "a1" || res.Tenant != glasshouse.DefaultTenant || res.Run.Name != "probe" || res.Run.State != glasshouse.JobDone {
		t.Errorf("result header = %+v", res)
	}
	if !regexp.MustCompile(`^ffprobe \d+\.\d+`).MatchString(res.Run.Model) {
		t.Errorf("model = %q, want ffprobe <version>", res.Run.Model)
	}
	if progress != 1 {
		t.Errorf("progress = %v", progress)
	}

	txt := filepath.Join(dir, "notes.txt")
	os.WriteFile(txt, []byte("hello"), 0o644)
	_, err = a.Analyze(ctx, glasshouse.Input{Asset: asset, Path: txt, WorkDir: dir})
	if !errors.Is(err, glasshouse.ErrCorrupt) && !errors.Is(err, glasshouse.ErrUnsupported) {
		t.Errorf("text file: %v", err)
	}
}
