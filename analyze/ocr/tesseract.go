package ocr

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"os"
	"sort"
	"strconv"
	"strings"
	"unicode"

	"github.com/glasshouse/glasshouse"
	"github.com/glasshouse/glasshouse/media"
)

// word is one word of tesseract's TSV output, in pixels.
type word struct {
	key        [3]int // block, paragraph, line
	x, y, w, h int
	conf       float64 // 0..100
	text       string
}

// minLineChars is the fewest letters and digits a line may have.
const minLineChars = 3

// line is a recognised line of text with a normalised box.
type line struct {
	Text string
	Box  glasshouse.Box
	Conf float64 // 0..1
}

// tesseract runs one tesseract process on g and returns its words. The
// frame goes through a PGM file in dir: tesseract reads stdin slowly (about
// 90 ms more per 720p frame, see BenchmarkFeed).
func (a *Analyzer) tesseract(ctx context.Context, dir string, g *image.Gray) ([]word, error) {
	f, err := os.CreateTemp(dir, "frame-*.pgm")
	if err != nil {
		return nil, fmt.Errorf("write frame: %w", err)
	}
	defer os.Remove(f.Name())
	_, err = f.Write(encodePGM(g))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, fmt.Errorf("write frame: %w", err)
	}
	args := []string{f.Name(), "stdout", "--psm", strconv.Itoa(a.cfg.PSM), "-l", a.cfg.Lang, "-c", "thresholding_method=" + strconv.Itoa(a.cfg.Thresholding)}
	if a.cfg.TessData != "" {
		args = append(args, "--tessdata-dir", a.cfg.TessData)
	}
	args = append(args, "tsv")
	cmd, cancel := media.Command(ctx, a.cfg.Limits, a.cfg.Tesseract, args...)
	defer cancel()
	cmd.Env = append(os.Environ(), "OMP_THREAD_LIMIT=1")
	var stdout, stderr bytes.Buffer
	cmd.Stdout = &stdout
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("run tesseract: %w", ctx.Err())
		}
		msg := stderr.String()
		if len(msg) > 2000 {
			msg = msg[len(msg)-2000:]
		}
		return nil, fmt.Errorf("run tesseract: %w: %s", err, strings.TrimSpace(msg))
	}
	return parseTSV(stdout.Bytes())
}

// parseTSV reads the word rows (level 5) of tesseract's TSV output.
func parseTSV(b []byte) ([]word, error) {
	var out []word
	for i, ln := range strings.Split(string(b), "\n") {
		if i == 0 || ln == "" {
			continue
		}
		f := strings.Split(strings.TrimRight(ln, "\r"), "\t")
		if len(f) < 12 {
			return nil, fmt.Errorf("parse tesseract tsv line %d: %d fields", i+1, len(f))
		}
		if f[0] != "5" {
			continue
		}
		var n [9]int
		for j := 0; j < 9; j++ {
			v, err := strconv.Atoi(f[j+1])
			if err != nil {
				return nil, fmt.Errorf("parse tesseract tsv line %d: %w", i+1, err)
			}
			n[j] = v
		}
		conf, err := strconv.ParseFloat(f[10], 64)
		if err != nil {
			return nil, fmt.Errorf("parse tesseract tsv line %d: %w", i+1, err)
		}
		out = append(out, word{key: [3]int{n[1], n[2], n[3]}, x: n[5], y: n[6], w: n[7], h: n[8], conf: conf, text: f[11]})
	}
	return out, nil
}

// cleanWord trims stray marks tesseract reads off edges and background
// texture; it returns "" for a word with no letter or digit.
func cleanWord(s string) string {
	s = strings.TrimSpace(s)
	s = strings.TrimLeftFunc(s, func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r) && !strings.ContainsRune(`($#@"'£€`, r)
	})
	s = strings.TrimRightFunc(s, func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r) && !strings.ContainsRune(`.,:;!?%)"'`, r)
	})
	if alnum(s) == 0 {
		return ""
	}
	return s
}

func alnum(s string) int {
	n := 0
	for _, r := range s {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			n++
		}
	}
	return n
}

// groupLines keeps confident words and groups them into lines: first by
// tesseract's own block/paragraph/line numbers, then joining lines that sit
// side by side on the same row (sparse mode splits captions into blocks).
//
// A line is kept only with at least minLineChars letters and digits and a
// mean confidence of at least minLineConf (0..1): foliage and other texture
// make tesseract read short fragments ("ay", "Le", "tet 4") at word
// confidences up to 0.95, but rarely whole confident words.
func groupLines(words []word, minConf, minLineConf float64, imgW, imgH int) []line {
	type acc struct {
		ws                     []word
		x0, y0, x1, y1, hWords int
	}
	byKey := map[[3]int]*acc{}
	var order [][3]int
	for _, w := range words {
		if w.conf < minConf {
			continue
		}
		t := cleanWord(w.text)
		if t == "" {
			continue
		}
		w.text = t
		g := byKey[w.key]
		if g == nil {
			g = &acc{x0: w.x, y0: w.y, x1: w.x + w.w, y1: w.y + w.h}
			byKey[w.key] = g
			order = append(order, w.key)
		}
		g.ws = append(g.ws, w)
		g.x0, g.y0 = min(g.x0, w.x), min(g.y0, w.y)
		g.x1, g.y1 = max(g.x1, w.x+w.w), max(g.y1, w.y+w.h)
	}
	groups := make([]*acc, 0, len(order))
	for _, k := range order {
		groups = append(groups, byKey[k])
	}
	// Typical height of a group: the median word height (boxes of words
	// that swallowed background are taller than the letters).
	height := func(g *acc) int {
		hs := make([]int, len(g.ws))
		for i, w := range g.ws {
			hs[i] = w.h
		}
		sort.Ints(hs)
		return hs[len(hs)/2]
	}
	for merged := true; merged; {
		merged = false
		for i := 0; i < len(groups) && !merged; i++ {
			for j := i + 1; j < len(groups); j++ {
				a, b := groups[i], groups[j]
				ha, hb := height(a), height(b)
				hmin, hmax := min(ha, hb), max(ha, hb)
				// Centre lines of the median boxes must be close.
				ca, cb := medianCentre(a.ws), medianCentre(b.ws)
				if abs(ca-cb) > hmin/2 || hmax > 2*hmin {
					continue
				}
				gap := max(a.x0, b.x0) - min(a.x1, b.x1)
				if gap > 2*hmax {
					continue
				}
				a.ws = append(a.ws, b.ws...)
				a.x0, a.y0 = min(a.x0, b.x0), min(a.y0, b.y0)
				a.x1, a.y1 = max(a.x1, b.x1), max(a.y1, b.y1)
				groups = append(groups[:j], groups[j+1:]...)
				merged = true
				break
			}
		}
	}
	var out []line
	for _, g := range groups {
		sort.SliceStable(g.ws, func(i, j int) bool { return g.ws[i].x < g.ws[j].x })
		parts := make([]string, len(g.ws))
		var conf, wt float64
		for i, w := range g.ws {
			parts[i] = w.text
			n := float64(alnum(w.text))
			conf += w.conf * n
			wt += n
		}
		text := strings.Join(parts, " ")
		lc := conf / wt / 100
		if alnum(text) < minLineChars || lc < minLineConf {
			continue
		}
		out = append(out, line{
			Text: text,
			Box:  normBox(g.x0, g.y0, g.x1, g.y1, imgW, imgH),
			Conf: lc,
		})
	}
	sort.SliceStable(out, func(i, j int) bool {
		if d := out[i].Box.Y - out[j].Box.Y; d < -0.01 || d > 0.01 {
			return d < 0
		}
		return out[i].Box.X < out[j].Box.X
	})
	return out
}

func medianCentre(ws []word) int {
	cs := make([]int, len(ws))
	for i, w := range ws {
		cs[i] = w.y + w.h/2
	}
	sort.Ints(cs)
	return cs[len(cs)/2]
}

func abs(v int) int {
	if v < 0 {
		return -v
	}
	return v
}

func normBox(x0, y0, x1, y1, w, h int) glasshouse.Box {
	c := func(v float64) float64 { return min(1, max(0, v)) }
	bx := glasshouse.Box{X: c(float64(x0) / float64(w)), Y: c(float64(y0) / float64(h))}
	bx.W = c(float64(x1)/float64(w)) - bx.X
	bx.H = c(float64(y1)/float64(h)) - bx.Y
	return bx
}

// goodChars counts letters and digits over lines.
func goodChars(ls []line) int {
	n := 0
	for _, l := range ls {
		n += alnum(l.Text)
	}
	return n
}

// readFrame runs the first pass (grey, contrast-stretched) and, when it
// finds little, the bright-text pass, and merges the two.
// It returns the lines and the number of tesseract passes run.
func (a *Analyzer) readFrame(ctx context.Context, dir string, g *image.Gray) ([]line, int, error) {
	g = upscale(g, a.cfg.MinWidth)
	w, h := g.Rect.Dx(), g.Rect.Dy()
	ws, err := a.tesseract(ctx, dir, stretch(g))
	if err != nil {
		return nil, 1, err
	}
	first := groupLines(ws, a.cfg.MinWordConf, a.cfg.MinLineConf, w, h)
	bright, frac := brightText(g)
	if !a.wantSecondPass(goodChars(first), frac) {
		return first, 1, nil
	}
	ws, err = a.tesseract(ctx, dir, bright)
	if err != nil {
		return nil, 2, err
	}
	second := groupLines(ws, a.cfg.MinWordConf, a.cfg.MinLineConf, w, h)
	return mergePasses(first, second), 2, nil
}

// wantSecondPass decides whether to run the bright-text pass: when the
// first pass found fewer than SecondPassMinChars letters, or when bright
// pixels are sparse enough to be text (white captions, which the first
// pass often reads only in part).
func (a *Analyzer) wantSecondPass(chars int, brightFrac float64) bool {
	if a.cfg.SecondPassMinChars < 0 {
		return false
	}
	if chars < a.cfg.SecondPassMinChars {
		return true
	}
	return brightFrac > 0 && brightFrac <= a.cfg.BrightMaxFrac
}

// mergePasses unions two readings of one frame; where lines overlap, the
// one with more confident characters wins.
func mergePasses(a, b []line) []line {
	out := append([]line(nil), a...)
	for _, l := range b {
		replaced := false
		overlapped := false
		for i, o := range out {
			if overlapFrac(l.Box, o.Box) < 0.5 {
				continue
			}
			overlapped = true
			if score(l) > score(o) {
				if !replaced {
					l.Text = repairSplits(l.Text, o.Text)
					out[i] = l
					replaced = true
				} else {
					out[i].Text = "" // covered by l already
				}
			} else {
				out[i].Text = repairSplits(o.Text, l.Text)
			}
		}
		if !overlapped {
			out = append(out, l)
		}
	}
	res := out[:0]
	for _, l := range out {
		if l.Text != "" {
			res = append(res, l)
		}
	}
	return res
}

func score(l line) float64 { return l.Conf * float64(alnum(l.Text)) }

// overlapFrac is the intersection area over the smaller box's area.
func overlapFrac(a, b glasshouse.Box) float64 {
	ix := min(a.X+a.W, b.X+b.W) - max(a.X, b.X)
	iy := min(a.Y+a.H, b.Y+b.H) - max(a.Y, b.Y)
	if ix <= 0 || iy <= 0 {
		return 0
	}
	sm := min(a.W*a.H, b.W*b.H)
	if sm <= 0 {
		return 0
	}
	return ix * iy / sm
}

// repairSplits joins words that one reading split apart ("RO UTE") when
// the other reading of the same place has the joined word ("ROUTE") and
// has neither part on its own.
func repairSplits(text, other string) string {
	words := strings.Fields(text)
	if len(words) < 2 {
		return text
	}
	have := map[string]bool{}
	for _, w := range strings.Fields(other) {
		have[strings.ToLower(w)] = true
	}
	var out []string
	for i := 0; i < len(words); i++ {
		if i+1 < len(words) {
			a, b := strings.ToLower(words[i]), strings.ToLower(words[i+1])
			if j := a + b; len(j) >= 4 && have[j] && !have[a] && !have[b] {
				out = append(out, words[i]+words[i+1])
				i++
				continue
			}
		}
		out = append(out, words[i])
	}
	return strings.Join(out, " ")
}
