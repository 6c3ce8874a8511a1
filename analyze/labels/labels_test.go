package labels

import (
	"context"
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

func TestAggregate(t *testing.T) {
	box := glasshouse.Box{X: 0.1, Y: 0.1, W: 0.2, H: 0.2}
	det := func(name string, s float64) vision.Detection {
		return vision.Detection{Label: name, Score: s, Box: box}
	}
	frames := []FrameDetections{
		{TimeMS: 2000, Dets: []vision.Detection{det("cat", 0.5)}},
		{TimeMS: 0, Dets: []vision.Detection{det("cat", 0.4), det("cup", 0.9)}},
		{TimeMS: 1000, Dets: []vision.Detection{det("cat", 0.6), det("cat", 0.35)}},
		{TimeMS: 3000, Dets: nil},
		{TimeMS: 4000, Dets: []vision.Detection{det("cat", 0.3)}},
	}
	got := Aggregate(frames, 1000, 0)
	if len(got) != 2 || got[0].Name != "cup" || got[1].Name != "cat" {
		t.Fatalf("labels %+v", got)
	}
	cat := got[1]
	if cat.Confidence != 0.6 || len(cat.Boxes) != 5 {
		t.Fatalf("cat %+v", cat)
	}
	want := []glasshouse.TimeRange{{StartMS: 0, EndMS: 3000}, {StartMS: 4000, EndMS: 5000}}
	if len(cat.Ranges) != 2 || cat.Ranges[0] != want[0] || cat.Ranges[1] != want[1] {
		t.Fatalf("cat ranges %+v, want %+v", cat.Ranges, want)
	}
	if got := Aggregate(frames, 1000, 2); len(got[1].Boxes) != 2 || got[1].Boxes[0].Score != 0.6 {
		t.Fatalf("maxBoxes: %+v", got[1].Boxes)
	}
	if len(ClassNames()) != 80 || ClassNames()[15] != "cat" || ClassNames()[41] != "cup" {
		t.Fatal("class names out of COCO order")
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

// TestSyntheticMedia needs no shared media: a flat grey picture has no
// objects, and a generated video runs through the video path with labels
// whose ranges lie inside the clip.
func TestSyntheticMedia(t *testing.T) {
	a := newAnalyzer(t, Config{})
	dir := t.TempDir()
	grey := filepath.Join(dir, "grey.png")
	ffmpeg(t, "-f", "lavfi", "-i", "color=c=gray:size=640x480", "-frames:v", "1", grey)
	res, err := a.Analyze(context.Background(), glasshouse.Input{Asset: &glasshouse.Asset{ID: "g", Kind: glasshouse.KindImage, Name: "grey.png"}, Path: grey})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Insights.Labels) != 0 {
		t.Fatalf("labels on a flat grey image: %+v", res.Insights.Labels)
	}
	if res.Run.Name != "labels" || res.Run.Model != ModelName || len(res.Run.ModelSHA256) != 64 {
		t.Fatalf("run %+v", res.Run)
	}
	vid := filepath.Join(dir, "pattern.mp4")
	ffmpeg(t, "-f", "lavfi", "-i", "testsrc2=size=640x360:rate=10:duration=4", "-c:v", "mpeg4", vid)
	var prog []float64
	res, err = a.Analyze(context.Background(), glasshouse.Input{
		Asset:    &glasshouse.Asset{ID: "v", Kind: glasshouse.KindVideo, Name: "pattern.mp4", Probe: &glasshouse.ProbeInfo{DurationMS: 4000}},
		Path:     vid,
		Progress: func(f float64) { prog = append(prog, f) },
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range res.Insights.Labels {
		for _, r := range l.Ranges {
			if r.StartMS < 0 || r.EndMS > 4000 || r.EndMS <= r.StartMS {
				t.Errorf("label %s range %+v outside the 4 s clip", l.Name, r)
			}
		}
	}
	if len(prog) == 0 || prog[len(prog)-1] != 1 {
		t.Errorf("progress %v", prog)
	}
	if _, err := a.Analyze(context.Background(), glasshouse.Input{Asset: &glasshouse.Asset{Kind: glasshouse.KindAudio}, Path: vid}); !errors.Is(err, glasshouse.ErrUnsupported) {
		t.Errorf("audio: %v", err)
	}
}

// TestPhotos checks the top label of the shared photos against what they
// show: a cat, a man with a camera, a cup of coffee.
func TestPhotos(t *testing.T) {
	a := newAnalyzer(t, Config{})
	want := map[string]string{"chelsea.png": "cat", "camera.png": "person", "coffee.png": "cup"}
	hits := 0
	for name, label := range want {
		p := shared(t, filepath.Join("images", name))
		res, err := a.Analyze(context.Background(), glasshouse.Input{Asset: &glasshouse.Asset{Kind: glasshouse.KindImage, Name: name}, Path: p})
		if err != nil {
			t.Fatal(err)
		}
		ls := res.Insights.Labels
		for _, l := range ls {
			t.Logf("%s: %s %.3f boxes %d", name, l.Name, l.Confidence, len(l.Boxes))
		}
		if len(ls) == 0 || ls[0].Name != label {
			t.Errorf("%s: top label %+v, want %s", name, ls, label)
			continue
		}
		hits++
		if ls[0].Ranges[0] != (glasshouse.TimeRange{}) || ls[0].Boxes[0].Box.W < 0.2 {
			t.Errorf("%s: %+v", name, ls[0])
		}
		for _, l := range ls {
			if name == "chelsea.png" && l.Name == "dog" {
				t.Errorf("chelsea.png: cat also labelled dog (%.2f)", l.Confidence)
			}
		}
	}
	t.Logf("top-1 label correct on %d of %d photos", hits, len(want))
}

// TestBriefingVideo: briefing.mp4 shows camera.png for 0-5 s, then
// coffee.png for 5-10 s.
func TestBriefingVideo(t *testing.T) {
	a := newAnalyzer(t, Config{})
	p := shared(t, "video/briefing.mp4")
	res, err := a.Analyze(context.Background(), glasshouse.Input{Asset: &glasshouse.Asset{Kind: glasshouse.KindVideo, Name: "briefing.mp4"}, Path: p})
	if err != nil {
		t.Fatal(err)
	}
	find := func(name string) *glasshouse.Label {
		for i := range res.Insights.Labels {
			if res.Insights.Labels[i].Name == name {
				return &res.Insights.Labels[i]
			}
		}
		return nil
	}
	for _, l := range res.Insights.Labels {
		t.Logf("%s %.2f %+v", l.Name, l.Confidence, l.Ranges)
	}
	person, cup := find("person"), find("cup")
	if person == nil || cup == nil {
		t.Fatalf("person or cup missing: %+v", res.Insights.Labels)
	}
	if r := person.Ranges[0]; r.StartMS != 0 || r.EndMS < 4000 || r.EndMS > 6000 {
		t.Errorf("person range %+v, want about 0-5000", person.Ranges)
	}
	if r := cup.Ranges[0]; r.StartMS < 4000 || r.StartMS > 6000 || r.EndMS < 9000 {
		t.Errorf("cup range %+v, want about 5000-10000", cup.Ranges)
	}
}

func BenchmarkLabels(b *testing.B) {
	a := newAnalyzer(b, Config{})
	img := loadImage(b, shared(b, "images/chelsea.png"))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := a.DetectImage(context.Background(), img); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkLabelsVideo reports media seconds analysed per wall second at
// the default 1 fps.
func BenchmarkLabelsVideo(b *testing.B) {
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
