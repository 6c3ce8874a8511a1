package ocr

import (
	"context"
	"errors"
	"fmt"
	"image"
	"math"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/glasshouse/glasshouse"
	"github.com/glasshouse/glasshouse/media"
)

// videoStats counts the work done on a video.
type videoStats struct {
	Sampled int // frames decoded at Config.FPS
	Read    int // frames sent to tesseract (the others reused a reading)
	Passes  int // tesseract runs (one or two per frame read)
}

// frameRec is one sampled frame: its time and which reading it uses.
type frameRec struct {
	t   int64
	job int
}

// analyzeVideo samples path, reads the frames that changed, and merges the
// readings into time ranges. durMS <= 0: probe the duration.
func (a *Analyzer) analyzeVideo(ctx context.Context, dir, path string, durMS int64, progress func(float64)) ([]glasshouse.OCRText, videoStats, error) {
	var st videoStats
	if durMS <= 0 {
		d, err := probeDuration(ctx, a.cfg.FFmpegLimits, path)
		if err != nil {
			a.log.Debug("ocr: duration unknown", "err", err)
		}
		durMS = d
	}
	interval := int64(math.Round(1000 / a.cfg.FPS))

	type job struct {
		idx int
		g   *image.Gray
	}
	jobs := make(chan job)
	var mu sync.Mutex
	results := map[int][]line{}
	passes := 0

	eg, ectx := errgroup.WithContext(ctx)
	for i := 0; i < a.cfg.Workers; i++ {
		eg.Go(func() error {
			for j := range jobs {
				ls, n, err := a.readFrame(ectx, dir, j.g)
				if err != nil {
					return err
				}
				mu.Lock()
				passes += n
				results[j.idx] = ls
				mu.Unlock()
			}
			return nil
		})
	}
	var frames []frameRec
	var lastSig signature
	haveLast := false
	nJobs := 0
	decodeErr := media.Frames(ectx, a.cfg.FFmpegLimits, path, a.cfg.FPS, a.cfg.MaxWidth, func(t int64, img *image.RGBA) error {
		g := toGrey(img)
		sig := makeSignature(g)
		st.Sampled++
		if haveLast && a.cfg.DiffThreshold >= 0 && sig.maxDiff(lastSig) <= a.cfg.DiffThreshold {
			frames = append(frames, frameRec{t: t, job: nJobs - 1})
		} else {
			select {
			case jobs <- job{idx: nJobs, g: g}:
			case <-ectx.Done():
				return ectx.Err()
			}
			frames = append(frames, frameRec{t: t, job: nJobs})
			nJobs++
			lastSig, haveLast = sig, true
		}
		if progress != nil && durMS > 0 {
			progress(min(0.99, float64(t)/float64(durMS)))
		}
		return nil
	})
	close(jobs)
	werr := eg.Wait()
	st.Read = nJobs
	st.Passes = passes
	if werr != nil {
		return nil, st, fmt.Errorf("read frames: %w", werr)
	}
	if decodeErr != nil {
		if ctx.Err() != nil {
			return nil, st, ctx.Err()
		}
		return nil, st, &decodeError{decodeErr}
	}
	if len(frames) == 0 {
		return nil, st, &decodeError{errors.New("no video frames decoded")}
	}
	if durMS <= 0 {
		durMS = frames[len(frames)-1].t + interval
	}
	a.log.Debug("ocr: video read", "sampled", st.Sampled, "read", st.Read)
	seq := make([]timedLines, len(frames))
	for i, f := range frames {
		seq[i] = timedLines{t: f.t, lines: results[f.job]}
	}
	return mergeTimeline(seq, interval, durMS), st, nil
}

func probeDuration(ctx context.Context, l media.Limits, path string) (int64, error) {
	l.Timeout = min(l.Timeout, time.Minute)
	out, err := media.Run(ctx, l, "ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "default=nw=1:nk=1", path)
	if err != nil {
		return 0, fmt.Errorf("probe duration: %w", err)
	}
	s, err := strconv.ParseFloat(strings.TrimSpace(string(out)), 64)
	if err != nil {
		return 0, fmt.Errorf("probe duration: %w", err)
	}
	return int64(s * 1000), nil
}

// timedLines is the reading of one sampled frame.
type timedLines struct {
	t     int64
	lines []line
}

// maxGap is how many sampled frames a text may be missing from (a flicker
// of the engine) and still continue the same entry.
const maxGap = 1

// mergeDist is the normalised edit distance under which two readings are
// the same text.
const mergeDist = 0.2

// mergeTimeline turns per-frame readings into one OCRText per stretch of
// the same text: the time range runs from the first frame it was seen on to
// the last one plus one sample interval (capped at durMS), and the text,
// box and confidence are those of its most confident reading.
func mergeTimeline(seq []timedLines, interval, durMS int64) []glasshouse.OCRText {
	type track struct {
		best, latest string
		box          glasshouse.Box
		conf         float64
		start, last  int64
		missed       int
	}
	var active []*track
	var out []glasshouse.OCRText
	closeT := func(tr *track) {
		end := tr.last + interval
		if durMS > 0 && end > durMS {
			end = durMS
		}
		out = append(out, glasshouse.OCRText{Text: tr.best, StartMS: tr.start, EndMS: end, Box: tr.box, Confidence: tr.conf})
	}
	for _, f := range seq {
		seen := make([]bool, len(active))
		for _, l := range f.lines {
			bi, bd := -1, mergeDist
			for i, tr := range active {
				if seen[i] {
					continue
				}
				d := min(normDist(l.Text, tr.best), normDist(l.Text, tr.latest))
				if d < bd {
					bi, bd = i, d
				}
			}
			if bi < 0 {
				active = append(active, &track{best: l.Text, latest: l.Text, box: l.Box, conf: l.Conf, start: f.t, last: f.t})
				seen = append(seen, true)
				continue
			}
			tr := active[bi]
			seen[bi] = true
			tr.last, tr.missed, tr.latest = f.t, 0, l.Text
			if l.Conf > tr.conf {
				tr.best, tr.box, tr.conf = l.Text, l.Box, l.Conf
			}
		}
		keep := active[:0]
		for i, tr := range active {
			if !seen[i] {
				tr.missed++
				if tr.missed > maxGap {
					closeT(tr)
					continue
				}
			}
			keep = append(keep, tr)
		}
		active = keep
	}
	for _, tr := range active {
		closeT(tr)
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].StartMS != out[j].StartMS {
			return out[i].StartMS < out[j].StartMS
		}
		return out[i].Box.Y < out[j].Box.Y
	})
	return out
}
