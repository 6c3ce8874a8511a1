package search

import (
	"testing"
	"time"

	"github.com/glasshouse/glasshouse"
)

func TestSegmentsFromInsights(t *testing.T) {
	a := &glasshouse.Asset{ID: "a1", Tenant: "t", Collection: "c", Kind: glasshouse.KindVideo, Name: "harbour_fire.mp4",
		Note: "seen from the pier", Created: time.Date(2025, 7, 1, 0, 0, 0, 0, time.UTC), Probe: &glasshouse.ProbeInfo{DurationMS: 10000}}
	in := &glasshouse.Insights{
		Transcript: []glasshouse.TranscriptSegment{{StartMS: 0, EndMS: 5000, Text: " go forward ", Confidence: 0.8}, {StartMS: 5000, EndMS: 6000, Text: "  "}},
		OCR:        []glasshouse.OCRText{{Text: "EVACUATION ROUTE", StartMS: 0, EndMS: 5000, Confidence: 0.9}},
		Labels: []glasshouse.Label{
			{Name: "dog", Confidence: 0.7, Ranges: []glasshouse.TimeRange{{StartMS: 0, EndMS: 1000}, {StartMS: 4000, EndMS: 5000}}},
			{Name: "outdoor", Confidence: 1.3},
		},
		Keywords: []glasshouse.Keyword{{Text: "forward", Score: 0.4}},
	}
	got := SegmentsFromInsights(a, "x", in)
	want := []struct {
		kind       string
		start, end int64
		text       string
		conf       float64
	}{
		{glasshouse.SegSpeech, 0, 5000, "go forward", 0.8},
		{glasshouse.SegText, 0, 5000, "EVACUATION ROUTE", 0.9},
		{glasshouse.SegLabel, 0, 1000, "dog", 0.7},
		{glasshouse.SegLabel, 4000, 5000, "dog", 0.7},
		{glasshouse.SegLabel, 0, 10000, "outdoor", 1},
		{glasshouse.SegKeyword, 0, 10000, "forward", 0.4},
	}
	if len(got) != len(want) {
		t.Fatalf("got %d segments, want %d: %+v", len(got), len(want), got)
	}
	for i, w := range want {
		g := got[i]
		if g.Kind != w.kind || g.StartMS != w.start || g.EndMS != w.end || g.Text != w.text || g.Confidence != w.conf {
			t.Errorf("segment %d = %+v, want %+v", i, g, w)
		}
		if g.Asset != "a1" || g.Tenant != "t" || g.Collection != "c" || g.MediaKind != glasshouse.KindVideo || g.Source != "x" || !g.Created.Equal(a.Created) {
			t.Errorf("segment %d attributes %+v", i, g)
		}
	}
	as := AssetSegments(a)
	if len(as) != 2 || as[0].Kind != glasshouse.SegName || as[0].Text != a.Name || as[1].Kind != glasshouse.SegNote || as[1].Source != SourceAsset {
		t.Errorf("AssetSegments = %+v", as)
	}
	if SegmentsFromInsights(a, "x", nil) != nil {
		t.Errorf("nil insights gave segments")
	}
}

func TestCompile(t *testing.T) {
	p, err := Compile("label:person AND in:text evacuation collection:news")
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Filter.Collections) != 1 || p.Root == nil || p.Root.Op != OpAnd || len(p.Root.Kids) != 2 {
		t.Fatalf("plan %+v", p)
	}
	text, label := p.Root.Kids[0].Atom, p.Root.Kids[1].Atom
	if !text.Hits || len(text.Kinds) != 1 || text.Kinds[0] != glasshouse.SegText || text.Match.Words[0] != "evacuation" {
		t.Errorf("text atom %+v", text)
	}
	if label.Hits || label.Exact != "person" {
		t.Errorf("label atom %+v", label)
	}
	p, err = Compile("red car")
	if err != nil {
		t.Fatal(err)
	}
	if a := p.Root.Atom; a == nil || len(a.Phrase) != 2 || a.Match.Op != MatchAnd {
		t.Errorf("red car: %+v", p.Root)
	}
	if _, err := Compile("-dog"); err == nil {
		t.Errorf("pure exclusion compiled")
	}
	if p, err := Compile("type:video -dog"); err != nil || p.Root == nil || len(p.Root.Not) != 1 || len(p.Root.Kids) != 0 {
		t.Errorf("type:video -dog: %+v %v", p, err)
	}
}

func TestMarkSnippet(t *testing.T) {
	got := MarkSnippet("a <b> \x02fire\x03 & \x02smoke", "\x02", "\x03")
	if want := "a &lt;b&gt; <mark>fire</mark> &amp; <mark>smoke</mark>"; got != want {
		t.Errorf("MarkSnippet = %q, want %q", got, want)
	}
}
