// Package faces detects faces so that they can be blurred and counted.
//
// glasshouse does not and will not do face recognition, face matching, face
// embeddings, identity clustering, or age, gender or emotion inference. This
// package finds where faces are in a picture and nothing else: a Face is a
// box over a time range and a detection score, never an identity. Boxes in
// consecutive sampled frames of ONE asset are joined into a track by box
// overlap (geometry only) so that blurring stays continuous; nothing is
// compared across assets.
//
// The detector is BlazeFace (MediaPipe's short-range model, from npm
// @vladmandic/human@3.3.6, converted to ONNX by models/provision.sh), run
// with ONNX Runtime. Small faces are found by also running it on
// overlapping tiles of the frame.
package faces

import (
	"context"
	"fmt"
	"image"
	"log/slog"
	"math"
	"sort"
	"sync"
	"time"

	"github.com/glasshouse/glasshouse"
	"github.com/glasshouse/glasshouse/analyze/vision"
	"github.com/glasshouse/glasshouse/media"
)

// Version is the analyzer version; bump it to re-run on old assets.
const Version = "1"

// ModelFile is the ONNX file the analyzer loads from the models directory.
const ModelFile = "blazeface.onnx"

// ModelName names the model and its source package in AnalyzerRun.Model.
const ModelName = "blazeface-short-range (npm:@vladmandic/human@3.3.6)"

const inputSize = 256

// Detection is one face found in one image, box normalised to the image.
type Detection = vision.Detection

// Config tunes the analyzer. Zero fields take the defaults shown.
type Config struct {
	// Threshold is the minimum face score (default 0.85). Measured with
	// this pipeline: the man in camera.png scores 0.94 (with tiling, 0.77
	// on the whole frame alone), the cat's face in chelsea.png 0.78 and a
	// shape in coffee.png 0.69, so 0.7 would count the cat.
	Threshold float64
	// NMSIoU is the overlap above which the weaker of two boxes is dropped
	// (default 0.3).
	NMSIoU float64
	// Tiled detection runs on frames whose shorter side is at least
	// MinTileSide (default 256): besides the whole frame, the model sees
	// overlapping squares of half the shorter side, which finds smaller
	// faces and scores true faces higher. NoTiles turns it off (about 5x
	// faster).
	NoTiles     bool
	MinTileSide int
	// FPS is the video sampling rate (default 1 frame per second: on
	// briefing.mp4 it counts faces as exactly as 2 fps, 20/20 samples, in
	// half the time; redaction detects on every frame with DetectImage).
	FPS float64
	// MaxWidth is the width frames are decoded at, at most (default 1280).
	MaxWidth int
	// TrackIoU is the overlap that joins a box to the track of the previous
	// sampled frame (default 0.2); MaxGap is how many sampled frames a track
	// may miss and still continue (default 1).
	TrackIoU float64
	MaxGap   int
	// Workers is how many frames run at once (default 2).
	Workers int
	// Limits bound the ffmpeg process that decodes frames.
	Limits media.Limits
	// Logger receives progress and problems (default slog.Default()).
	Logger *slog.Logger
}

func (c *Config) defaults() {
	if c.Threshold <= 0 {
		c.Threshold = 0.85
	}
	if c.NMSIoU <= 0 {
		c.NMSIoU = 0.3
	}
	if c.MinTileSide <= 0 {
		c.MinTileSide = 256
	}
	if c.FPS <= 0 {
		c.FPS = 1
	}
	if c.MaxWidth <= 0 {
		c.MaxWidth = 1280
	}
	if c.TrackIoU <= 0 {
		c.TrackIoU = 0.2
	}
	if c.MaxGap <= 0 {
		c.MaxGap = 1
	}
	if c.Workers <= 0 {
		c.Workers = 2
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
}

// Analyzer detects faces. It is safe for concurrent use.
type Analyzer struct {
	cfg     Config
	sess    *vision.Session
	model   glasshouse.ModelInfo
	anchors [][2]float64
}

var _ glasshouse.Analyzer = (*Analyzer)(nil)

// New builds the analyzer on rt. A missing model (or a nil rt) does not fail
// New: Model reports Available=false with the problem, and Analyze returns
// an error naming it.
func New(rt *vision.Runtime, cfg Config) (*Analyzer, error) {
	cfg.defaults()
	a := &Analyzer{cfg: cfg, anchors: anchors()}
	a.sess, a.model = vision.LoadModel(rt, glasshouse.ModelInfo{Name: ModelName, Source: "npm:@vladmandic/human@3.3.6 models/blazeface.json"},
		ModelFile, []string{"input"}, []string{"scores16", "boxes16", "scores8", "boxes8"}, cfg.Logger)
	return a, nil
}

// Close frees the model session.
func (a *Analyzer) Close() error { return a.sess.Close() }

// Name is "faces".
func (a *Analyzer) Name() string { return "faces" }

// Version returns Version.
func (a *Analyzer) Version() string { return Version }

// Accepts images and videos.
func (a *Analyzer) Accepts(kind glasshouse.MediaKind) bool {
	return kind == glasshouse.KindImage || kind == glasshouse.KindVideo
}

// Model describes the model for the status page.
func (a *Analyzer) Model() glasshouse.ModelInfo { return a.model }

func (a *Analyzer) unavailable(op string) error {
	return glasshouse.Errorf(op, glasshouse.ErrUnavailable, "faces model unavailable: %s", a.model.Problem)
}

// anchors returns BlazeFace's 896 anchor centres in input pixels: a 16x16
// grid (stride 16) with 2 anchors per cell, then an 8x8 grid (stride 32)
// with 6, matching the order of the outputs scores16/boxes16 then
// scores8/boxes8.
func anchors() [][2]float64 {
	var out [][2]float64
	for _, g := range []struct{ stride, n int }{{16, 2}, {32, 6}} {
		cells := inputSize / g.stride
		for y := 0; y < cells; y++ {
			for x := 0; x < cells; x++ {
				for k := 0; k < g.n; k++ {
					out = append(out, [2]float64{float64(g.stride) * (float64(x) + 0.5), float64(g.stride) * (float64(y) + 0.5)})
				}
			}
		}
	}
	return out
}

// detect runs the model once on img (letterboxed to 256x256) and returns
// the faces above thresh, before NMS.
func (a *Analyzer) detect(ctx context.Context, img image.Image, thresh float64) ([]Detection, error) {
	in, frame := vision.Letterbox(img, inputSize, inputSize, vision.NormSigned, 0)
	out, err := a.sess.Run(ctx, in)
	if err != nil {
		return nil, err
	}
	scores := append(append([]float32(nil), out[0].Data...), out[2].Data...)
	boxes := append(append([]float32(nil), out[1].Data...), out[3].Data...)
	if len(scores) != len(a.anchors) || len(boxes) != 16*len(a.anchors) {
		return nil, glasshouse.Errorf("faces.detect", glasshouse.ErrCorrupt, "model output sizes %d, %d", len(scores), len(boxes))
	}
	var dets []Detection
	for i, s := range scores {
		p := vision.Sigmoid(float64(s))
		if p < thresh {
			continue
		}
		r := boxes[16*i:]
		cx := a.anchors[i][0] + float64(r[0])
		cy := a.anchors[i][1] + float64(r[1])
		w, h := float64(r[2]), float64(r[3])
		box := frame.ToSource(cx-w/2, cy-h/2, cx+w/2, cy+h/2)
		if box.W <= 0 || box.H <= 0 {
			continue
		}
		dets = append(dets, Detection{Label: "face", Score: p, Box: box})
	}
	return dets, nil
}

// DetectImage finds the faces in one image (the whole frame, plus
// overlapping tiles when the image is large enough) and returns them best
// first, boxes normalised to img. Redaction can call it on every frame.
func (a *Analyzer) DetectImage(ctx context.Context, img image.Image) ([]Detection, error) {
	const op = "faces.DetectImage"
	if a.sess == nil {
		return nil, a.unavailable(op)
	}
	b := img.Bounds()
	if b.Dx() < 1 || b.Dy() < 1 {
		return nil, glasshouse.Errorf(op, glasshouse.ErrInvalid, "empty image")
	}
	all, err := a.detect(ctx, img, a.cfg.Threshold)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	short := min(b.Dx(), b.Dy())
	if !a.cfg.NoTiles && short >= a.cfg.MinTileSide {
		size := short / 2
		for _, t := range vision.Tiles(b.Dx(), b.Dy(), size, 0.25) {
			dets, err := a.detect(ctx, vision.SubImage(img, t), a.cfg.Threshold)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", op, err)
			}
			tw, th := float64(t.Dx()), float64(t.Dy())
			for _, d := range dets {
				// A face cut by an inner tile edge gives a partial box:
				// drop it, the neighbouring tile or the full frame has it.
				const edge = 0.01
				if (d.Box.X < edge && t.Min.X > 0) || (d.Box.Y < edge && t.Min.Y > 0) ||
					(d.Box.X+d.Box.W > 1-edge && t.Max.X < b.Dx()) || (d.Box.Y+d.Box.H > 1-edge && t.Max.Y < b.Dy()) {
					continue
				}
				d.Box = glasshouse.Box{
					X: (float64(t.Min.X) + d.Box.X*tw) / float64(b.Dx()),
					Y: (float64(t.Min.Y) + d.Box.Y*th) / float64(b.Dy()),
					W: d.Box.W * tw / float64(b.Dx()),
					H: d.Box.H * th / float64(b.Dy()),
				}
				all = append(all, d)
			}
		}
	}
	return suppress(all, a.cfg.NMSIoU), nil
}

// suppress is NMS that also drops a box mostly inside a better one (the
// same face seen whole in the frame and in a tile).
func suppress(dets []Detection, iou float64) []Detection {
	dets = vision.NMS(dets, iou, false)
	var keep []Detection
	for _, d := range dets {
		ok := true
		for _, k := range keep {
			if containment(d.Box, k.Box) > 0.6 {
				ok = false
				break
			}
		}
		if ok {
			keep = append(keep, d)
		}
	}
	return keep
}

// containment is the part of the smaller box that lies inside the other.
func containment(a, b glasshouse.Box) float64 {
	x0, y0 := math.Max(a.X, b.X), math.Max(a.Y, b.Y)
	x1, y1 := math.Min(a.X+a.W, b.X+b.W), math.Min(a.Y+a.H, b.Y+b.H)
	if x1 <= x0 || y1 <= y0 {
		return 0
	}
	small := math.Min(a.W*a.H, b.W*b.H)
	if small <= 0 {
		return 0
	}
	return (x1 - x0) * (y1 - y0) / small
}

// FrameDetections are the faces of one sampled frame.
type FrameDetections struct {
	TimeMS int64
	Dets   []Detection
}

// Analyze finds the faces of an image or a video file.
func (a *Analyzer) Analyze(ctx context.Context, in glasshouse.Input) (*glasshouse.Result, error) {
	const op = "faces.Analyze"
	if a.sess == nil {
		return nil, a.unavailable(op)
	}
	if in.Asset == nil {
		return nil, glasshouse.Errorf(op, glasshouse.ErrInvalid, "no asset")
	}
	if !a.Accepts(in.Asset.Kind) {
		return nil, glasshouse.Errorf(op, glasshouse.ErrUnsupported, "faces does not handle %s", in.Asset.Kind)
	}
	start := time.Now()
	video := in.Asset.Kind == glasshouse.KindVideo
	var expect float64
	if video && in.Asset.Probe != nil && in.Asset.Probe.DurationMS > 0 {
		expect = float64(in.Asset.Probe.DurationMS) / 1000 * a.cfg.FPS
	}
	var mu sync.Mutex
	var frames []FrameDetections
	n, err := vision.ForFrames(ctx, a.cfg.Limits, in.Path, video, a.cfg.FPS, a.cfg.MaxWidth, a.cfg.Workers,
		func(ctx context.Context, i int, tMS int64, img *image.RGBA) error {
			dets, err := a.DetectImage(ctx, img)
			if err != nil {
				return err
			}
			mu.Lock()
			frames = append(frames, FrameDetections{TimeMS: tMS, Dets: dets})
			if in.Progress != nil && expect > 0 {
				in.Progress(min(0.99, float64(len(frames))/expect))
			}
			mu.Unlock()
			return nil
		})
	if err != nil {
		return nil, glasshouse.E(op, glasshouse.ErrCorrupt, err, "detect faces in "+in.Asset.Name)
	}
	if n == 0 {
		return nil, glasshouse.Errorf(op, glasshouse.ErrCorrupt, "no frames decoded from %s", in.Asset.Name)
	}
	step := int64(0)
	if video {
		step = int64(1000 / a.cfg.FPS)
	}
	res := &glasshouse.Result{
		Asset:  in.Asset.ID,
		Tenant: in.Asset.Tenant,
		Run: glasshouse.AnalyzerRun{
			Name: a.Name(), Version: Version, State: glasshouse.JobDone,
			Model: ModelName, ModelSHA256: a.model.SHA256,
			Started: start.UTC(), DurationMS: time.Since(start).Milliseconds(),
		},
		Insights: glasshouse.Insights{Faces: Tracks(frames, step, a.cfg.TrackIoU, a.cfg.MaxGap)},
	}
	a.cfg.Logger.Debug("faces done", "asset", in.Asset.ID, "frames", n, "faces", len(res.Insights.Faces), "ms", res.Run.DurationMS)
	if in.Progress != nil {
		in.Progress(1)
	}
	return res, nil
}

// Tracks joins per-frame face boxes of one asset into Face tracks by box
// overlap between consecutive sampled frames (greedy, best IoU first, at
// least minIoU, a track may skip up to maxGap sampled frames). This is
// geometry for blurring continuity, not identity. Each Face spans
// [first frame, last frame + stepMS), its Box is the union of its boxes (a
// region that covers the face for the whole span), Score the best score,
// Boxes the per-frame boxes. stepMS is 0 for a single image.
func Tracks(frames []FrameDetections, stepMS int64, minIoU float64, maxGap int) []glasshouse.Face {
	sort.Slice(frames, func(i, j int) bool { return frames[i].TimeMS < frames[j].TimeMS })
	type track struct {
		face    glasshouse.Face
		last    glasshouse.Box
		lastIdx int
	}
	var tracks []*track
	for fi, f := range frames {
		type pair struct {
			t   *track
			d   int
			iou float64
		}
		var pairs []pair
		for _, t := range tracks {
			if fi-t.lastIdx > maxGap+1 {
				continue
			}
			for di, d := range f.Dets {
				if v := vision.IoU(t.last, d.Box); v >= minIoU {
					pairs = append(pairs, pair{t, di, v})
				}
			}
		}
		sort.SliceStable(pairs, func(i, j int) bool { return pairs[i].iou > pairs[j].iou })
		usedT := map[*track]bool{}
		usedD := map[int]bool{}
		assign := map[int]*track{}
		for _, p := range pairs {
			if usedT[p.t] || usedD[p.d] {
				continue
			}
			usedT[p.t], usedD[p.d] = true, true
			assign[p.d] = p.t
		}
		for di, d := range f.Dets {
			tb := glasshouse.TimedBox{TimeMS: f.TimeMS, Box: d.Box, Score: d.Score}
			t := assign[di]
			if t == nil {
				t = &track{face: glasshouse.Face{StartMS: f.TimeMS, Box: d.Box}}
				tracks = append(tracks, t)
			}
			t.face.EndMS = f.TimeMS + stepMS
			t.face.Box = union(t.face.Box, d.Box)
			t.face.Score = math.Max(t.face.Score, d.Score)
			t.face.Boxes = append(t.face.Boxes, tb)
			t.last, t.lastIdx = d.Box, fi
		}
	}
	out := make([]glasshouse.Face, len(tracks))
	for i, t := range tracks {
		out[i] = t.face
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].StartMS < out[j].StartMS })
	return out
}

func union(a, b glasshouse.Box) glasshouse.Box {
	x0, y0 := math.Min(a.X, b.X), math.Min(a.Y, b.Y)
	x1, y1 := math.Max(a.X+a.W, b.X+b.W), math.Max(a.Y+a.H, b.Y+b.H)
	return glasshouse.Box{X: x0, Y: y0, W: x1 - x0, H: y1 - y0}
}
