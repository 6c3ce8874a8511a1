package ocr

import (
	"testing"

	"github.com/glasshouse/glasshouse"
)

func TestMergeTimeline(t *testing.T) {
	l := func(s string, conf float64) line {
		return line{Text: s, Conf: conf, Box: glasshouse.Box{X: 0.2, Y: 0.8, W: 0.5, H: 0.05}}
	}
	seq := []timedLines{
		{t: 0, lines: []line{l("CITY COUNCIL MEETNG", 0.80)}},
		{t: 1000, lines: []line{l("CITY COUNCIL MEETING", 0.95)}},
		{t: 2000, lines: nil}, // engine flicker: one frame missing
		{t: 3000, lines: []line{l("C1TY COUNCIL MEETING", 0.90)}},
		{t: 4000, lines: []line{l("ROAD CLOSED", 0.9)}},
		{t: 5000, lines: []line{l("ROAD CLOSED", 0.9)}},
	}
	got := mergeTimeline(seq, 1000, 5500)
	want := []glasshouse.OCRText{
		{Text: "CITY COUNCIL MEETING", StartMS: 0, EndMS: 4000, Confidence: 0.95},
		{Text: "ROAD CLOSED", StartMS: 4000, EndMS: 5500, Confidence: 0.9},
	}
	if len(got) != len(want) {
		t.Fatalf("got %+v", got)
	}
	for i := range want {
		g := got[i]
		if g.Text != want[i].Text || g.StartMS != want[i].StartMS || g.EndMS != want[i].EndMS || g.Confidence != want[i].Confidence {
			t.Errorf("entry %d = %+v, want %+v", i, g, want[i])
		}
	}
	// A gap of two frames splits the entry.
	seq = []timedLines{
		{t: 0, lines: []line{l("EXIT HERE", 0.9)}},
		{t: 1000}, {t: 2000},
		{t: 3000, lines: []line{l("EXIT HERE", 0.9)}},
	}
	if got := mergeTimeline(seq, 1000, 0); len(got) != 2 || got[0].EndMS != 1000 || got[1].StartMS != 3000 || got[1].EndMS != 4000 {
		t.Errorf("gap: got %+v", got)
	}
}

func TestGroupLines(t *testing.T) {
	// Sparse mode put the caption's words in separate blocks; a texture
	// fragment and a low-confidence word sit elsewhere.
	words := []word{
		{key: [3]int{1, 1, 1}, x: 200, y: 600, w: 300, h: 44, conf: 95, text: "CITY"},
		{key: [3]int{2, 1, 1}, x: 530, y: 601, w: 280, h: 43, conf: 93, text: "COUNCIL"},
		{key: [3]int{3, 1, 1}, x: 840, y: 599, w: 300, h: 45, conf: 96, text: "‘MEETING,"},
		{key: [3]int{4, 1, 1}, x: 100, y: 100, w: 30, h: 20, conf: 90, text: "ay"},
		{key: [3]int{5, 1, 1}, x: 400, y: 300, w: 200, h: 30, conf: 40, text: "mumble"},
		{key: [3]int{6, 1, 1}, x: 400, y: 400, w: 20, h: 30, conf: 99, text: "|"},
	}
	ls := groupLines(words, 60, 0.75, 1280, 720)
	if len(ls) != 1 {
		t.Fatalf("got %+v", ls)
	}
	if ls[0].Text != "CITY COUNCIL MEETING," {
		t.Errorf("text %q", ls[0].Text)
	}
	b := ls[0].Box
	if b.X != 200.0/1280 || b.Y != 599.0/720 || b.X+b.W != 1140.0/1280 {
		t.Errorf("box %+v", b)
	}
}
