package redact

import (
	"testing"

	"github.com/glasshouse/glasshouse"
)

func box(x, y, w, h float64) glasshouse.Box { return glasshouse.Box{X: x, Y: y, W: w, H: h} }

// A face moving right is joined across detection frames and interpolated;
// a face that vanishes is held (and reported missed); a new face is
// covered back to the previous detection frame.
func TestTrackerFollowsAndHolds(t *testing.T) {
	tr := newTracker()
	spans, missed := tr.step(0, []det{{box(0.1, 0.1, 0.1, 0.1), 0.9}})
	if len(spans) != 1 || !spans[0].held || len(missed) != 0 {
		t.Fatalf("first frame: %+v missed %d", spans, len(missed))
	}
	// Moved by more than its width: no overlap, but within one box size.
	spans, _ = tr.step(120, []det{{box(0.22, 0.1, 0.1, 0.1), 0.9}, {box(0.7, 0.7, 0.1, 0.1), 0.95}})
	if len(spans) != 2 {
		t.Fatalf("spans %+v", spans)
	}
	var moved, fresh *span
	for i := range spans {
		if spans[i].track == 1 {
			moved = &spans[i]
		} else {
			fresh = &spans[i]
		}
	}
	if moved == nil || moved.held || moved.a != box(0.1, 0.1, 0.1, 0.1) || moved.b != box(0.22, 0.1, 0.1, 0.1) {
		t.Fatalf("moved face not followed: %+v", spans)
	}
	if mid := moved.at(0.5); mid.X < 0.159 || mid.X > 0.161 {
		t.Errorf("halfway box at x=%.3f, want 0.16", mid.X)
	}
	if fresh == nil || !fresh.held || fresh.a != fresh.b {
		t.Fatalf("new face not held back to the previous detection: %+v", fresh)
	}
	// Both missing: held and reported for two detections, then dropped.
	for k := 1; k <= 3; k++ {
		spans, missed = tr.step(int64(120+k*120), nil)
		want := 2
		if k == 3 {
			want = 0
		}
		if len(missed) != want {
			t.Errorf("miss %d: %d missed, want %d", k, len(missed), want)
		}
		for _, s := range spans {
			if !s.held {
				t.Errorf("miss %d: span not held", k)
			}
		}
	}
	if len(tr.tracks()) != 2 {
		t.Errorf("%d tracks recorded, want 2", len(tr.tracks()))
	}
}

func TestPathThroughWaypoints(t *testing.T) {
	p := path{pts: []point{{0, box(0, 0, 0.1, 0.1)}, {6, box(0.6, 0, 0.1, 0.1)}, {12, box(0.6, 0.6, 0.1, 0.1)}}}
	if b := p.at(3); b.X < 0.299 || b.X > 0.301 || b.Y != 0 {
		t.Errorf("at 3: %+v", b)
	}
	if b := p.at(9); b.X != 0.6 || b.Y < 0.299 || b.Y > 0.301 {
		t.Errorf("at 9: %+v", b)
	}
}

func TestFillCoversOnlyTheBox(t *testing.T) {
	for _, yuv := range []bool{true, false} {
		for _, mode := range []string{FillSolid, FillBlur, FillPixelate} {
			p := newPlanar(64, 48, yuv)
			for i := range p.buf {
				p.buf[i] = byte(i * 7 % 251) // texture
			}
			orig := append([]byte(nil), p.buf...)
			r := padRect(box(0.25, 0.25, 0.25, 0.25), 64, 48, 0) // 16..32 x 12..24
			p.fill(r, mode, p.fillValues([3]uint8{0, 0, 0}))
			pl := p.planes[0]
			changedIn, changedOut := 0, 0
			for y := 0; y < pl.h; y++ {
				for x := 0; x < pl.w; x++ {
					in := x >= r.x0 && x < r.x1 && y >= r.y0 && y < r.y1
					if p.buf[y*pl.w+x] != orig[y*pl.w+x] {
						if in {
							changedIn++
						} else {
							changedOut++
						}
					}
				}
			}
			if changedOut != 0 {
				t.Errorf("yuv=%v %s: %d pixels outside the box changed", yuv, mode, changedOut)
			}
			if area := (r.x1 - r.x0) * (r.y1 - r.y0); changedIn < area*8/10 {
				t.Errorf("yuv=%v %s: only %d of %d pixels in the box changed", yuv, mode, changedIn, area)
			}
			if mode == FillSolid {
				want := p.fillValues([3]uint8{0, 0, 0})[0]
				if v := p.buf[r.y0*pl.w+r.x0]; v != want {
					t.Errorf("yuv=%v solid: %d, want %d", yuv, v, want)
				}
			}
		}
	}
}

func TestPlanValidate(t *testing.T) {
	as := &glasshouse.Asset{ID: "a", Tenant: "t", Kind: glasshouse.KindVideo, Probe: &glasshouse.ProbeInfo{DurationMS: 5000}}
	cases := []struct {
		name string
		edit func(p *Plan)
		want string
	}{
		{"fill", func(p *Plan) { p.Settings.Fill = "smudge" }, "fill must be"},
		{"box outside", func(p *Plan) { p.Regions = []Region{{Kind: KindManual, Box: box(0.9, 0.9, 0.2, 0.2), EndMS: 10}} }, "not inside the picture"},
		{"empty time", func(p *Plan) {
			p.Regions = []Region{{Kind: KindManual, Box: box(0.1, 0.1, 0.2, 0.2), StartMS: 10, EndMS: 10}}
		}, "empty or negative"},
		{"after the end", func(p *Plan) { p.Audio = []AudioCut{{StartMS: 6000, EndMS: 7000}} }, "after the end"},
		{"audio mode", func(p *Plan) { p.Audio = []AudioCut{{StartMS: 0, EndMS: 100, Mode: "mute"}} }, "silence or bleep"},
		{"colour", func(p *Plan) { p.Settings.Color = "red" }, "#rrggbb"},
	}
	for _, c := range cases {
		p := Draft(as, nil)
		c.edit(p)
		if err := p.Validate(as); err == nil || !contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", c.name, err, c.want)
		}
	}
	audio := &glasshouse.Asset{Kind: glasshouse.KindAudio}
	if err := Draft(audio, nil).Validate(audio); err == nil {
		t.Error("a plan for audio accepted")
	}
}

func contains(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return true
		}
	}
	return false
}

func TestWordCuts(t *testing.T) {
	ins := &glasshouse.Insights{Transcript: []glasshouse.TranscriptSegment{{Words: []glasshouse.Word{
		{Text: "Go", StartMS: 100, EndMS: 300}, {Text: "forward,", StartMS: 300, EndMS: 700}, {Text: "go", StartMS: 900, EndMS: 1000}}}}}
	cuts := WordCuts(ins, []string{"GO"}, AudioBleep, 50)
	if len(cuts) != 2 || cuts[0].StartMS != 50 || cuts[0].EndMS != 350 || cuts[1].Mode != AudioBleep {
		t.Fatalf("cuts %+v", cuts)
	}
	if c := WordCuts(ins, []string{"forward"}, AudioSilence, 0); len(c) != 1 || c[0].Word != "forward," {
		t.Fatalf("punctuation: %+v", c)
	}
}
