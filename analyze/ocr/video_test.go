package ocr

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/glasshouse/glasshouse"
)

// Thresholds measured on these clips (see the package report): readings
// are exact today; the margins leave room for engine noise, not for a
// broken pipeline.
const (
	maxCaptionCER = 0.10
	maxImageCER   = 0.15
)

// captionVideo writes a 6 s 1280x720 clip: "EVACUATION ROUTE NORTH" over
// 0-3 s and "CITY COUNCIL MEETING" over 3-6 s, on background bg (a lavfi
// source such as testsrc2, which moves, or a still colour).
func captionVideo(t testing.TB, bg string) string {
	p := filepath.Join(t.TempDir(), "captions.mp4")
	ffmpeg(t, "-f", "lavfi", "-i", bg+"s=1280x720:r=25:d=6",
		"-vf", caption("EVACUATION ROUTE NORTH", 0, 3, 56)+","+caption("CITY COUNCIL MEETING", 3, 6, 56),
		"-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p", p)
	return p
}

func checkCaptions(t *testing.T, texts []glasshouse.OCRText, interval int64) {
	t.Helper()
	want := []struct {
		text       string
		start, end int64
	}{
		{"EVACUATION ROUTE NORTH", 0, 3000},
		{"CITY COUNCIL MEETING", 3000, 6000},
	}
	for _, w := range want {
		var hits []glasshouse.OCRText
		for _, tx := range texts {
			if CER(w.text, tx.Text) < 0.5 {
				hits = append(hits, tx)
			}
		}
		if len(hits) != 1 {
			t.Errorf("%q: want one merged entry, got %d: %+v", w.text, len(hits), hits)
			continue
		}
		h := hits[0]
		if c := CER(w.text, h.Text); c > maxCaptionCER {
			t.Errorf("%q read as %q: CER %.3f > %.2f", w.text, h.Text, c, maxCaptionCER)
		}
		tol := int64(TimeTolerance) + interval
		if abs64(h.StartMS-w.start) > tol || abs64(h.EndMS-w.end) > tol {
			t.Errorf("%q: range %d-%d ms, want %d-%d ±%d", w.text, h.StartMS, h.EndMS, w.start, w.end, tol)
		}
		if h.Box.Y < 0.7 || h.Box.Y > 0.9 || h.Box.W <= 0 || h.Box.X+h.Box.W > 1 {
			t.Errorf("%q: box %+v not where the caption is", w.text, h.Box)
		}
		if h.Confidence <= 0 || h.Confidence > 1 {
			t.Errorf("%q: confidence %v", w.text, h.Confidence)
		}
	}
	for _, tx := range texts {
		t.Logf("  %5d-%5d ms %.2f %q", tx.StartMS, tx.EndMS, tx.Confidence, tx.Text)
	}
}

func TestVideoCaptionsMoving(t *testing.T) {
	a := newAnalyzer(t, Config{})
	p := captionVideo(t, "testsrc2=")
	res := analyze(t, a, glasshouse.KindVideo, p)
	checkCaptions(t, res.Insights.OCR, 1000)
	if res.Run.Model == "" || len(res.Run.ModelSHA256) != 64 || res.Run.Name != "ocr" || res.Run.State != glasshouse.JobDone {
		t.Errorf("run record incomplete: %+v", res.Run)
	}
}

func TestVideoCaptionsStaticSkips(t *testing.T) {
	a := newAnalyzer(t, Config{FPS: 2})
	p := captionVideo(t, "color=c=0x203050:")
	texts, st, err := a.analyzeVideo(context.Background(), t.TempDir(), p, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	checkCaptions(t, texts, 500)
	// 12 sampled frames, two distinct pictures: only the changes are read.
	if st.Sampled != 12 || st.Read != 2 {
		t.Errorf("sampled %d, read %d; want 12 and 2", st.Sampled, st.Read)
	}
}

func TestLowContrastImage(t *testing.T) {
	a := newAnalyzer(t, Config{})
	p := filepath.Join(t.TempDir(), "low.png")
	ffmpeg(t, "-f", "lavfi", "-i", "color=c=0xD0D0D0:s=1280x720", "-frames:v", "1",
		"-vf", "drawtext="+fontOpt()+":text='LOW CONTRAST NOTICE':fontsize=56:fontcolor=white:x=(w-text_w)/2:y=300", p)
	rep, err := EvalImage(context.Background(), a, p, []string{"LOW CONTRAST NOTICE"})
	if err != nil {
		t.Fatal(err)
	}
	if rep.MeanCER > maxImageCER {
		t.Errorf("low contrast: CER %.3f, read %+v", rep.MeanCER, rep.OCR)
	}
	res := analyze(t, a, glasshouse.KindImage, p)
	if len(res.Insights.OCR) != 1 {
		t.Fatalf("want one line, got %+v", res.Insights.OCR)
	}
	b := res.Insights.OCR[0].Box
	// drawtext puts the text at y=300 of 720, centred.
	if b.Y < 0.35 || b.Y > 0.5 || b.X < 0.1 || b.X+b.W > 0.9 {
		t.Errorf("box %+v", b)
	}
}

func TestSharedBriefing(t *testing.T) {
	dir := sharedTestdata(t)
	a := newAnalyzer(t, Config{})
	rep, err := EvalVideo(context.Background(), a, filepath.Join(dir, "video/briefing.mp4"), filepath.Join(dir, "video/briefing.truth.json"))
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range rep.Texts {
		t.Logf("truth %q: found %q CER %.3f range %d-%d time_ok %v", s.Truth.Text, s.Found, s.CER, s.StartMS, s.EndMS, s.TimeOK)
	}
	t.Logf("mean CER %.3f, %d/%d ranges within 0.5 s, sampled %d, read %d, tesseract runs %d", rep.MeanCER, rep.TimeOK, len(rep.Texts), rep.Sampled, rep.Read, rep.Passes)
	if rep.MeanCER > maxCaptionCER || rep.TimeOK != len(rep.Texts) {
		t.Errorf("briefing: mean CER %.3f, %d/%d ranges ok", rep.MeanCER, rep.TimeOK, len(rep.Texts))
	}
}

func TestSharedImages(t *testing.T) {
	dir := sharedTestdata(t)
	a := newAnalyzer(t, Config{})
	// page.png carries no truth file: these phrases were read off the image
	// by eye (a photographed, shaded textbook page).
	page := []string{
		"Region-based segmentation",
		"markers of the coins and the",
		"These markers are pixels that we can label",
		"either object or background",
		"found at the two extreme parts of the",
		"histogram of grey values",
	}
	rep, err := EvalImage(context.Background(), a, filepath.Join(dir, "images/page.png"), page)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range rep.Texts {
		t.Logf("page: %q -> %q CER %.3f", s.Truth.Text, s.Found, s.CER)
		if s.CER > 0.25 {
			t.Errorf("page: phrase %q not found (best %q, CER %.3f)", s.Truth.Text, s.Found, s.CER)
		}
	}
	t.Logf("page: mean CER %.3f", rep.MeanCER)
	if rep.MeanCER > maxImageCER {
		t.Errorf("page: mean CER %.3f", rep.MeanCER)
	}
	// text.png is handwritten maths on a blackboard photographed at a slant
	// (fragments like "(s) =", "-1", "t"): tesseract does not read
	// handwriting, so only check that little junk comes out.
	rep, err = EvalImage(context.Background(), a, filepath.Join(dir, "images/text.png"), nil)
	if err != nil {
		t.Fatal(err)
	}
	var all []string
	for _, o := range rep.OCR {
		all = append(all, o.Text)
	}
	t.Logf("text.png read: %q", all)
	if n := len(strings.Join(all, "")); n > 20 {
		t.Errorf("text.png: %d junk characters read: %q", n, all)
	}
}

func TestSharedTreeNoText(t *testing.T) {
	dir := sharedTestdata(t)
	a := newAnalyzer(t, Config{})
	texts, st, err := a.analyzeVideo(context.Background(), t.TempDir(), filepath.Join(dir, "video/tree.avi"), 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	var read []string
	for _, tx := range texts {
		read = append(read, fmt.Sprintf("%q@%d-%d(%.2f)", tx.Text, tx.StartMS, tx.EndMS, tx.Confidence))
	}
	t.Logf("tree.avi: sampled %d, read %d, tesseract runs %d, entries %v", st.Sampled, st.Read, st.Passes, read)
	// A clip of a tree with no writing in it: junk must stay rare.
	if len(texts) > 2 {
		t.Errorf("tree.avi: %d entries read from a clip without text", len(texts))
	}
}
