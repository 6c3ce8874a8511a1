package faces

import (
	"context"
	"encoding/json"
	"errors"
	"image"
	_ "image/png"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/glasshouse/glasshouse"
	"github.com/glasshouse/glasshouse/analyze/vision"
	"github.com/glasshouse/glasshouse/media"
)

// testdata is ../shared/testdata relative to the repository root.
const testdata = "../../../shared/testdata"

func newAnalyzer(t testing.TB, cfg Config) *Analyzer {
	t.Helper()
	dir := vision.DefaultModelsDir()
	if _, err := os.Stat(filepath.Join(dir, ModelFile)); err != nil {
		t.Skipf("models not provisioned in %s: run `bash models/provision.sh` at the repository root", dir)
	}
	rt, err := vision.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	a, err := New(rt, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if !a.Model().Available {
		t.Fatalf("model unavailable: %s", a.Model().Problem)
	}
	t.Cleanup(func() { a.Close(); rt.Close() })
	return a
}

func shared(t testing.TB, rel string) string {
	t.Helper()
	p := filepath.Join(testdata, rel)
	if _, err := os.Stat(p); err != nil {
		t.Skipf("%s not present (shared test media)", p)
	}
	return p
}

func loadImage(t testing.TB, path string) image.Image {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, _, err := image.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func ffmpeg(t testing.TB, args ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := media.Run(ctx, media.Limits{Timeout: time.Minute, MaxBytes: 2 << 30}, "ffmpeg", append([]string{"-nostdin", "-v", "error", "-y"}, args...)...); err != nil {
		t.Fatal(err)
	}
}

func TestAnchors(t *testing.T) {
	a := anchors()
	if len(a) != 896 {
		t.Fatalf("%d anchors, want 896", len(a))
	}
	if a[0] != [2]float64{8, 8} || a[1] != [2]float64{8, 8} || a[2] != [2]float64{24, 8} {
		t.Fatalf("first anchors %v", a[:3])
	}
	if a[512] != [2]float64{16, 16} || a[895] != [2]float64{240, 240} {
		t.Fatalf("stride-32 anchors %v %v", a[512], a[895])
	}
}

func TestTracks(t *testing.T) {
	b := func(x float64) glasshouse.Box { return glasshouse.Box{X: x, Y: 0.1, W: 0.2, H: 0.2} }
	d := func(x float64) Detection { return Detection{Label: "face", Score: 0.9, Box: b(x)} }
	frames := []FrameDetections{
		{TimeMS: 0, Dets: []Detection{d(0.1), d(0.6)}},
		{TimeMS: 500, Dets: []Detection{d(0.12), d(0.62)}},
		{TimeMS: 1000, Dets: []Detection{d(0.14)}},
		// the second face is missing for one frame, then comes back: same track
		{TimeMS: 1500, Dets: []Detection{d(0.16), d(0.63)}},
		// a jump far away starts a new track
		{TimeMS: 2000, Dets: []Detection{{Score: 0.8, Box: glasshouse.Box{X: 0.4, Y: 0.7, W: 0.2, H: 0.2}}}},
	}
	got := Tracks(frames, 500, 0.2, 1)
	if len(got) != 3 {
		t.Fatalf("%d tracks, want 3: %+v", len(got), got)
	}
	if got[0].StartMS != 0 || got[0].EndMS != 2000 || len(got[0].Boxes) != 4 {
		t.Fatalf("track 0 %+v", got[0])
	}
	if got[1].StartMS != 0 || got[1].EndMS != 2000 || len(got[1].Boxes) != 3 {
		t.Fatalf("track 1 %+v", got[1])
	}
	if got[2].StartMS != 2000 || got[2].EndMS != 2500 {
		t.Fatalf("track 2 %+v", got[2])
	}
	// The track box covers every per-frame box.
	if u := got[0].Box; u.X > 0.1 || u.X+u.W < 0.36-1e-9 {
		t.Fatalf("union box %+v", u)
	}
	r := CountScore(got, []CountTruth{{0, 1000, 2}, {2000, 2500, 1}}, 500)
	if r.Samples != 3 || r.Exact != 3 || r.Accuracy != 1 {
		t.Fatalf("CountScore %+v", r)
	}
	r = CountScore(got, []CountTruth{{0, 1000, 1}}, 500)
	if r.Exact != 0 || r.MeanAbsErr != 1 {
		t.Fatalf("CountScore wrong truth %+v", r)
	}
}

func TestUnavailable(t *testing.T) {
	a, err := New(nil, Config{})
	if err != nil {
		t.Fatal(err)
	}
	if m := a.Model(); m.Available || m.Problem == "" {
		t.Fatalf("model info %+v", m)
	}
	_, err = a.Analyze(context.Background(), glasshouse.Input{Asset: &glasshouse.Asset{Kind: glasshouse.KindImage}, Path: "x.png"})
	if !errors.Is(err, glasshouse.ErrUnavailable) {
		t.Fatalf("Analyze without model: %v", err)
	}
}

// TestNoFacesSynthetic needs no shared media: a generated test pattern video
// and still have no faces.
func TestNoFacesSynthetic(t *testing.T) {
	a := newAnalyzer(t, Config{})
	dir := t.TempDir()
	vid := filepath.Join(dir, "pattern.mp4")
	ffmpeg(t, "-f", "lavfi", "-i", "testsrc2=size=640x360:rate=10:duration=3", "-c:v", "mpeg4", vid)
	res, err := a.Analyze(context.Background(), glasshouse.Input{Asset: &glasshouse.Asset{ID: "v", Kind: glasshouse.KindVideo, Name: "pattern.mp4"}, Path: vid})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(res.Insights.Faces); n != 0 {
		t.Fatalf("%d faces in a test pattern: %+v", n, res.Insights.Faces)
	}
	if res.Run.Name != "faces" || res.Run.ModelSHA256 == "" || res.Run.Model != ModelName {
		t.Fatalf("run %+v", res.Run)
	}
	img := filepath.Join(dir, "pattern.png")
	ffmpeg(t, "-f", "lavfi", "-i", "testsrc2=size=640x480", "-frames:v", "1", img)
	res, err = a.Analyze(context.Background(), glasshouse.Input{Asset: &glasshouse.Asset{ID: "i", Kind: glasshouse.KindImage, Name: "pattern.png"}, Path: img})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(res.Insights.Faces); n != 0 {
		t.Fatalf("%d faces in a test pattern image", n)
	}
	// A file that is not media fails with a clear error.
	bad := filepath.Join(dir, "bad.png")
	os.WriteFile(bad, []byte("not an image"), 0o644)
	if _, err := a.Analyze(context.Background(), glasshouse.Input{Asset: &glasshouse.Asset{Kind: glasshouse.KindImage, Name: "bad.png"}, Path: bad}); err == nil {
		t.Fatal("no error for a broken image")
	}
}

// TestImageCounts checks the face count of the shared photos against their
// ground truth: camera.png has one face, chelsea.png (a cat) and coffee.png
// none.
func TestImageCounts(t *testing.T) {
	a := newAnalyzer(t, Config{})
	want := map[string]int{"camera.png": 1, "chelsea.png": 0, "coffee.png": 0}
	exact := 0
	for name, n := range want {
		p := shared(t, filepath.Join("images", name))
		dets, err := a.DetectImage(context.Background(), loadImage(t, p))
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%s: %d faces (want %d) %+v", name, len(dets), n, dets)
		if len(dets) == n {
			exact++
		}
		// Through Analyze (ffmpeg decoding) too.
		res, err := a.Analyze(context.Background(), glasshouse.Input{Asset: &glasshouse.Asset{Kind: glasshouse.KindImage, Name: name}, Path: p})
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Insights.Faces) != n {
			t.Errorf("%s: Analyze found %d faces, want %d", name, len(res.Insights.Faces), n)
		}
	}
	if exact != len(want) {
		t.Errorf("face counts exact on %d of %d images", exact, len(want))
	}
	// The face in camera.png is in the upper middle (the man's head).
	dets, _ := a.DetectImage(context.Background(), loadImage(t, shared(t, "images/camera.png")))
	if len(dets) == 1 {
		b := dets[0].Box
		cx, cy := b.X+b.W/2, b.Y+b.H/2
		if cx < 0.3 || cx > 0.55 || cy < 0.2 || cy > 0.4 || b.W < 0.08 || b.W > 0.25 {
			t.Errorf("camera.png face box %+v not on the man's head", b)
		}
	}
}

type truthFile struct {
	Faces []struct {
		StartS float64 `json:"start_s"`
		EndS   float64 `json:"end_s"`
		Count  int     `json:"count"`
	} `json:"faces"`
}

// TestBriefingVideo compares face counts over time with briefing.truth.json.
func TestBriefingVideo(t *testing.T) {
	a := newAnalyzer(t, Config{})
	p := shared(t, "video/briefing.mp4")
	b, err := os.ReadFile(shared(t, "video/briefing.truth.json"))
	if err != nil {
		t.Fatal(err)
	}
	var tf truthFile
	if err := json.Unmarshal(b, &tf); err != nil {
		t.Fatal(err)
	}
	var truth []CountTruth
	for _, f := range tf.Faces {
		truth = append(truth, CountTruth{StartMS: int64(f.StartS * 1000), EndMS: int64(f.EndS * 1000), Count: f.Count})
	}
	res, err := a.Analyze(context.Background(), glasshouse.Input{Asset: &glasshouse.Asset{Kind: glasshouse.KindVideo, Name: "briefing.mp4"}, Path: p})
	if err != nil {
		t.Fatal(err)
	}
	score := CountScore(res.Insights.Faces, truth, 500)
	t.Logf("briefing.mp4: %d face tracks, count accuracy %.2f (%d/%d samples), mean abs error %.2f",
		len(res.Insights.Faces), score.Accuracy, score.Exact, score.Samples, score.MeanAbsErr)
	for _, f := range res.Insights.Faces {
		t.Logf("  face %d-%d ms score %.2f box %+v (%d boxes)", f.StartMS, f.EndMS, f.Score, f.Box, len(f.Boxes))
	}
	if score.Accuracy < 0.9 {
		t.Errorf("count accuracy %.2f < 0.9", score.Accuracy)
	}
}

func BenchmarkFaces(b *testing.B) {
	a := newAnalyzer(b, Config{})
	img := loadImage(b, shared(b, "images/camera.png"))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := a.DetectImage(context.Background(), img); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkFacesNoTiles(b *testing.B) {
	a := newAnalyzer(b, Config{NoTiles: true})
	img := loadImage(b, shared(b, "images/camera.png"))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := a.DetectImage(context.Background(), img); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkFacesVideo reports media seconds analysed per wall second.
func BenchmarkFacesVideo(b *testing.B) {
	a := newAnalyzer(b, Config{})
	p := shared(b, "video/briefing.mp4")
	in := glasshouse.Input{Asset: &glasshouse.Asset{Kind: glasshouse.KindVideo, Name: "briefing.mp4"}, Path: p}
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		if _, err := a.Analyze(context.Background(), in); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(10*float64(b.N)/time.Since(start).Seconds(), "media-s/wall-s")
}
