package ocr

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"unicode"

	"github.com/glasshouse/glasshouse"
)

// normalize lower-cases s and collapses runs of white space to one space.
func normalize(s string) []rune {
	return []rune(strings.Join(strings.Fields(strings.ToLower(s)), " "))
}

func levenshtein(a, b []rune) int {
	if len(a) < len(b) {
		a, b = b, a
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			c := prev[j-1]
			if a[i-1] != b[j-1] {
				c++
			}
			cur[j] = min(c, prev[j]+1, cur[j-1]+1)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// CER is the character error rate of hyp against ref: the Levenshtein
// distance over characters divided by the length of ref, after lower-casing
// both and collapsing white space. It is 0 for a perfect reading and can
// exceed 1; an empty ref gives 0 for an empty hyp and 1 otherwise.
func CER(ref, hyp string) float64 {
	r, h := normalize(ref), normalize(hyp)
	if len(r) == 0 {
		if len(h) == 0 {
			return 0
		}
		return 1
	}
	return float64(levenshtein(r, h)) / float64(len(r))
}

// normDist is the edit distance between two texts over the longer length.
func normDist(a, b string) float64 {
	ra, rb := normalize(a), normalize(b)
	n := max(len(ra), len(rb))
	if n == 0 {
		return 0
	}
	return float64(levenshtein(ra, rb)) / float64(n)
}

// TruthText is one expected on-screen text with its time range in seconds.
type TruthText struct {
	StartS float64 `json:"start_s"`
	EndS   float64 `json:"end_s"`
	Text   string  `json:"text"`
}

// TextScore compares one expected text with what was read.
type TextScore struct {
	Truth TruthText `json:"truth"`
	// Found is the text read over the truth's time range (the entries that
	// overlap it, joined), or, for images, the lines that best match.
	Found string  `json:"found"`
	CER   float64 `json:"cer"`
	// StartMS and EndMS are the range of the best-matching entry.
	StartMS int64 `json:"start_ms"`
	EndMS   int64 `json:"end_ms"`
	// TimeOK: the best-matching entry starts and ends within 0.5 s of the truth.
	TimeOK bool `json:"time_ok"`
}

// Report is the outcome of an evaluation.
type Report struct {
	Path    string               `json:"path"`
	Texts   []TextScore          `json:"texts"`
	MeanCER float64              `json:"mean_cer"`
	TimeOK  int                  `json:"time_ok"` // entries whose range matched
	OCR     []glasshouse.OCRText `json:"ocr"`     // everything read
	Sampled int                  `json:"sampled,omitempty"`
	Read    int                  `json:"read,omitempty"`   // frames sent to tesseract
	Passes  int                  `json:"passes,omitempty"` // tesseract runs
}

// TimeTolerance is how far (ms) a range may be off and still match.
const TimeTolerance = 500

// EvalVideo runs a on videoPath and scores it against truthJSON, a file
// shaped like {"ocr": [{"start_s", "end_s", "text"}]}. For each truth entry
// the text read overlapping its range is compared by CER, and the entry
// closest to the truth text is checked for a time range within 0.5 s.
func EvalVideo(ctx context.Context, a *Analyzer, videoPath, truthJSON string) (Report, error) {
	const op = "ocr.EvalVideo"
	b, err := os.ReadFile(truthJSON)
	if err != nil {
		return Report{}, glasshouse.E(op, glasshouse.ErrNotExist, err, "read truth")
	}
	var truth struct {
		DurationS float64     `json:"duration_s"`
		OCR       []TruthText `json:"ocr"`
	}
	if err := json.Unmarshal(b, &truth); err != nil {
		return Report{}, glasshouse.E(op, glasshouse.ErrInvalid, err, "parse truth")
	}
	if !a.model.Available {
		return Report{}, glasshouse.E(op, glasshouse.ErrUnavailable, nil, a.model.Problem)
	}
	dir, done, err := workDir("")
	if err != nil {
		return Report{}, fmt.Errorf("%s: %w", op, err)
	}
	defer done()
	texts, st, err := a.analyzeVideo(ctx, dir, videoPath, int64(truth.DurationS*1000), nil)
	if err != nil {
		return Report{}, fmt.Errorf("%s: %w", op, err)
	}
	rep := Report{Path: videoPath, OCR: texts, Sampled: st.Sampled, Read: st.Read, Passes: st.Passes}
	for _, tt := range truth.OCR {
		s, e := int64(tt.StartS*1000), int64(tt.EndS*1000)
		var parts []string
		var best *glasshouse.OCRText
		bestCER := 0.0
		for i := range texts {
			t := &texts[i]
			if t.EndMS <= s || t.StartMS >= e {
				continue
			}
			parts = append(parts, t.Text)
			if c := CER(tt.Text, t.Text); best == nil || c < bestCER {
				best, bestCER = t, c
			}
		}
		sc := TextScore{Truth: tt, Found: strings.Join(parts, " ")}
		sc.CER = min(CER(tt.Text, sc.Found), 1)
		if best != nil {
			// The truth text may be only part of what is on screen.
			sc.CER = min(sc.CER, bestCER)
			sc.StartMS, sc.EndMS = best.StartMS, best.EndMS
			sc.TimeOK = abs64(best.StartMS-s) <= TimeTolerance && abs64(best.EndMS-e) <= TimeTolerance
		} else {
			sc.CER = 1
		}
		if sc.TimeOK {
			rep.TimeOK++
		}
		rep.Texts = append(rep.Texts, sc)
		rep.MeanCER += sc.CER
	}
	if len(rep.Texts) > 0 {
		rep.MeanCER /= float64(len(rep.Texts))
	}
	return rep, nil
}

// EvalImage runs a on imagePath and, for each expected phrase, finds the
// best match in the text read: the CER of the phrase against the closest
// window of recognised words (so a phrase inside a longer line scores 0).
func EvalImage(ctx context.Context, a *Analyzer, imagePath string, expected []string) (Report, error) {
	const op = "ocr.EvalImage"
	if !a.model.Available {
		return Report{}, glasshouse.E(op, glasshouse.ErrUnavailable, nil, a.model.Problem)
	}
	dir, done, err := workDir("")
	if err != nil {
		return Report{}, fmt.Errorf("%s: %w", op, err)
	}
	defer done()
	texts, err := a.analyzeImage(ctx, dir, imagePath)
	if err != nil {
		return Report{}, fmt.Errorf("%s: %w", op, err)
	}
	rep := Report{Path: imagePath, OCR: texts}
	var lines []string
	for _, t := range texts {
		lines = append(lines, t.Text)
	}
	for _, e := range expected {
		found, c := bestWindow(e, lines)
		rep.Texts = append(rep.Texts, TextScore{Truth: TruthText{Text: e}, Found: found, CER: c, TimeOK: true})
		rep.MeanCER += c
		rep.TimeOK++
	}
	if len(expected) > 0 {
		rep.MeanCER /= float64(len(expected))
	}
	return rep, nil
}

// bestWindow finds the run of consecutive words (within a line, or across
// the join of all lines in reading order) closest to phrase.
func bestWindow(phrase string, lines []string) (string, float64) {
	n := len(strings.Fields(phrase))
	words := strings.Fields(strings.Join(lines, " "))
	best, bestC := "", 1.0
	for w := max(1, n-1); w <= n+1; w++ {
		for i := 0; i+w <= len(words); i++ {
			cand := strings.Join(words[i:i+w], " ")
			if c := CER(stripPunct(phrase), stripPunct(cand)); c < bestC {
				best, bestC = cand, c
			}
		}
	}
	return best, bestC
}

// stripPunct drops punctuation, which the expected phrases leave out.
func stripPunct(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsPunct(r) {
			return -1
		}
		return r
	}, s)
}

func abs64(v int64) int64 {
	if v < 0 {
		return -v
	}
	return v
}
