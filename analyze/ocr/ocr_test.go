package ocr

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/glasshouse/glasshouse"
	"github.com/glasshouse/glasshouse/media"
)

const fontFile = "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"

// fontOpt names the font for drawtext: DejaVu if installed, else whatever
// fontconfig offers for "Sans".
func fontOpt() string {
	if _, err := os.Stat(fontFile); err == nil {
		return "fontfile=" + fontFile
	}
	return "font=Sans"
}

func ffmpeg(t testing.TB, args ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	full := append([]string{"-nostdin", "-v", "error", "-y"}, args...)
	if _, err := media.Run(ctx, media.Limits{Timeout: 5 * time.Minute, MaxBytes: 4 << 30}, "ffmpeg", full...); err != nil {
		t.Fatalf("generate media: %v", err)
	}
}

// caption is drawtext showing text from start to end seconds, centred low
// on the frame, white with a dark outline like a broadcast caption.
func caption(text string, start, end float64, size int) string {
	return fmt.Sprintf("drawtext=%s:text='%s':fontsize=%d:fontcolor=white:borderw=3:bordercolor=black:x=(w-text_w)/2:y=h*0.8:enable='between(t,%g,%g)'",
		fontOpt(), text, size, start, end-0.001)
}

func newAnalyzer(t testing.TB, cfg Config) *Analyzer {
	t.Helper()
	a, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if !a.Model().Available {
		t.Skipf("tesseract unavailable: %s", a.Model().Problem)
	}
	return a
}

// sharedTestdata returns ../shared/testdata relative to the repository
// root, or skips.
func sharedTestdata(t *testing.T) string {
	t.Helper()
	p, err := filepath.Abs("../../../shared/testdata")
	if err != nil {
		t.Skip(err)
	}
	if _, err := os.Stat(p); err != nil {
		t.Skipf("shared test data not present: %v", err)
	}
	return p
}

func analyze(t testing.TB, a *Analyzer, kind glasshouse.MediaKind, path string) *glasshouse.Result {
	t.Helper()
	var last float64
	res, err := a.Analyze(context.Background(), glasshouse.Input{
		Asset:    &glasshouse.Asset{ID: "a1", Tenant: glasshouse.DefaultTenant, Kind: kind},
		Path:     path,
		WorkDir:  t.TempDir(),
		Progress: func(f float64) { last = f },
	})
	if err != nil {
		t.Fatalf("Analyze(%s): %v", filepath.Base(path), err)
	}
	if last != 1 {
		t.Errorf("last progress = %v, want 1", last)
	}
	return res
}

func TestCER(t *testing.T) {
	for _, c := range []struct {
		ref, hyp string
		want     float64
	}{
		{"EVACUATION ROUTE NORTH", "evacuation  route north", 0},
		{"abcd", "abed", 0.25},
		{"abcd", "", 1},
		{"abcd", "abcdxxxx", 1},
		{"", "", 0},
		{"", "x", 1},
		{"kitten", "sitting", 3.0 / 6},
	} {
		if got := CER(c.ref, c.hyp); got != c.want {
			t.Errorf("CER(%q, %q) = %v, want %v", c.ref, c.hyp, got, c.want)
		}
	}
}

func TestModel(t *testing.T) {
	a := newAnalyzer(t, Config{})
	m := a.Model()
	if len(m.SHA256) != 64 || !strings.HasSuffix(m.Path, "eng.traineddata") {
		t.Errorf("model info incomplete: %+v", m)
	}
	if !strings.HasPrefix(m.Name, "tesseract 5") || !strings.Contains(m.Name, "eng") {
		t.Errorf("model name %q", m.Name)
	}
	t.Logf("model: %+v", m)
}

func TestMissingEngine(t *testing.T) {
	a, err := New(Config{Tesseract: "/nonexistent/tesseract"})
	if err != nil {
		t.Fatal(err)
	}
	m := a.Model()
	if m.Available || !strings.Contains(m.Problem, "/nonexistent/tesseract") {
		t.Errorf("want unavailable naming the binary, got %+v", m)
	}
	_, err = a.Analyze(context.Background(), glasshouse.Input{Asset: &glasshouse.Asset{Kind: glasshouse.KindImage}, Path: "x.png"})
	if !errors.Is(err, glasshouse.ErrUnavailable) || !strings.Contains(err.Error(), "tesseract") {
		t.Errorf("Analyze error = %v, want ErrUnavailable naming tesseract", err)
	}

	a, err = New(Config{TessData: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if m := a.Model(); m.Available || !strings.Contains(m.Problem, "eng.traineddata") {
		t.Errorf("want unavailable naming the traineddata, got %+v", m)
	}
}

func TestAccepts(t *testing.T) {
	a, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	if a.Name() != "ocr" || !a.Accepts(glasshouse.KindImage) || !a.Accepts(glasshouse.KindVideo) || a.Accepts(glasshouse.KindAudio) {
		t.Error("wrong name or kinds")
	}
	if _, err := New(Config{FPS: -1}); !errors.Is(err, glasshouse.ErrInvalid) {
		t.Errorf("New(FPS -1) = %v, want ErrInvalid", err)
	}
}

func TestCorruptInput(t *testing.T) {
	a := newAnalyzer(t, Config{})
	p := filepath.Join(t.TempDir(), "bad.png")
	if err := os.WriteFile(p, []byte("\x89PNG\r\n\x1a\nnot really"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := a.Analyze(context.Background(), glasshouse.Input{Asset: &glasshouse.Asset{Kind: glasshouse.KindImage}, Path: p})
	if !errors.Is(err, glasshouse.ErrCorrupt) {
		t.Errorf("Analyze(corrupt) = %v, want ErrCorrupt", err)
	}
}

func TestRepairSplits(t *testing.T) {
	for _, c := range []struct{ text, other, want string }{
		{"EVACUATION RO UTE NORTH", "EVACUATION ROUTE NO", "EVACUATION ROUTE NORTH"},
		{"CITY COUNCIL MEETING", "CITY COUNCIL", "CITY COUNCIL MEETING"},
		{"TO DAY", "TODAY TO DAY", "TO DAY"}, // both parts stand alone in the other reading
		{"A B", "AB", "A B"},                 // too short to trust
	} {
		if got := repairSplits(c.text, c.other); got != c.want {
			t.Errorf("repairSplits(%q, %q) = %q, want %q", c.text, c.other, got, c.want)
		}
	}
}
