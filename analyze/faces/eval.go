package faces

import (
	"math"

	"github.com/glasshouse/glasshouse"
)

// CountTruth is the expected number of faces over a time range (seconds in
// the test media's truth files, milliseconds here). For an image use
// StartMS = EndMS = 0.
type CountTruth struct {
	StartMS, EndMS int64
	Count          int
}

// CountResult compares detected face counts with the truth.
type CountResult struct {
	Samples    int     // time points compared
	Exact      int     // points where the count matched
	Accuracy   float64 // Exact / Samples
	MeanAbsErr float64 // mean |detected - expected| faces per point
}

// CountAt is the number of faces present at tMS: tracks with StartMS <= t <
// EndMS (or, for an image, all faces).
func CountAt(faces []glasshouse.Face, tMS int64) int {
	n := 0
	for _, f := range faces {
		if (f.StartMS == 0 && f.EndMS == 0) || (f.StartMS <= tMS && tMS < f.EndMS) {
			n++
		}
	}
	return n
}

// CountScore samples every stepMS inside each truth range (at the middle of
// each step, so cuts at range edges do not count) and compares the number
// of faces present (CountAt) with the expected count. A range with
// StartMS == EndMS is one sample. stepMS <= 0 means 500.
func CountScore(faces []glasshouse.Face, truth []CountTruth, stepMS int64) CountResult {
	if stepMS <= 0 {
		stepMS = 500
	}
	var r CountResult
	var absErr float64
	add := func(t int64, want int) {
		got := CountAt(faces, t)
		r.Samples++
		if got == want {
			r.Exact++
		}
		absErr += math.Abs(float64(got - want))
	}
	for _, tr := range truth {
		if tr.EndMS <= tr.StartMS {
			add(tr.StartMS, tr.Count)
			continue
		}
		for t := tr.StartMS + stepMS/2; t < tr.EndMS; t += stepMS {
			add(t, tr.Count)
		}
	}
	if r.Samples > 0 {
		r.Accuracy = float64(r.Exact) / float64(r.Samples)
		r.MeanAbsErr = absErr / float64(r.Samples)
	}
	return r
}
