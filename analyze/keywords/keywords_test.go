package keywords

import (
	"context"
	"reflect"
	"strings"
	"testing"

	"github.com/glasshouse/glasshouse"
)

// seg builds a transcript segment starting at start, each word lasting
// 300 ms with 50 ms between words, all with confidence conf.
func seg(track int, conf float64, start int64, text string) glasshouse.TranscriptSegment {
	s := glasshouse.TranscriptSegment{Track: track, StartMS: start, Text: text, Confidence: conf}
	t := start
	for _, w := range strings.Fields(text) {
		s.Words = append(s.Words, glasshouse.Word{Text: w, StartMS: t, EndMS: t + 300, Confidence: conf})
		t += 350
	}
	s.EndMS = t - 50
	return s
}

func find(kws []glasshouse.Keyword, text string) (glasshouse.Keyword, int) {
	for i, k := range kws {
		if k.Text == text {
			return k, i
		}
	}
	return glasshouse.Keyword{}, -1
}

func TestKeywords(t *testing.T) {
	prior := &glasshouse.Insights{
		Transcript: []glasshouse.TranscriptSegment{
			seg(1, 0.9, 0, "the harbour bridge is closed for repairs"),
			seg(1, 0.9, 5000, "we are going to the harbour bridge again tomorrow"),
			seg(1, 0.9, 10000, "and I think the repairs will take 3 weeks"),
			seg(1, 0.2, 20000, "um so yeah the ferry is it the ferry"), // low confidence
			seg(1, 0.9, 30000, "well the harbour bridge you know"),
		},
		OCR: []glasshouse.OCRText{
			{Text: "Road Closure", StartMS: 2000, EndMS: 8000, Confidence: 0.8},
		},
	}
	res, err := New().Analyze(context.Background(), glasshouse.Input{
		Asset: &glasshouse.Asset{ID: "a", Tenant: "t", Kind: glasshouse.KindVideo}, Prior: prior,
	})
	if err != nil {
		t.Fatal(err)
	}
	kws := res.Insights.Keywords
	for i, k := range kws {
		t.Logf("%d %-20s score %.3f count %d ranges %v", i, k.Text, k.Score, k.Count, k.Ranges)
	}
	if len(kws) == 0 || kws[0].Text != "harbour bridge" || kws[0].Score != 1 || kws[0].Count != 3 {
		t.Fatalf("top keyword %+v, want \"harbour bridge\" x3 with score 1", kws)
	}
	// "harbour bridge" is words 2-3 of the first segment, 6-7 of the
	// second and 3-4 of the last (350 ms per word).
	want := []glasshouse.TimeRange{{StartMS: 350, EndMS: 1000}, {StartMS: 6750, EndMS: 7400}, {StartMS: 30700, EndMS: 31350}}
	if !reflect.DeepEqual(kws[0].Ranges, want) {
		t.Errorf("harbour bridge ranges %v, want %v", kws[0].Ranges, want)
	}
	// "harbour" and "bridge" occur only inside "harbour bridge": folded into it.
	for _, w := range []string{"harbour", "bridge"} {
		if _, i := find(kws, w); i >= 0 {
			t.Errorf("%q listed on its own although it only occurs in \"harbour bridge\"", w)
		}
	}
	// OCR text, boosted, comes before single spoken words said once.
	oc, io := find(kws, "road closure")
	rp, ir := find(kws, "repairs")
	if io < 0 || ir < 0 {
		t.Fatalf("want \"road closure\" and \"repairs\" in %v", kws)
	}
	if io > 2 || oc.Ranges[0] != (glasshouse.TimeRange{StartMS: 2000, EndMS: 8000}) {
		t.Errorf("road closure at rank %d ranges %v", io, oc.Ranges)
	}
	if rp.Count != 2 || len(rp.Ranges) != 2 {
		t.Errorf("repairs %+v, want count 2 in two ranges", rp)
	}
	// Low-confidence words rank below confident ones said as often.
	fe, ife := find(kws, "ferry")
	if ife < 0 || fe.Count != 2 || fe.Score >= rp.Score {
		t.Errorf("ferry %+v (rank %d) should be found twice but score below repairs %+v", fe, ife, rp)
	}
	// Stop words, fillers, numbers and single letters never appear.
	for _, k := range kws {
		for _, w := range strings.Fields(k.Text) {
			switch w {
			case "the", "is", "we", "are", "going", "to", "and", "i", "think", "will", "um", "so", "yeah", "it", "well", "you", "know", "3", "for":
				t.Errorf("stop word %q in keyword %q", w, k.Text)
			}
		}
		if k.Score <= 0 || k.Score > 1 {
			t.Errorf("score %v out of (0, 1]", k.Score)
		}
	}
	if res.Run.Name != "keywords" || res.Run.State != glasshouse.JobDone || res.Asset != "a" {
		t.Errorf("run %+v", res.Run)
	}
}

func TestTopNAndEmpty(t *testing.T) {
	a := NewConfig(Config{TopN: 2})
	p := &glasshouse.Insights{Transcript: []glasshouse.TranscriptSegment{
		{Text: "apples oranges, pears. apples bananas; apples pears"}, // no words: segment text
	}}
	kws := a.Extract(p)
	if len(kws) != 2 || kws[0].Text != "apples" || kws[0].Count != 3 || kws[1].Text != "pears" {
		t.Errorf("top 2 = %+v, want apples x3, pears", kws)
	}
	if kws[0].Ranges != nil {
		t.Errorf("untimed text got ranges %v", kws[0].Ranges)
	}
	res, err := New().Analyze(context.Background(), glasshouse.Input{})
	if err != nil || len(res.Insights.Keywords) != 0 {
		t.Errorf("no prior: %v %+v", err, res)
	}
	if !New().Accepts(glasshouse.KindImage) || !New().Accepts(glasshouse.KindAudio) {
		t.Error("keywords should accept every kind")
	}
}

func TestOCRPercentConfidenceAndLines(t *testing.T) {
	// An image: OCR only, confidence in percent, two lines that must not
	// join into one phrase.
	p := &glasshouse.Insights{OCR: []glasshouse.OCRText{
		{Text: "Annual Report\nFinancial Statements", Confidence: 91},
		{Text: "Annual Report", Confidence: 88},
	}}
	kws := New().Extract(p)
	if len(kws) == 0 || kws[0].Text != "annual report" || kws[0].Count != 2 {
		t.Fatalf("keywords %+v, want \"annual report\" x2 first", kws)
	}
	if _, i := find(kws, "report financial"); i >= 0 {
		t.Error("phrase joined across OCR lines")
	}
	if _, i := find(kws, "financial statements"); i < 0 {
		t.Errorf("want \"financial statements\" in %+v", kws)
	}
}

func TestMergeRanges(t *testing.T) {
	got := mergeRanges([]glasshouse.TimeRange{{StartMS: 5000, EndMS: 5300}, {StartMS: 0, EndMS: 300}, {StartMS: 800, EndMS: 1000}, {StartMS: 9000, EndMS: 9100}}, 1000)
	want := []glasshouse.TimeRange{{StartMS: 0, EndMS: 1000}, {StartMS: 5000, EndMS: 5300}, {StartMS: 9000, EndMS: 9100}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("merge = %v, want %v", got, want)
	}
}
