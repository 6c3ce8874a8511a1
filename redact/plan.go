// Package redact makes publishable copies of images and videos with faces,
// chosen text regions and chosen spoken words removed.
//
// A Plan says what to remove from one asset: regions over time (every face
// the detector finds, by default, plus boxes a person adds, removes or
// adjusts, and on-screen text regions they choose) and stretches of audio to
// silence or bleep (words picked from the transcript, or time ranges). A
// Renderer applies a plan to the media and writes a new file; the original
// is never modified. Video faces are detected again while rendering, on
// every Nth frame (with tiles for small faces), followed from detection to
// detection by box overlap and interpolated in between, so that no frame
// between two detections shows a face; boxes are padded. The Manifest says
// what was removed, where and when, with which models and settings, and a
// Coverage report lists the frames a person should check.
//
// Face detection only: nothing here recognises, matches or compares faces.
// A face "track" is geometry inside one video (box overlap between nearby
// frames), never an identity.
package redact

import (
	"fmt"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/glasshouse/glasshouse"
)

// Region kinds.
const (
	KindFace   = "face"   // a face the faces analyzer found (all are on by default)
	KindText   = "text"   // an on-screen text region chosen from the OCR results
	KindManual = "manual" // a box a person drew
)

// Fill modes.
const (
	FillSolid    = "solid"    // opaque colour (default): nothing of the region survives
	FillBlur     = "blur"     // strong box blur; can sometimes be partly reversed
	FillPixelate = "pixelate" // coarse blocks; can sometimes be partly reversed
)

// Audio modes.
const (
	AudioSilence = "silence"
	AudioBleep   = "bleep"
)

// Region is a box to cover over a time range. Box is normalised (0..1) to
// the picture. For an image the time range is ignored.
type Region struct {
	ID      string         `json:"id"`
	Kind    string         `json:"kind"` // face, text or manual
	StartMS int64          `json:"start_ms"`
	EndMS   int64          `json:"end_ms"`
	Box     glasshouse.Box `json:"box"`
	// Label says where the region came from (the OCR text, "face 3").
	Label string `json:"label,omitempty"`
	// Off: the region is kept in the plan but not applied. For a face it
	// also means the person reviewed it and decided to leave that face
	// visible: detections inside its box during its time are not covered.
	Off bool `json:"off,omitempty"`
	// Adjusted: a person moved or resized a detected face's box; the
	// adjusted box is drawn over the whole time range (besides per-frame
	// detection).
	Adjusted bool `json:"adjusted,omitempty"`
}

// AudioCut is a stretch of audio to silence or bleep.
type AudioCut struct {
	StartMS int64  `json:"start_ms"`
	EndMS   int64  `json:"end_ms"`
	Mode    string `json:"mode"`           // silence or bleep
	Word    string `json:"word,omitempty"` // the transcript word, if picked from it
}

// Plan is what to remove from one asset.
type Plan struct {
	Tenant glasshouse.TenantID `json:"tenant"`
	Asset  glasshouse.AssetID  `json:"asset"`
	// Faces: cover every face detected while rendering (default true).
	Faces   bool       `json:"faces"`
	Regions []Region   `json:"regions"`
	Audio   []AudioCut `json:"audio"`
	// RemoveAudio drops the audio altogether.
	RemoveAudio bool     `json:"remove_audio,omitempty"`
	Settings    Settings `json:"settings"`
	// Revision counts saves; a save must carry the revision it was based on
	// (0 for the first), else it is refused as a conflict.
	Revision int64     `json:"revision"`
	Updated  time.Time `json:"updated,omitempty"`
}

// Settings tune the render.
type Settings struct {
	Fill string `json:"fill"` // solid (default), blur, pixelate
	// Color of a solid fill, "#rrggbb" (default black).
	Color string `json:"color,omitempty"`
	// Padding grows every face box by this fraction of its larger side on
	// each side (default 0.25).
	Padding float64 `json:"padding"`
	// DetectEvery: run the face detector on every Nth video frame and
	// follow faces in between (default 3; 1 = every frame).
	DetectEvery int `json:"detect_every"`
	// Threshold is the lowest face score that is covered (default 0.6; the
	// faces analyzer counts from 0.85, so this errs towards covering).
	Threshold float64 `json:"threshold"`
	// ReviewBelow: covered faces scoring below it are listed in the
	// coverage report for a person to check (default 0.85).
	ReviewBelow float64 `json:"review_below"`
}

// Defaults fills the zero fields of s.
func (s *Settings) Defaults() {
	if s.Fill == "" {
		s.Fill = FillSolid
	}
	if s.Color == "" {
		s.Color = "#000000"
	}
	if s.Padding == 0 {
		s.Padding = 0.25
	}
	if s.DetectEvery <= 0 {
		s.DetectEvery = 3
	}
	if s.Threshold <= 0 {
		s.Threshold = 0.6
	}
	if s.ReviewBelow <= 0 {
		s.ReviewBelow = 0.85
	}
}

// Validate checks the settings and names the first problem.
func (s Settings) Validate() error {
	const op = "redact.Settings"
	switch s.Fill {
	case FillSolid, FillBlur, FillPixelate:
	default:
		return glasshouse.Errorf(op, glasshouse.ErrInvalid, "fill must be solid, blur or pixelate, not %q", s.Fill)
	}
	if _, err := ParseColor(s.Color); err != nil {
		return err
	}
	if s.Padding < 0 || s.Padding > 2 || math.IsNaN(s.Padding) {
		return glasshouse.Errorf(op, glasshouse.ErrInvalid, "padding %v is outside 0..2", s.Padding)
	}
	if s.DetectEvery < 1 || s.DetectEvery > 30 {
		return glasshouse.Errorf(op, glasshouse.ErrInvalid, "detect_every %d is outside 1..30", s.DetectEvery)
	}
	if s.Threshold <= 0 || s.Threshold >= 1 {
		return glasshouse.Errorf(op, glasshouse.ErrInvalid, "threshold %v is outside (0, 1)", s.Threshold)
	}
	if s.ReviewBelow < s.Threshold || s.ReviewBelow > 1 {
		return glasshouse.Errorf(op, glasshouse.ErrInvalid, "review_below %v must be between threshold %v and 1", s.ReviewBelow, s.Threshold)
	}
	return nil
}

// ParseColor reads "#rrggbb".
func ParseColor(s string) ([3]uint8, error) {
	var c [3]uint8
	if len(s) != 7 || s[0] != '#' {
		return c, glasshouse.Errorf("redact.ParseColor", glasshouse.ErrInvalid, "colour %q is not #rrggbb", s)
	}
	for i := 0; i < 3; i++ {
		var v uint8
		if _, err := fmt.Sscanf(s[1+2*i:3+2*i], "%02x", &v); err != nil {
			return c, glasshouse.Errorf("redact.ParseColor", glasshouse.ErrInvalid, "colour %q is not #rrggbb", s)
		}
		c[i] = v
	}
	return c, nil
}

// Draft is the default plan for an asset: every face the faces analyzer
// found, on; no text regions; no audio cuts; default settings.
func Draft(as *glasshouse.Asset, ins *glasshouse.Insights) *Plan {
	p := &Plan{Tenant: as.Tenant, Asset: as.ID, Faces: true, Regions: []Region{}, Audio: []AudioCut{}}
	p.Settings.Defaults()
	if ins != nil {
		for i, f := range ins.Faces {
			end := f.EndMS
			if as.Kind == glasshouse.KindImage {
				end = 0
			}
			p.Regions = append(p.Regions, Region{ID: fmt.Sprintf("face-%d", i+1), Kind: KindFace, StartMS: f.StartMS, EndMS: end,
				Box: f.Box, Label: fmt.Sprintf("face %d (score %.2f)", i+1, f.Score)})
		}
	}
	return p
}

// Validate checks p against the asset it is for (durations, boxes, modes),
// fills default settings and normalises it: regions get IDs, cuts are
// sorted. It names the first problem.
func (p *Plan) Validate(as *glasshouse.Asset) error {
	const op = "redact.Plan"
	if as.Kind != glasshouse.KindImage && as.Kind != glasshouse.KindVideo {
		return glasshouse.Errorf(op, glasshouse.ErrUnsupported, "redaction handles images and videos, not %s", as.Kind)
	}
	p.Settings.Defaults()
	if err := p.Settings.Validate(); err != nil {
		return err
	}
	var dur int64
	if as.Probe != nil {
		dur = as.Probe.DurationMS
	}
	if p.Regions == nil {
		p.Regions = []Region{}
	}
	if p.Audio == nil {
		p.Audio = []AudioCut{}
	}
	if len(p.Regions) > 10000 || len(p.Audio) > 10000 {
		return glasshouse.Errorf(op, glasshouse.ErrTooLarge, "a plan holds at most 10000 regions and 10000 audio cuts")
	}
	ids := map[string]bool{}
	for i := range p.Regions {
		r := &p.Regions[i]
		switch r.Kind {
		case KindFace, KindText, KindManual:
		default:
			return glasshouse.Errorf(op, glasshouse.ErrInvalid, "region %d: kind must be face, text or manual, not %q", i+1, r.Kind)
		}
		b := r.Box
		for _, v := range []float64{b.X, b.Y, b.W, b.H} {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return glasshouse.Errorf(op, glasshouse.ErrInvalid, "region %d: box is not a number", i+1)
			}
		}
		if b.W <= 0 || b.H <= 0 || b.X < 0 || b.Y < 0 || b.X+b.W > 1.0001 || b.Y+b.H > 1.0001 {
			return glasshouse.Errorf(op, glasshouse.ErrInvalid, "region %d: box %.3f,%.3f %.3fx%.3f is not inside the picture (0..1)", i+1, b.X, b.Y, b.W, b.H)
		}
		if as.Kind == glasshouse.KindVideo {
			if r.StartMS < 0 || r.EndMS <= r.StartMS {
				return glasshouse.Errorf(op, glasshouse.ErrInvalid, "region %d: time %d..%d ms is empty or negative", i+1, r.StartMS, r.EndMS)
			}
			if dur > 0 && r.StartMS >= dur {
				return glasshouse.Errorf(op, glasshouse.ErrInvalid, "region %d starts at %d ms, after the end of the video (%d ms)", i+1, r.StartMS, dur)
			}
		}
		if len(r.Label) > 500 {
			r.Label = r.Label[:500]
		}
		if r.ID == "" || ids[r.ID] {
			r.ID = fmt.Sprintf("%s-%d", r.Kind, i+1)
			for ids[r.ID] {
				r.ID += "x"
			}
		}
		ids[r.ID] = true
	}
	for i := range p.Audio {
		c := &p.Audio[i]
		if as.Kind != glasshouse.KindVideo {
			return glasshouse.Errorf(op, glasshouse.ErrInvalid, "an image has no audio to cut")
		}
		if c.Mode == "" {
			c.Mode = AudioSilence
		}
		if c.Mode != AudioSilence && c.Mode != AudioBleep {
			return glasshouse.Errorf(op, glasshouse.ErrInvalid, "audio cut %d: mode must be silence or bleep, not %q", i+1, c.Mode)
		}
		if c.StartMS < 0 || c.EndMS <= c.StartMS {
			return glasshouse.Errorf(op, glasshouse.ErrInvalid, "audio cut %d: time %d..%d ms is empty or negative", i+1, c.StartMS, c.EndMS)
		}
		if dur > 0 && c.StartMS >= dur {
			return glasshouse.Errorf(op, glasshouse.ErrInvalid, "audio cut %d starts at %d ms, after the end (%d ms)", i+1, c.StartMS, dur)
		}
	}
	sort.SliceStable(p.Audio, func(i, j int) bool { return p.Audio[i].StartMS < p.Audio[j].StartMS })
	p.Tenant, p.Asset = as.Tenant, as.ID
	return nil
}

// WordCuts returns cuts for every transcript word equal to one of words
// (case and punctuation ignored), padded by padMS on each side.
func WordCuts(ins *glasshouse.Insights, words []string, mode string, padMS int64) []AudioCut {
	want := map[string]bool{}
	for _, w := range words {
		if n := normWord(w); n != "" {
			want[n] = true
		}
	}
	var out []AudioCut
	if ins == nil {
		return out
	}
	for _, seg := range ins.Transcript {
		for _, w := range seg.Words {
			if want[normWord(w.Text)] {
				out = append(out, AudioCut{StartMS: max(0, w.StartMS-padMS), EndMS: w.EndMS + padMS, Mode: mode, Word: w.Text})
			}
		}
	}
	return out
}

func normWord(s string) string {
	return strings.ToLower(strings.TrimFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r > 127)
	}))
}
