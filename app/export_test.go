package app

import (
	"bytes"
	"encoding/csv"
	"strings"
	"testing"

	"github.com/glasshouse/glasshouse"
)

// TestCaptionCuesUntimedSegment: a long segment without word times is still
// cut into cues within the limits, covering the segment in order.
func TestCaptionCuesUntimedSegment(t *testing.T) {
	text := "the city council will meet at noon on thursday to discuss the evacuation route for the northern districts and the harbour after the storm"
	cues := captionCues([]glasshouse.TranscriptSegment{{StartMS: 1000, EndMS: 21000, Text: "  " + text + "\n\n"}})
	if len(cues) < 3 {
		t.Fatalf("a 20 s segment without word times gave %d cue(s), want at least 3 (7 s each)", len(cues))
	}
	if cues[0].start != 1000 || cues[len(cues)-1].end != 21000 {
		t.Errorf("cues span %d..%d ms, want the segment's 1000..21000", cues[0].start, cues[len(cues)-1].end)
	}
	var words []string
	for i, c := range cues {
		if c.end-c.start > cueMaxMS || c.end <= c.start {
			t.Errorf("cue %d lasts %d ms", i, c.end-c.start)
		}
		if i > 0 && c.start != cues[i-1].end {
			t.Errorf("cue %d starts at %d, cue %d ends at %d", i, c.start, i-1, cues[i-1].end)
		}
		if len(strings.ReplaceAll(c.text, "\n", " ")) > cueMaxChars {
			t.Errorf("cue %d has %d characters", i, len(c.text))
		}
		words = append(words, strings.Fields(c.text)...)
	}
	if strings.Join(words, " ") != text {
		t.Errorf("cues lose or reorder words: %q", strings.Join(words, " "))
	}
	// Short untimed segments stay one cue; blank ones give none.
	if c := captionCues([]glasshouse.TranscriptSegment{{StartMS: 0, EndMS: 2000, Text: "hello there"}, {StartMS: 2000, EndMS: 3000, Text: "  "}}); len(c) != 1 || c[0].text != "hello there" {
		t.Errorf("short segments: %+v", c)
	}
}

// TestRenderVTTEscapes: cue text cannot open tags or end the cue early.
func TestRenderVTTEscapes(t *testing.T) {
	vtt := string(renderVTT([]cue{{0, 1000, "R&D <b>budget</b> --> up"}}))
	want := "WEBVTT\n\n00:00:00.000 --> 00:00:01.000\nR&amp;D &lt;b&gt;budget&lt;/b&gt; --&gt; up\n\n"
	if vtt != want {
		t.Errorf("vtt = %q, want %q", vtt, want)
	}
}

// TestRenderCSVRows: one row per insight item, with quoting that survives
// commas, quotes and newlines in the text.
func TestRenderCSVRows(t *testing.T) {
	in := &glasshouse.Insights{
		Transcript: []glasshouse.TranscriptSegment{
			{StartMS: 0, EndMS: 1500, Text: `he said "stop", then left`, Confidence: 0.9},
			{StartMS: 1500, EndMS: 3000, Text: "second", Confidence: 0.8},
		},
		OCR: []glasshouse.OCRText{
			{Text: "COUNCIL\nMEETING", StartMS: 4000, EndMS: 8000, Box: glasshouse.Box{X: 0.1, Y: 0.2, W: 0.5, H: 0.1}, Confidence: 0.95},
		},
		Shots:    []glasshouse.Shot{{Index: 0, StartMS: 0, EndMS: 4000}, {Index: 1, StartMS: 4000, EndMS: 8000}},
		Labels:   []glasshouse.Label{{Name: "person", Confidence: 0.7, Ranges: []glasshouse.TimeRange{{StartMS: 0, EndMS: 1000}, {StartMS: 5000, EndMS: 6000}}}},
		Faces:    []glasshouse.Face{{StartMS: 0, EndMS: 500, Box: glasshouse.Box{X: 0.4, Y: 0.4, W: 0.1, H: 0.1}, Score: 0.99}},
		Keywords: []glasshouse.Keyword{{Text: "council", Score: 1, Count: 2}},
	}
	b, err := renderCSV(in)
	if err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(bytes.NewReader(b)).ReadAll()
	if err != nil {
		t.Fatalf("csv does not parse: %v\n%s", err, b)
	}
	want := [][]string{
		{"type", "start_ms", "end_ms", "text", "confidence", "box"},
		{"speech", "0", "1500", `he said "stop", then left`, "0.9000", ""},
		{"speech", "1500", "3000", "second", "0.8000", ""},
		{"text", "4000", "8000", "COUNCIL\nMEETING", "0.9500", "0.1000 0.2000 0.5000 0.1000"},
		{"shot", "0", "4000", "shot 0", "", ""},
		{"shot", "4000", "8000", "shot 1", "", ""},
		{"label", "0", "1000", "person", "0.7000", ""},
		{"label", "5000", "6000", "person", "0.7000", ""},
		{"face", "0", "500", "face", "0.9900", "0.4000 0.4000 0.1000 0.1000"},
		{"keyword", "", "", "council", "1.0000", ""},
	}
	if len(rows) != len(want) {
		t.Fatalf("%d rows, want %d:\n%s", len(rows), len(want), b)
	}
	for i := range want {
		if strings.Join(rows[i], "|") != strings.Join(want[i], "|") {
			t.Errorf("row %d = %q, want %q", i, rows[i], want[i])
		}
	}
}
