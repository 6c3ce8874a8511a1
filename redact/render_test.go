package redact_test

import (
	"context"
	"encoding/json"
	"fmt"
	"image"
	_ "image/jpeg"
	_ "image/png"
	"math"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/glasshouse/glasshouse"
	"github.com/glasshouse/glasshouse/analyze/faces"
	"github.com/glasshouse/glasshouse/analyze/vision"
	"github.com/glasshouse/glasshouse/media"
	"github.com/glasshouse/glasshouse/redact"
)

// testdata is ../shared/testdata relative to the repository root.
const testdata = "../../shared/testdata"

var lim = media.Limits{Timeout: 10 * time.Minute, MaxBytes: 4 << 30}

func shared(t testing.TB, rel string) string {
	t.Helper()
	p := filepath.Join(testdata, rel)
	if _, err := os.Stat(p); err != nil {
		t.Skipf("%s not present (shared test media)", p)
	}
	return p
}

// detector opens BlazeFace with threshold thr (skips when the models are
// not provisioned).
func detector(t testing.TB, thr float64, noTiles bool) *faces.Analyzer {
	t.Helper()
	dir := vision.DefaultModelsDir()
	if _, err := os.Stat(filepath.Join(dir, faces.ModelFile)); err != nil {
		t.Skipf("models not provisioned in %s: run `bash models/provision.sh` at the repository root", dir)
	}
	rt, err := vision.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	a, err := faces.New(rt, faces.Config{Threshold: thr, NoTiles: noTiles})
	if err != nil {
		t.Fatal(err)
	}
	if !a.Model().Available {
		t.Fatalf("model unavailable: %s", a.Model().Problem)
	}
	t.Cleanup(func() { a.Close(); rt.Close() })
	return a
}

func renderer(t testing.TB) *redact.Renderer {
	d := detector(t, 0.5, true) // the renderer cuts its own tiles
	return redact.NewRenderer(redact.Config{Detector: Faces(d), Models: []redact.Model{{Name: faces.ModelName, SHA256: d.Model().SHA256, Version: faces.Version}}, Limits: lim})
}

func asset(t testing.TB, path string) *glasshouse.Asset {
	t.Helper()
	ctx := context.Background()
	pi, err := media.Probe(ctx, lim, path)
	if err != nil {
		t.Fatal(err)
	}
	_, kind, err := media.SniffFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return &glasshouse.Asset{ID: "a1", Tenant: "t", Name: filepath.Base(path), Kind: media.RefineKind(kind, pi), Probe: pi, Hash: glasshouse.Ref("sha256-" + fmt.Sprintf("%064x", 0))}
}

// Faces adapts the faces analyzer to redact.Detector.
func Faces(a *faces.Analyzer) redact.Detector {
	return redact.DetectorFunc(func(ctx context.Context, img image.Image) ([]redact.Detection, error) {
		dets, err := a.DetectImage(ctx, img)
		out := make([]redact.Detection, len(dets))
		for i, d := range dets {
			out[i] = redact.Detection{Box: d.Box, Score: d.Score}
		}
		return out, err
	})
}

type frame struct {
	t   int64
	img *image.RGBA
}

// frames decodes every frame of path.
func frames(t testing.TB, path string) []frame {
	t.Helper()
	var out []frame
	err := media.Frames(context.Background(), lim, path, 0, 0, func(tMS int64, img *image.RGBA) error {
		out = append(out, frame{int64(len(out)), &image.RGBA{Pix: append([]byte(nil), img.Pix...), Stride: img.Stride, Rect: img.Rect}})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// meanDiff is the mean absolute RGB difference of a and b inside box.
func meanDiff(a, b *image.RGBA, box glasshouse.Box) float64 {
	w, h := a.Rect.Dx(), a.Rect.Dy()
	x0, y0 := int(box.X*float64(w)), int(box.Y*float64(h))
	x1, y1 := int((box.X+box.W)*float64(w)), int((box.Y+box.H)*float64(h))
	s, n := 0.0, 0
	for y := y0; y < y1; y++ {
		for x := x0; x < x1; x++ {
			pa, pb := a.Pix[a.PixOffset(x, y):], b.Pix[b.PixOffset(x, y):]
			for c := 0; c < 3; c++ {
				s += math.Abs(float64(pa[c]) - float64(pb[c]))
			}
			n += 3
		}
	}
	if n == 0 {
		return 0
	}
	return s / float64(n)
}

type truth struct {
	Faces []struct {
		StartS float64 `json:"start_s"`
		EndS   float64 `json:"end_s"`
		Count  int     `json:"count"`
	} `json:"faces"`
}

// TestRedactBriefingNoFaceLeft renders briefing.mp4 with the default plan
// and checks, on every frame of the output, that the face detector (at the
// faces analyzer's threshold) finds no face, and that where the ground
// truth has a face the original's face pixels were changed.
func TestRedactBriefingNoFaceLeft(t *testing.T) {
	src := shared(t, "video/briefing.mp4")
	var tr truth
	b, err := os.ReadFile(shared(t, "video/briefing.truth.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &tr); err != nil {
		t.Fatal(err)
	}
	r := renderer(t)
	check := detector(t, 0.85, false) // the faces analyzer as it runs: threshold 0.85, tiles
	as := asset(t, src)
	plan := redact.Draft(as, nil)
	ctx := context.Background()
	out, m, err := r.Render(ctx, redact.Input{Asset: as, Path: src, Plan: plan, OutDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("frames %d, detected on %d, tracks %d, low %d, missed %d", m.Frames, m.Detected, len(m.Faces), len(m.Coverage.LowConfidence), len(m.Coverage.Missed))
	orig, red := frames(t, src), frames(t, out)
	if len(red) != len(orig) {
		t.Fatalf("output has %d frames, original %d", len(red), len(orig))
	}
	fps := as.Probe.FrameRate
	facesInTruth := 0
	for i := range red {
		tS := float64(i) / fps
		want := 0
		for _, f := range tr.Faces {
			if tS >= f.StartS && tS < f.EndS {
				want = f.Count
			}
		}
		if i%5 == 0 || want > 0 && i%2 == 0 {
			// The ground-truth face: found in the original where the truth
			// says there is one (count checked), then its pixels must differ.
			before, err := check.DetectImage(ctx, orig[i].img)
			if err != nil {
				t.Fatal(err)
			}
			if len(before) != want {
				t.Errorf("frame %d (%.2fs): original shows %d faces, truth %d", i, tS, len(before), want)
			}
			for _, d := range before {
				facesInTruth++
				if diff := meanDiff(orig[i].img, red[i].img, d.Box); diff < 30 {
					t.Errorf("frame %d: face region %+v changed by only %.1f per channel", i, d.Box, diff)
				}
			}
		}
		after, err := check.DetectImage(ctx, red[i].img)
		if err != nil {
			t.Fatal(err)
		}
		if len(after) > 0 {
			t.Errorf("frame %d (%.2fs): %d face(s) still detected in the output, first %+v score %.2f", i, tS, len(after), after[0].Box, after[0].Score)
		}
	}
	if facesInTruth == 0 {
		t.Fatal("no ground-truth face checked")
	}
	if len(m.Faces) == 0 {
		t.Error("manifest lists no face track")
	}
}

func decodeImage(t testing.TB, path string) *image.RGBA {
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
	return vision.RGBA(img)
}

// TestRedactImagesNoFaceLeft: the images of the shared test data with
// their ground truth (camera.png: one face; chelsea.png, coffee.png: none).
// After redaction the detector finds no face, the ground-truth face's
// pixels changed, and pictures without faces are left as they were.
func TestRedactImagesNoFaceLeft(t *testing.T) {
	cases := []struct {
		file  string
		faces int
	}{{"images/camera.png", 1}, {"images/chelsea.png", 0}, {"images/coffee.png", 0}}
	r := renderer(t)
	check := detector(t, 0.85, false)
	ctx := context.Background()
	for _, c := range cases {
		t.Run(filepath.Base(c.file), func(t *testing.T) {
			src := shared(t, c.file)
			as := asset(t, src)
			orig := decodeImage(t, src)
			before, err := check.DetectImage(ctx, orig)
			if err != nil {
				t.Fatal(err)
			}
			if len(before) != c.faces {
				t.Fatalf("original: %d faces detected, ground truth %d", len(before), c.faces)
			}
			for _, fill := range []string{redact.FillSolid, redact.FillBlur, redact.FillPixelate} {
				plan := redact.Draft(as, nil)
				plan.Settings.Fill = fill
				out, m, err := r.Render(ctx, redact.Input{Asset: as, Path: src, Plan: plan, OutDir: t.TempDir()})
				if err != nil {
					t.Fatal(err)
				}
				red := decodeImage(t, out)
				if red.Rect != orig.Rect {
					t.Fatalf("%s: output %v, original %v", fill, red.Rect, orig.Rect)
				}
				after, err := check.DetectImage(ctx, red)
				if err != nil {
					t.Fatal(err)
				}
				if len(after) != 0 {
					t.Errorf("%s: %d face(s) still detected, first score %.2f", fill, len(after), after[0].Score)
				}
				for _, d := range before {
					if diff := meanDiff(orig, red, d.Box); diff < 15 {
						t.Errorf("%s: face region changed by only %.1f per channel", fill, diff)
					}
				}
				if c.faces == 0 {
					// Redaction errs towards covering (threshold 0.6, below
					// the analyzer's 0.85): a doubtful "face" (the cat, a
					// shape in the coffee) may be covered, but each must be
					// listed in the coverage report for a person to review.
					if len(m.Coverage.LowConfidence) != len(m.Faces) {
						t.Errorf("%s: %d regions covered in a picture without faces, only %d listed for review", fill, len(m.Faces), len(m.Coverage.LowConfidence))
					}
					for _, f := range m.Faces {
						if f.MaxScore >= plan.Settings.ReviewBelow {
							t.Errorf("%s: a confident face (%.2f) in a picture whose ground truth has none", fill, f.MaxScore)
						}
					}
				} else if len(m.Faces) == 0 || len(m.Models) == 0 || m.Models[0].SHA256 == "" {
					t.Errorf("%s: manifest lacks the face or the model: %+v", fill, m)
				}
			}
		})
	}
}

// debianMedia holds pictures unpacked from Debian python3-skimage by
// scripts/setup.sh, so that a fresh clone without ../shared tests faces.
const debianMedia = "../.cache/debian-media"

func debian(t testing.TB, name string) string {
	t.Helper()
	p := filepath.Join(debianMedia, name)
	if _, err := os.Stat(p); err != nil {
		t.Skipf("%s missing: run scripts/setup.sh (it unpacks test pictures from Debian python3-skimage)", p)
	}
	return p
}

// TestRedactMovingFace pans astronaut.png (one face, Debian python3-skimage)
// across a 720p video: the face moves every frame, so the frames between
// detections rely on following and interpolation. No frame of the output
// may show a face to the faces analyzer, and where the original shows the
// face its pixels must have changed.
func TestRedactMovingFace(t *testing.T) {
	img := debian(t, "astronaut.png")
	r := renderer(t)
	check := detector(t, 0.85, false)
	dir := t.TempDir()
	src := filepath.Join(dir, "pan.mp4")
	_, err := media.Run(context.Background(), lim, "ffmpeg", "-nostdin", "-v", "error", "-y",
		"-f", "lavfi", "-i", "color=c=gray:size=1280x720:rate=25:duration=3", "-loop", "1", "-i", img,
		"-filter_complex", "[1:v]scale=360:360[p];[0:v][p]overlay=x='40+t*250':y='180+t*40':shortest=1",
		"-c:v", "libx264", "-pix_fmt", "yuv420p", "-t", "3", src)
	if err != nil {
		t.Fatal(err)
	}
	as := asset(t, src)
	ctx := context.Background()
	out, m, err := r.Render(ctx, redact.Input{Asset: as, Path: src, Plan: redact.Draft(as, nil), OutDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	orig, red := frames(t, src), frames(t, out)
	if len(orig) != len(red) || len(red) < 70 {
		t.Fatalf("frames: original %d, output %d", len(orig), len(red))
	}
	seen := 0
	for i := range red {
		if i%3 == 1 { // frames between detections, where following matters
			before, err := check.DetectImage(ctx, orig[i].img)
			if err != nil {
				t.Fatal(err)
			}
			if len(before) > 1 {
				t.Errorf("frame %d: the original shows %d faces, the picture has one", i, len(before))
			}
			for _, d := range before {
				seen++
				if diff := meanDiff(orig[i].img, red[i].img, d.Box); diff < 30 {
					t.Errorf("frame %d: face changed by only %.1f", i, diff)
				}
			}
		}
		after, err := check.DetectImage(ctx, red[i].img)
		if err != nil {
			t.Fatal(err)
		}
		if len(after) > 0 {
			t.Errorf("frame %d: face still detected in the output (score %.2f at %+v)", i, after[0].Score, after[0].Box)
		}
	}
	if seen < 10 {
		t.Fatalf("the moving face was seen in only %d original frames", seen)
	}
	if len(m.Faces) == 0 {
		t.Error("no face track in the manifest")
	}
}
