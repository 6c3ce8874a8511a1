package redact

import (
	"math"
	"sort"

	"github.com/glasshouse/glasshouse"
)

// det is one face found at a detection frame.
type det struct {
	box   glasshouse.Box
	score float64
}

// span is how one face is covered over the frames between two detection
// frames: from box a (at the earlier) to box b (at the later), linearly.
// held marks a box kept without a detection at one end (a face that
// appeared or vanished between them, or one expected but not found), drawn
// with extra padding.
type span struct {
	track int
	a, b  glasshouse.Box
	held  bool
}

type ftrack struct {
	id    int
	box   glasshouse.Box
	coast int // detection frames in a row without a detection
	info  *FaceTrack
}

// tracker follows faces from one detection frame to the next by box
// overlap and centre distance (geometry within one video, no identity).
type tracker struct {
	maxCoast int
	next     int
	active   []*ftrack
	all      []*FaceTrack
}

func newTracker() *tracker { return &tracker{maxCoast: 2} }

// near scores how well detection d continues track box t: IoU, or, for a
// face that moved too far to overlap, a small score when the centres are
// within 2.5 box sizes.
func near(t, d glasshouse.Box) float64 {
	if v := iou(t, d); v > 0 {
		return v
	}
	dx := (t.X + t.W/2) - (d.X + d.W/2)
	dy := (t.Y + t.H/2) - (d.Y + d.H/2)
	// A face may cross more than its own size between two tiled passes
	// (half a second apart by default).
	reach := 2.5 * math.Max(math.Max(t.W, t.H), math.Max(d.W, d.H))
	if dist := math.Hypot(dx, dy); dist < reach {
		return 0.1 * (1 - dist/reach)
	}
	return 0
}

// step takes the detections at the next detection frame (time tMS) and
// returns the spans that cover the frames since the previous one, plus the
// tracks expected here but not detected (coasting). Boxes of the returned
// spans' b end are the boxes to draw on the detection frame itself.
func (tr *tracker) step(tMS int64, dets []det) (spans []span, missed []*ftrack) {
	type pair struct {
		t *ftrack
		d int
		v float64
	}
	var pairs []pair
	for _, t := range tr.active {
		for i, d := range dets {
			if v := near(t.box, d.box); v > 0 {
				pairs = append(pairs, pair{t, i, v})
			}
		}
	}
	sort.SliceStable(pairs, func(i, j int) bool { return pairs[i].v > pairs[j].v })
	usedT := map[*ftrack]bool{}
	usedD := map[int]bool{}
	var keep []*ftrack
	for _, p := range pairs {
		if usedT[p.t] || usedD[p.d] {
			continue
		}
		usedT[p.t], usedD[p.d] = true, true
		d := dets[p.d]
		spans = append(spans, span{track: p.t.id, a: p.t.box, b: d.box, held: p.t.coast > 0})
		p.t.box, p.t.coast = d.box, 0
		p.t.record(tMS, d)
		keep = append(keep, p.t)
	}
	for _, t := range tr.active {
		if usedT[t] {
			continue
		}
		// Not found here: keep covering where it was until the next
		// detection frame; after maxCoast misses it has left.
		spans = append(spans, span{track: t.id, a: t.box, b: t.box, held: true})
		t.coast++
		if t.info.EndMS < tMS {
			t.info.EndMS = tMS
		}
		if t.coast <= tr.maxCoast {
			missed = append(missed, t)
			keep = append(keep, t)
		}
	}
	for i, d := range dets {
		if usedD[i] {
			continue
		}
		// A new face: it may have come in at any frame since the previous
		// detection, so cover those frames too.
		tr.next++
		t := &ftrack{id: tr.next, box: d.box, info: &FaceTrack{ID: tr.next, StartMS: tMS, MinScore: 1}}
		tr.all = append(tr.all, t.info)
		t.record(tMS, d)
		spans = append(spans, span{track: t.id, a: d.box, b: d.box, held: true})
		keep = append(keep, t)
	}
	tr.active = keep
	return spans, missed
}

func (t *ftrack) record(tMS int64, d det) {
	t.info.Boxes = append(t.info.Boxes, glasshouse.TimedBox{TimeMS: tMS, Box: d.box, Score: d.score})
	t.info.EndMS = tMS
	t.info.MinScore = math.Min(t.info.MinScore, d.score)
	t.info.MaxScore = math.Max(t.info.MaxScore, d.score)
}

// at returns the span's box at fraction f (0 at the earlier detection
// frame, 1 at the later).
func (s span) at(f float64) glasshouse.Box {
	l := func(a, b float64) float64 { return a + (b-a)*f }
	return glasshouse.Box{X: l(s.a.X, s.b.X), Y: l(s.a.Y, s.b.Y), W: l(s.a.W, s.b.W), H: l(s.a.H, s.b.H)}
}

func iou(a, b glasshouse.Box) float64 {
	x0, y0 := math.Max(a.X, b.X), math.Max(a.Y, b.Y)
	x1, y1 := math.Min(a.X+a.W, b.X+b.W), math.Min(a.Y+a.H, b.Y+b.H)
	if x1 <= x0 || y1 <= y0 {
		return 0
	}
	in := (x1 - x0) * (y1 - y0)
	return in / (a.W*a.H + b.W*b.H - in)
}

// padRect turns a normalised box into a pixel rectangle of a w×h picture,
// grown by pad times its larger side on every side.
func padRect(b glasshouse.Box, w, h int, pad float64) rect {
	bw, bh := b.W*float64(w), b.H*float64(h)
	p := pad * math.Max(bw, bh)
	x0 := b.X*float64(w) - p
	y0 := b.Y*float64(h) - p
	return rect{int(math.Floor(x0)), int(math.Floor(y0)), int(math.Ceil(x0 + bw + 2*p)), int(math.Ceil(y0 + bh + 2*p))}
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
