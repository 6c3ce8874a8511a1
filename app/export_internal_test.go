package app

import (
	"strings"
	"testing"

	"github.com/glasshouse/glasshouse"
)

func TestCaptionCuesSplitLongSegments(t *testing.T) {
	var words []glasshouse.Word
	text := strings.Fields("the city council will meet at noon on thursday to discuss the evacuation route for the northern districts and the harbour")
	for i, w := range text {
		words = append(words, glasshouse.Word{Text: w, StartMS: int64(i) * 600, EndMS: int64(i)*600 + 500})
	}
	cues := captionCues([]glasshouse.TranscriptSegment{{StartMS: 0, EndMS: words[len(words)-1].EndMS, Text: strings.Join(text, " "), Words: words}})
	if len(cues) < 2 {
		t.Fatalf("one %d ms segment gave %d cue(s)", words[len(words)-1].EndMS, len(cues))
	}
	var all []string
	for i, c := range cues {
		if c.end-c.start > cueMaxMS || c.end <= c.start {
			t.Errorf("cue %d lasts %d ms", i, c.end-c.start)
		}
		if i > 0 && c.start < cues[i-1].end {
			t.Errorf("cue %d starts before cue %d ends", i, i-1)
		}
		for _, line := range strings.Split(c.text, "\n") {
			if len(line) > cueMaxChars/2+12 {
				t.Errorf("cue %d line %q too long", i, line)
			}
		}
		all = append(all, strings.Fields(c.text)...)
	}
	if strings.Join(all, " ") != strings.Join(text, " ") {
		t.Errorf("cues lose or reorder words: %q", strings.Join(all, " "))
	}
	vtt := string(renderVTT(cues))
	if !strings.HasPrefix(vtt, "WEBVTT\n\n00:00:00.000 --> ") {
		t.Errorf("vtt starts %q", vtt[:40])
	}
	srt := string(renderSRT(cues))
	if !strings.HasPrefix(srt, "1\n00:00:00,000 --> ") || !strings.Contains(srt, "\n2\n") {
		t.Errorf("srt starts %q", srt[:40])
	}
	if stamp(3723004, ".") != "01:02:03.004" {
		t.Errorf("stamp = %s", stamp(3723004, "."))
	}
}
