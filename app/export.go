package app

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/glasshouse/glasshouse"
)

// ExportFormats are the formats Export writes.
var exportTypes = map[string]string{
	"vtt":  "text/vtt; charset=utf-8",
	"srt":  "application/x-subrip; charset=utf-8",
	"json": "application/json",
	"csv":  "text/csv; charset=utf-8",
}

// Caption cue limits: two lines of about 42 characters, at most 7 s.
const (
	cueMaxChars = 84
	cueMaxMS    = 7000
)

// Export renders an asset's insights as WebVTT or SRT captions (from the
// transcript), the insight JSON document, or CSV (one row per insight), and
// records the export in the audit log.
func (a *App) Export(ctx context.Context, actor glasshouse.Actor, id glasshouse.AssetID, format string) (*glasshouse.Content, error) {
	const op = "export"
	mt, ok := exportTypes[format]
	if !ok {
		return nil, glasshouse.Errorf(op, glasshouse.ErrInvalid, "unknown export format %q (want vtt, srt, json or csv)", format)
	}
	as, err := a.db.GetAsset(ctx, actor.Tenant, id)
	if err != nil {
		return nil, err
	}
	ins, err := a.insights(ctx, as)
	if err != nil {
		return nil, err
	}
	var b []byte
	switch format {
	case "vtt":
		b = renderVTT(captionCues(ins.Transcript))
	case "srt":
		b = renderSRT(captionCues(ins.Transcript))
	case "json":
		b, err = json.MarshalIndent(map[string]any{"asset": as, "insights": ins}, "", "  ")
	case "csv":
		b, err = renderCSV(ins)
	}
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", op, format, err)
	}
	if err := a.audit(ctx, actor, "export", string(id), map[string]any{"format": format, "bytes": len(b)}); err != nil {
		return nil, err
	}
	base := strings.TrimSuffix(as.Name, filepath.Ext(as.Name))
	return &glasshouse.Content{
		ReadSeekCloser: nopCloser{bytes.NewReader(b)},
		// No Hash or Modified: an export changes when analyzers re-run, so
		// it must not be answered 304 from the original's validators.
		Size: int64(len(b)), MediaType: mt, Name: base + "." + format,
	}, nil
}

type nopCloser struct{ *bytes.Reader }

func (nopCloser) Close() error { return nil }

// cue is one caption.
type cue struct {
	start, end int64
	text       string
}

// captionCues splits transcript segments into cues of at most two short
// lines and 7 s, cutting at word times where the segment has them.
func captionCues(segs []glasshouse.TranscriptSegment) []cue {
	segs = append([]glasshouse.TranscriptSegment(nil), segs...)
	sort.SliceStable(segs, func(i, j int) bool { return segs[i].StartMS < segs[j].StartMS })
	var out []cue
	for _, s := range segs {
		if len(s.Words) == 0 {
			out = append(out, splitUntimed(s.StartMS, s.EndMS, strings.Fields(s.Text))...)
			continue
		}
		cur := cue{start: s.Words[0].StartMS}
		for _, w := range s.Words {
			txt := strings.TrimSpace(w.Text)
			if txt == "" {
				continue
			}
			if cur.text != "" && (len(cur.text)+1+len(txt) > cueMaxChars || w.EndMS-cur.start > cueMaxMS) {
				out = append(out, cur)
				cur = cue{start: w.StartMS}
			}
			if cur.text != "" {
				cur.text += " "
			}
			cur.text += txt
			cur.end = w.EndMS
		}
		if cur.text != "" {
			out = append(out, cur)
		}
	}
	for i := range out {
		if out[i].end <= out[i].start {
			out[i].end = out[i].start + 500
		}
		out[i].text = wrapCue(out[i].text)
	}
	return out
}

// splitUntimed cuts a segment without word times into cues within the
// limits (characters and duration), giving each cue a share of the
// segment's time proportional to its characters.
func splitUntimed(start, end int64, words []string) []cue {
	if len(words) == 0 {
		return nil
	}
	total := int64(len(strings.Join(words, " ")))
	var out []cue
	for n := max(1, int((end-start+cueMaxMS-1)/cueMaxMS)); n <= len(words); n++ {
		out = out[:0]
		var done int64
		t := start
		fits := true
		for i, p := range splitEven(words, n) {
			if i > 0 {
				done++ // the space between parts
			}
			done += int64(len(p))
			next := start + (end-start)*done/total
			if done == total {
				next = end
			}
			out = append(out, cue{t, next, p})
			fits = fits && len(p) <= cueMaxChars && next-t <= cueMaxMS
			t = next
		}
		if fits {
			return out
		}
	}
	// Too few words for the time (or one very long word): keep the last
	// split and shorten what is still too long.
	for i := range out {
		out[i].end = min(out[i].end, out[i].start+cueMaxMS)
	}
	return out
}

// splitEven splits words into n runs (n <= len(words)) of about equal
// characters.
func splitEven(words []string, n int) []string {
	total := len(strings.Join(words, " "))
	var parts []string
	cur, acc := "", 0
	for i, w := range words {
		if cur != "" {
			after := n - len(parts) - 1 // parts to start after cur
			if after > 0 && (len(words)-i <= after || acc*n >= total*(len(parts)+1)) {
				parts = append(parts, cur)
				cur = ""
			}
		}
		if cur != "" {
			cur += " "
			acc++
		}
		cur += w
		acc += len(w)
	}
	return append(parts, cur)
}

// wrapCue breaks text into two lines near the middle if it is long.
func wrapCue(t string) string {
	if len(t) <= cueMaxChars/2 {
		return t
	}
	mid := len(t) / 2
	best := -1
	for i := 0; i < len(t); i++ {
		if t[i] == ' ' && (best < 0 || abs(i-mid) < abs(best-mid)) {
			best = i
		}
	}
	if best < 0 {
		return t
	}
	return t[:best] + "\n" + t[best+1:]
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

func stamp(ms int64, sep string) string {
	h := ms / 3600000
	m := ms / 60000 % 60
	s := ms / 1000 % 60
	return fmt.Sprintf("%02d:%02d:%02d%s%03d", h, m, s, sep, ms%1000)
}

// vttEscape escapes what WebVTT cue text reserves: & and < start escapes
// and tags, and "-->" may not appear in a cue.
var vttEscape = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;")

func renderVTT(cues []cue) []byte {
	var b bytes.Buffer
	b.WriteString("WEBVTT\n\n")
	for _, c := range cues {
		fmt.Fprintf(&b, "%s --> %s\n%s\n\n", stamp(c.start, "."), stamp(c.end, "."), vttEscape.Replace(c.text))
	}
	return b.Bytes()
}

func renderSRT(cues []cue) []byte {
	var b bytes.Buffer
	for i, c := range cues {
		fmt.Fprintf(&b, "%d\n%s --> %s\n%s\n\n", i+1, stamp(c.start, ","), stamp(c.end, ","), c.text)
	}
	return b.Bytes()
}

// renderCSV writes one row per insight: type, start_ms, end_ms, text,
// confidence, box (x y w h, normalised).
func renderCSV(in *glasshouse.Insights) ([]byte, error) {
	var b bytes.Buffer
	w := csv.NewWriter(&b)
	f := func(v float64) string { return strconv.FormatFloat(v, 'f', 4, 64) }
	box := func(x glasshouse.Box) string {
		if x == (glasshouse.Box{}) {
			return ""
		}
		return f(x.X) + " " + f(x.Y) + " " + f(x.W) + " " + f(x.H)
	}
	rows := [][]string{{"type", "start_ms", "end_ms", "text", "confidence", "box"}}
	i64 := func(v int64) string { return strconv.FormatInt(v, 10) }
	for _, s := range in.Transcript {
		rows = append(rows, []string{"speech", i64(s.StartMS), i64(s.EndMS), s.Text, f(s.Confidence), ""})
	}
	for _, o := range in.OCR {
		rows = append(rows, []string{"text", i64(o.StartMS), i64(o.EndMS), o.Text, f(o.Confidence), box(o.Box)})
	}
	for _, s := range in.Shots {
		rows = append(rows, []string{"shot", i64(s.StartMS), i64(s.EndMS), "shot " + strconv.Itoa(s.Index), "", ""})
	}
	for _, l := range in.Labels {
		for _, r := range l.Ranges {
			rows = append(rows, []string{"label", i64(r.StartMS), i64(r.EndMS), l.Name, f(l.Confidence), ""})
		}
	}
	for _, fc := range in.Faces {
		rows = append(rows, []string{"face", i64(fc.StartMS), i64(fc.EndMS), "face", f(fc.Score), box(fc.Box)})
	}
	for _, k := range in.Keywords {
		if len(k.Ranges) == 0 {
			rows = append(rows, []string{"keyword", "", "", k.Text, f(k.Score), ""})
		}
		for _, r := range k.Ranges {
			rows = append(rows, []string{"keyword", i64(r.StartMS), i64(r.EndMS), k.Text, f(k.Score), ""})
		}
	}
	if err := w.WriteAll(rows); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}
