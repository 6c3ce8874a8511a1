package speech

import (
	"strings"

	"github.com/glasshouse/glasshouse"
)

// Segments groups words (sorted by start time) of one track into transcript
// segments: a new segment starts when the gap between two words exceeds
// pauseMS or the segment would grow longer than maxMS. A segment's
// confidence is the mean of its words' confidences.
func Segments(track int, words []glasshouse.Word, pauseMS, maxMS int64) []glasshouse.TranscriptSegment {
	var segs []glasshouse.TranscriptSegment
	var cur []glasshouse.Word
	flush := func() {
		if len(cur) == 0 {
			return
		}
		texts := make([]string, len(cur))
		var sum float64
		for i, w := range cur {
			texts[i] = w.Text
			sum += w.Confidence
		}
		segs = append(segs, glasshouse.TranscriptSegment{
			Track:      track,
			StartMS:    cur[0].StartMS,
			EndMS:      cur[len(cur)-1].EndMS,
			Text:       strings.Join(texts, " "),
			Confidence: sum / float64(len(cur)),
			Words:      cur,
		})
		cur = nil
	}
	for _, w := range words {
		if len(cur) > 0 {
			last := cur[len(cur)-1]
			if w.StartMS-last.EndMS > pauseMS || (maxMS > 0 && w.EndMS-cur[0].StartMS > maxMS) {
				flush()
			}
		}
		cur = append(cur, w)
	}
	flush()
	return segs
}
