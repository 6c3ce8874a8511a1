package search

import (
	"strings"

	"github.com/glasshouse/glasshouse"
)

// SegmentsFromInsights turns one analyzer's insights about asset a into
// index segments, all with the given source (the analyzer's name):
// transcript segments become speech segments, OCR text becomes text
// segments, each time range of a label becomes a label segment whose text
// is the label name (a label without ranges covers the whole asset), and
// each keyword becomes a keyword segment (one per range, if it has any).
// Empty texts are skipped. The result is meant for Index.ReplaceAsset.
func SegmentsFromInsights(a *glasshouse.Asset, source string, in *glasshouse.Insights) []glasshouse.Segment {
	if a == nil || in == nil {
		return nil
	}
	var out []glasshouse.Segment
	add := func(kind string, start, end int64, text string, conf float64) {
		text = strings.TrimSpace(text)
		if text == "" {
			return
		}
		s := base(a, source, kind)
		s.StartMS, s.EndMS, s.Text, s.Confidence = start, max(end, start), text, clamp01(conf)
		out = append(out, s)
	}
	for _, t := range in.Transcript {
		add(glasshouse.SegSpeech, t.StartMS, t.EndMS, t.Text, t.Confidence)
	}
	for _, o := range in.OCR {
		add(glasshouse.SegText, o.StartMS, o.EndMS, o.Text, o.Confidence)
	}
	whole := int64(0)
	if a.Probe != nil {
		whole = a.Probe.DurationMS
	}
	for _, l := range in.Labels {
		if len(l.Ranges) == 0 {
			add(glasshouse.SegLabel, 0, whole, l.Name, l.Confidence)
		}
		for _, r := range l.Ranges {
			add(glasshouse.SegLabel, r.StartMS, r.EndMS, l.Name, l.Confidence)
		}
	}
	for _, k := range in.Keywords {
		conf := clamp01(k.Score)
		if len(k.Ranges) == 0 {
			add(glasshouse.SegKeyword, 0, whole, k.Text, conf)
		}
		for _, r := range k.Ranges {
			add(glasshouse.SegKeyword, r.StartMS, r.EndMS, k.Text, conf)
		}
	}
	return out
}

// NameSegment returns the segment that makes an asset findable by its file
// name (source SourceAsset). Punctuation in names ("harbour_fire-2025.mp4")
// separates words.
func NameSegment(a *glasshouse.Asset) glasshouse.Segment {
	s := base(a, SourceAsset, glasshouse.SegName)
	s.Text, s.Confidence = a.Name, 1
	if a.Probe != nil {
		s.EndMS = a.Probe.DurationMS
	}
	return s
}

// NoteSegment returns the segment of an asset's note (source SourceAsset).
func NoteSegment(a *glasshouse.Asset) glasshouse.Segment {
	s := base(a, SourceAsset, glasshouse.SegNote)
	s.Text, s.Confidence = a.Note, 1
	if a.Probe != nil {
		s.EndMS = a.Probe.DurationMS
	}
	return s
}

// AssetSegments returns the name segment and, if the asset has a note, the
// note segment: what to pass to Index.ReplaceAsset with SourceAsset when an
// asset is created or its name or note changes.
func AssetSegments(a *glasshouse.Asset) []glasshouse.Segment {
	var out []glasshouse.Segment
	if strings.TrimSpace(a.Name) != "" {
		out = append(out, NameSegment(a))
	}
	if strings.TrimSpace(a.Note) != "" {
		out = append(out, NoteSegment(a))
	}
	return out
}

func base(a *glasshouse.Asset, source, kind string) glasshouse.Segment {
	return glasshouse.Segment{
		Asset: a.ID, Tenant: a.Tenant, Collection: a.Collection, MediaKind: a.Kind,
		Kind: kind, Source: source, Created: a.Created,
	}
}

func clamp01(f float64) float64 {
	switch {
	case f != f: // NaN
		return 0
	case f < 0:
		return 0
	case f > 1:
		return 1
	}
	return f
}

// QualityBucket is a segment's static quality class, 0..63: the score of a
// one-word match in a segment of that confidence and length (BM25's
// term-frequency part with k1 1.2, b 0.75 and an average length of 10
// tokens, times 0.25 + 0.75 × confidence), without the word's IDF. Both
// indexes read a word's matches best bucket first, newest first within a
// bucket, and rank only the first ones (their candidate bound), so that
// they choose the same candidates.
func QualityBucket(confidence float64, tokens int) int64 {
	const k1, b, avgdl = 1.2, 0.75, 10.0
	tf := (k1 + 1) / (1 + k1*(1-b+b*float64(tokens)/avgdl))
	q := (0.25 + 0.75*confidence) * tf
	return int64(min(63, max(0, int(q*40))))
}
