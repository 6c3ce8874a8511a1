// Package keywords is a derived analyzer: it reads the transcript and the
// OCR text other analyzers stored for an asset (Input.Prior) and picks the
// salient words and two- to three-word phrases, with a score, a count and
// the time ranges where they occur.
//
// Method (RAKE-style candidates, confidence-weighted frequency):
//
//  1. Text is split into candidate runs at stop words, numbers, single
//     letters, punctuation and segment boundaries, as in RAKE.
//  2. Every 1-, 2- and 3-word n-gram inside a run is a candidate; each
//     occurrence weighs the mean confidence of its words (at least
//     MinWeight), times OCRBoost for text read off the picture.
//  3. A phrase scores its summed weight times sqrt(words). A phrase of
//     two or three words must occur twice, or come from OCR, or be a whole
//     run. A word or phrase that only ever occurs inside one longer kept
//     phrase is dropped in favour of it.
//  4. Scores are scaled so the best is 1; the top N are returned, best
//     first, ties by count then text.
package keywords

import (
	"context"
	"math"
	"sort"
	"strings"
	"time"
	"unicode"

	"github.com/glasshouse/glasshouse"
)

// Version of the analyzer; bump to re-run on old assets.
const Version = "1"

// Config tunes the analyzer; zero fields take the defaults.
type Config struct {
	TopN      int     // keywords returned; default 20
	OCRBoost  float64 // weight multiplier for OCR text; default 2
	MinWeight float64 // floor for an occurrence's confidence weight; default 0.1
	MergeGap  int64   // ranges closer than this (ms) are merged; default 1000
}

// Analyzer is the keywords analyzer. It is safe for concurrent use.
type Analyzer struct {
	cfg  Config
	stop map[string]bool
}

var _ glasshouse.Analyzer = (*Analyzer)(nil)

// New returns a keywords analyzer with the default settings.
func New() *Analyzer { return NewConfig(Config{}) }

// NewConfig returns a keywords analyzer with cfg.
func NewConfig(cfg Config) *Analyzer {
	if cfg.TopN <= 0 {
		cfg.TopN = 20
	}
	if cfg.OCRBoost <= 0 {
		cfg.OCRBoost = 2
	}
	if cfg.MinWeight <= 0 {
		cfg.MinWeight = 0.1
	}
	if cfg.MergeGap <= 0 {
		cfg.MergeGap = 1000
	}
	stop := make(map[string]bool, 400)
	for _, w := range strings.Fields(stopWords) {
		stop[w] = true
	}
	return &Analyzer{cfg: cfg, stop: stop}
}

// Name returns "keywords".
func (a *Analyzer) Name() string { return "keywords" }

// Version returns the analyzer version.
func (a *Analyzer) Version() string { return Version }

// Accepts every kind: images have OCR text, audio and video transcripts.
func (a *Analyzer) Accepts(glasshouse.MediaKind) bool { return true }

// Model describes the method; it needs no model files.
func (a *Analyzer) Model() glasshouse.ModelInfo {
	return glasshouse.ModelInfo{Name: "rake-tf built-in English stop list", Source: "built in", Available: true}
}

// Analyze reads in.Prior and returns Insights.Keywords. No prior text gives
// an empty result, not an error.
func (a *Analyzer) Analyze(ctx context.Context, in glasshouse.Input) (*glasshouse.Result, error) {
	start := time.Now()
	res := &glasshouse.Result{Run: glasshouse.AnalyzerRun{
		Name: a.Name(), Version: Version, Model: a.Model().Name, Started: start,
	}}
	if in.Asset != nil {
		res.Asset, res.Tenant = in.Asset.ID, in.Asset.Tenant
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if in.Prior != nil {
		res.Insights.Keywords = a.Extract(in.Prior)
	}
	res.Run.State = glasshouse.JobDone
	res.Run.DurationMS = time.Since(start).Milliseconds()
	res.Insights.Analyzers = []glasshouse.AnalyzerRun{res.Run}
	if in.Progress != nil {
		in.Progress(1)
	}
	return res, nil
}

// token is one word of the input with where and how surely it was seen.
type token struct {
	text       string // normalised; "" marks a break
	start, end int64
	conf       float64
	ocr        bool
}

// cand gathers the occurrences of one candidate phrase.
type cand struct {
	n        int // words
	weight   float64
	count    int
	whole    bool // some occurrence was a whole run
	ocr      bool
	ranges   []glasshouse.TimeRange
	firstPos int // order of first appearance, for stable ties
	parents  map[string]int
}

// Extract returns the top keywords of the transcript and OCR text in p.
func (a *Analyzer) Extract(p *glasshouse.Insights) []glasshouse.Keyword {
	cands := map[string]*cand{}
	pos := 0
	for _, run := range a.runs(p) {
		for i := range run {
			for n := 1; n <= 3 && i+n <= len(run); n++ {
				g := run[i : i+n]
				words := make([]string, n)
				var conf float64
				for k, t := range g {
					words[k] = t.text
					conf += t.conf
				}
				key := strings.Join(words, " ")
				w := math.Max(conf/float64(n), a.cfg.MinWeight)
				if g[0].ocr {
					w *= a.cfg.OCRBoost
				}
				c := cands[key]
				if c == nil {
					c = &cand{n: n, firstPos: pos, parents: map[string]int{}}
					cands[key] = c
				}
				pos++
				c.weight += w
				c.count++
				c.ocr = c.ocr || g[0].ocr
				c.whole = c.whole || n == len(run)
				if g[0].start != 0 || g[n-1].end != 0 {
					c.ranges = append(c.ranges, glasshouse.TimeRange{StartMS: g[0].start, EndMS: g[n-1].end})
				}
				// record the longer n-grams this one sits inside
				for m := n + 1; m <= 3; m++ {
					for s := i - (m - n); s <= i; s++ {
						if s < 0 || s+m > len(run) {
							continue
						}
						pw := make([]string, m)
						for k := range pw {
							pw[k] = run[s+k].text
						}
						c.parents[strings.Join(pw, " ")]++
					}
				}
			}
		}
	}
	kept := map[string]bool{}
	for key, c := range cands {
		if c.n == 1 || c.count >= 2 || c.ocr || c.whole {
			kept[key] = true
		}
	}
	// Drop a candidate whose every occurrence sits inside one kept longer
	// phrase: the longer phrase says it better.
	for key, c := range cands {
		if !kept[key] {
			continue
		}
		for parent, k := range c.parents {
			if kept[parent] && k >= c.count && cands[parent].count >= c.count {
				delete(kept, key)
				break
			}
		}
	}
	out := make([]glasshouse.Keyword, 0, len(kept))
	firsts := map[string]int{}
	var best float64
	for key := range kept {
		c := cands[key]
		s := c.weight * math.Sqrt(float64(c.n))
		best = math.Max(best, s)
		firsts[key] = c.firstPos
		out = append(out, glasshouse.Keyword{Text: key, Score: s, Count: c.count, Ranges: mergeRanges(c.ranges, a.cfg.MergeGap)})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Score != out[j].Score {
			return out[i].Score > out[j].Score
		}
		if out[i].Count != out[j].Count {
			return out[i].Count > out[j].Count
		}
		return firsts[out[i].Text] < firsts[out[j].Text]
	})
	if len(out) > a.cfg.TopN {
		out = out[:a.cfg.TopN]
	}
	for i := range out {
		out[i].Score = math.Round(out[i].Score/best*1000) / 1000
	}
	return out
}

// runs turns the prior insights into candidate runs: maximal stretches of
// content words between breaks.
func (a *Analyzer) runs(p *glasshouse.Insights) [][]token {
	var runs [][]token
	var cur []token
	flush := func() {
		if len(cur) > 0 {
			runs = append(runs, cur)
			cur = nil
		}
	}
	add := func(raw string, start, end int64, conf float64, ocr bool) {
		for _, piece := range splitRaw(raw) {
			if piece.brk {
				flush()
				continue
			}
			w := piece.text
			if a.stop[w] || len([]rune(w)) < 2 || hasDigit(w) {
				flush()
				continue
			}
			cur = append(cur, token{text: w, start: start, end: end, conf: conf, ocr: ocr})
		}
	}
	for _, s := range p.Transcript {
		if len(s.Words) > 0 {
			for _, w := range s.Words {
				add(w.Text, w.StartMS, w.EndMS, normConf(w.Confidence), false)
			}
		} else {
			add(s.Text, s.StartMS, s.EndMS, normConf(s.Confidence), false)
		}
		flush()
	}
	for _, o := range p.OCR {
		for _, line := range strings.Split(o.Text, "\n") {
			add(line, o.StartMS, o.EndMS, normConf(o.Confidence), true)
			flush()
		}
	}
	return runs
}

type piece struct {
	text string
	brk  bool
}

// splitRaw lowercases raw and splits it into words and breaks: sentence
// and clause punctuation is a break; other punctuation is trimmed from
// word edges (an apostrophe inside a word stays, a trailing 's goes).
func splitRaw(raw string) []piece {
	var out []piece
	for _, f := range strings.Fields(strings.ToLower(raw)) {
		// split off inner punctuation like "word,word" or "a/b"
		var b strings.Builder
		emit := func(brk bool) {
			w := strings.TrimFunc(b.String(), func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) })
			w = strings.TrimSuffix(w, "'s")
			w = strings.TrimSuffix(w, "’s")
			if w != "" {
				out = append(out, piece{text: w})
			}
			if brk {
				out = append(out, piece{brk: true})
			}
			b.Reset()
		}
		for _, r := range f {
			switch {
			case unicode.IsLetter(r) || unicode.IsDigit(r) || r == '\'' || r == '’' || r == '-':
				b.WriteRune(r)
			case strings.ContainsRune(".,;:!?()[]{}\"“”|/…", r):
				emit(true)
			default:
				emit(false)
			}
		}
		emit(false)
	}
	return out
}

func hasDigit(s string) bool {
	return strings.IndexFunc(s, unicode.IsDigit) >= 0
}

// normConf maps a confidence to 0..1: values above 1 are taken as percent.
func normConf(c float64) float64 {
	switch {
	case math.IsNaN(c) || c < 0:
		return 0
	case c > 1:
		return math.Min(c/100, 1)
	}
	return c
}

// mergeRanges sorts ranges and joins those that overlap or lie within gap
// of each other.
func mergeRanges(rs []glasshouse.TimeRange, gap int64) []glasshouse.TimeRange {
	if len(rs) == 0 {
		return nil
	}
	s := append([]glasshouse.TimeRange(nil), rs...)
	sort.Slice(s, func(i, j int) bool {
		if s[i].StartMS != s[j].StartMS {
			return s[i].StartMS < s[j].StartMS
		}
		return s[i].EndMS < s[j].EndMS
	})
	out := []glasshouse.TimeRange{s[0]}
	for _, r := range s[1:] {
		last := &out[len(out)-1]
		if r.StartMS <= last.EndMS+gap {
			if r.EndMS > last.EndMS {
				last.EndMS = r.EndMS
			}
			continue
		}
		out = append(out, r)
	}
	return out
}

// stopWords is an English stop list (function words, common verbs and
// spoken fillers that carry no topic).
const stopWords = `
a about above across after afterwards again against all almost alone along already also although always am among amongst an and another any anybody anyhow anyone anything anyway anyways anywhere are aren't around as at
back be became because become becomes becoming been before beforehand behind being below beside besides between beyond both but by
can can't cannot could couldn't
did didn't do does doesn't doing don't done down during
each either else elsewhere enough etc even ever every everybody everyone everything everywhere except
few first for former formerly from further
get gets getting go goes going gone gonna got gotta
had hadn't has hasn't have haven't having he he'd he'll he's hence her here here's hereafter hereby herein hers herself him himself his how however
i i'd i'll i'm i've ie if in indeed instead into is isn't it it's its itself
just
keep kind know known knows
last later least less let let's like likely
made make makes many may maybe me meanwhile might mine more moreover most mostly much must my myself
namely neither never nevertheless next no nobody none noone nor not nothing now nowhere
of off often oh ok okay on once one ones only onto or other others otherwise our ours ourselves out over own
per perhaps please put
quite
rather really right
said same say says see seem seemed seeming seems seen several shall she she'd she'll she's should shouldn't since so some somebody somehow someone something sometime sometimes somewhere still such sure
take than that that's the their theirs them themselves then thence there there's thereafter thereby therefore therein these they they'd they'll they're they've thing things think this those though through throughout thru thus to together too toward towards
uh um umm under until up upon us use used using
very via
want wanna was wasn't way we we'd we'll we're we've well went were weren't what what's whatever when whence whenever where where's whereafter whereas whereby wherein whereupon wherever whether which while whither who who's whoever whole whom whose why will with within without won't would wouldn't
yeah yes yet you you'd you'll you're you've your yours yourself yourselves
zero two three four five six seven eight nine ten eleven twelve hundred thousand million billion
`
