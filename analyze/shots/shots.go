// Package shots is the analyzer that splits a video into shots at its hard
// cuts and stores keyframes for them.
package shots

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"sort"
	"strconv"
	"time"

	"github.com/glasshouse/glasshouse"
	"github.com/glasshouse/glasshouse/media"
)

// Defaults for Options.
const (
	DefaultThreshold   = 0.3
	DefaultSampleEvery = 10 * time.Second
	DefaultMinShot     = 500 * time.Millisecond
	DefaultImageWidth  = 1280
	DefaultThumbWidth  = 320
)

// Options tune the analyzer; zero values take the defaults.
type Options struct {
	// Threshold is the ffmpeg scene score (0..1) over which a frame starts
	// a new shot. Default 0.3: on the shared test clip and the synthetic
	// tests it finds every cut with no false ones; lower finds softer cuts
	// and more false ones in fast motion.
	Threshold float64
	// SampleEvery adds keyframes inside shots longer than this, spaced by
	// it around the middle one. Default 10 s; negative: one per shot.
	SampleEvery time.Duration
	// MinShot drops a cut closer than this to the previous one (flashes).
	MinShot time.Duration
	// ImageWidth and ThumbWidth bound the stored keyframe and its
	// thumbnail (never enlarged). Defaults 1280 and 320.
	ImageWidth, ThumbWidth int
}

func (o Options) withDefaults() Options {
	if o.Threshold <= 0 || o.Threshold >= 1 {
		o.Threshold = DefaultThreshold
	}
	if o.SampleEvery == 0 {
		o.SampleEvery = DefaultSampleEvery
	}
	if o.MinShot <= 0 {
		o.MinShot = DefaultMinShot
	}
	if o.ImageWidth <= 0 {
		o.ImageWidth = DefaultImageWidth
	}
	if o.ThumbWidth <= 0 {
		o.ThumbWidth = DefaultThumbWidth
	}
	return o
}

// Analyzer finds shots and keyframes in videos.
type Analyzer struct {
	limits media.Limits
	opts   Options
}

var _ glasshouse.Analyzer = (*Analyzer)(nil)

// New returns the shots analyzer; external processes run under l.
func New(l media.Limits, opts Options) *Analyzer {
	return &Analyzer{limits: l, opts: opts.withDefaults()}
}

// Name implements glasshouse.Analyzer.
func (a *Analyzer) Name() string { return "shots" }

// Version implements glasshouse.Analyzer.
func (a *Analyzer) Version() string { return "1" }

// Accepts implements glasshouse.Analyzer: video only.
func (a *Analyzer) Accepts(kind glasshouse.MediaKind) bool { return kind == glasshouse.KindVideo }

// Model names the method and its setting, for the analyzer record.
func (a *Analyzer) Model() string {
	return "ffmpeg scene score > " + strconv.FormatFloat(a.opts.Threshold, 'f', -1, 64)
}

// stillsPerCall is how many keyframes are extracted between progress reports.
const stillsPerCall = 8

// Analyze implements glasshouse.Analyzer. It detects the cuts, makes shots
// of the spans between them, and stores one keyframe (a JPEG at most
// ImageWidth wide, and a ThumbWidth thumbnail) at the middle of each shot,
// plus one every SampleEvery around it in long shots.
func (a *Analyzer) Analyze(ctx context.Context, in glasshouse.Input) (*glasshouse.Result, error) {
	const op = "shots.Analyze"
	start := time.Now()
	if in.Path == "" || in.Blobs == nil {
		return nil, glasshouse.Errorf(op, glasshouse.ErrInvalid, "input needs a media path and a blob store")
	}
	progress := func(f float64) {
		if in.Progress != nil {
			in.Progress(f)
		}
	}
	var pi *glasshouse.ProbeInfo
	if in.Asset != nil {
		pi = in.Asset.Probe
	}
	if pi == nil {
		var err error
		if pi, err = media.Probe(ctx, a.limits, in.Path); err != nil {
			return nil, fmt.Errorf("%s: %w", op, err)
		}
	}
	if pi.Width == 0 {
		return nil, glasshouse.Errorf(op, glasshouse.ErrUnsupported, "no video stream")
	}
	progress(0.05)
	cuts, err := media.SceneCuts(ctx, a.limits, in.Path, a.opts.Threshold)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	progress(0.6)
	shots := Shots(cuts, pi.DurationMS, a.opts.MinShot.Milliseconds())
	frameMS := int64(40)
	if pi.FrameRate > 0 {
		frameMS = int64(math.Ceil(1000 / pi.FrameRate))
	}
	kfs := KeyframeTimes(shots, a.opts.SampleEvery.Milliseconds(), frameMS)

	res := &glasshouse.Result{Insights: glasshouse.Insights{Shots: shots}}
	seen := map[glasshouse.Ref]bool{}
	addBlob := func(r glasshouse.Ref) {
		if !seen[r] {
			seen[r] = true
			res.Blobs = append(res.Blobs, r)
		}
	}
	widths := []int{a.opts.ImageWidth, a.opts.ThumbWidth}
	for i := 0; i < len(kfs); i += stillsPerCall {
		batch := kfs[i:min(i+stillsPerCall, len(kfs))]
		times := make([]int64, len(batch))
		for j, k := range batch {
			times[j] = k.TimeMS
		}
		stills, err := media.Stills(ctx, a.limits, in.Path, times, widths)
		if err != nil {
			return nil, fmt.Errorf("%s: keyframes: %w", op, err)
		}
		for j, k := range batch {
			if stills[j] == nil {
				continue // no frame there (a duration longer than the stream)
			}
			if k.Image, _, err = in.Blobs.Put(ctx, bytes.NewReader(stills[j][0])); err != nil {
				return nil, fmt.Errorf("%s: store keyframe: %w", op, err)
			}
			if k.Thumb, _, err = in.Blobs.Put(ctx, bytes.NewReader(stills[j][1])); err != nil {
				return nil, fmt.Errorf("%s: store keyframe thumbnail: %w", op, err)
			}
			addBlob(k.Image)
			addBlob(k.Thumb)
			res.Insights.Keyframes = append(res.Insights.Keyframes, k)
		}
		progress(0.6 + 0.4*float64(min(i+stillsPerCall, len(kfs)))/float64(len(kfs)))
	}
	res.Run = glasshouse.AnalyzerRun{
		Name:       a.Name(),
		Version:    a.Version(),
		State:      glasshouse.JobDone,
		Model:      a.Model(),
		Started:    start,
		DurationMS: time.Since(start).Milliseconds(),
	}
	if in.Asset != nil {
		res.Asset, res.Tenant = in.Asset.ID, in.Asset.Tenant
	}
	progress(1)
	return res, nil
}

// Shots turns cut times into shots covering [0, durationMS]: cuts closer
// than minShotMS to the previous boundary, and cuts at or past the end,
// are dropped. With no duration the last shot ends at the last cut.
func Shots(cuts []int64, durationMS, minShotMS int64) []glasshouse.Shot {
	cuts = append([]int64(nil), cuts...)
	sort.Slice(cuts, func(i, j int) bool { return cuts[i] < cuts[j] })
	var shots []glasshouse.Shot
	prev := int64(0)
	for _, c := range cuts {
		if c-prev < minShotMS || (durationMS > 0 && durationMS-c < minShotMS) {
			continue
		}
		shots = append(shots, glasshouse.Shot{Index: len(shots), StartMS: prev, EndMS: c})
		prev = c
	}
	end := max(durationMS, prev)
	shots = append(shots, glasshouse.Shot{Index: len(shots), StartMS: prev, EndMS: end})
	return shots
}

// Boundaries returns the cut times between shots (each shot's start but the first).
func Boundaries(shots []glasshouse.Shot) []int64 {
	var b []int64
	for _, s := range shots {
		if s.StartMS > 0 {
			b = append(b, s.StartMS)
		}
	}
	return b
}

// KeyframeTimes picks keyframes: the middle of each shot, and in shots
// longer than everyMS also the times middle ± k*everyMS that fall inside
// the shot (everyMS <= 0: middles only). Times stay at least one frame
// (frameMS) before the shot's end so that the frame belongs to the shot.
func KeyframeTimes(shots []glasshouse.Shot, everyMS, frameMS int64) []glasshouse.Keyframe {
	var out []glasshouse.Keyframe
	for _, s := range shots {
		mid := (s.StartMS + s.EndMS) / 2
		last := max(s.StartMS, s.EndMS-frameMS)
		times := []int64{min(mid, last)}
		if everyMS > 0 && s.EndMS-s.StartMS > everyMS {
			for t := mid - everyMS; t >= s.StartMS; t -= everyMS {
				times = append(times, t)
			}
			for t := mid + everyMS; t <= last; t += everyMS {
				times = append(times, t)
			}
			sort.Slice(times, func(i, j int) bool { return times[i] < times[j] })
		}
		for _, t := range times {
			out = append(out, glasshouse.Keyframe{Shot: s.Index, TimeMS: t})
		}
	}
	return out
}

// BoundaryScore matches detected cut times (got) to true ones (want), one
// to one, when they are within tolMS of each other, and returns precision
// (matched/len(got)), recall (matched/len(want)) and the number matched.
// With nothing detected precision is 1 if nothing was expected, else 0;
// with nothing expected recall is 1.
func BoundaryScore(got, want []int64, tolMS int64) (precision, recall float64, matched int) {
	g := append([]int64(nil), got...)
	w := append([]int64(nil), want...)
	sort.Slice(g, func(i, j int) bool { return g[i] < g[j] })
	sort.Slice(w, func(i, j int) bool { return w[i] < w[j] })
	// Greedy in time order is a maximum matching for points on a line with
	// a symmetric tolerance.
	for i, j := 0, 0; i < len(g) && j < len(w); {
		d := g[i] - w[j]
		switch {
		case d < -tolMS:
			i++
		case d > tolMS:
			j++
		default:
			matched++
			i++
			j++
		}
	}
	switch {
	case len(g) > 0:
		precision = float64(matched) / float64(len(g))
	case len(w) == 0:
		precision = 1
	}
	recall = 1
	if len(w) > 0 {
		recall = float64(matched) / float64(len(w))
	}
	return precision, recall, matched
}
