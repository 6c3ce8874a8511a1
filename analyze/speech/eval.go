package speech

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
	"unicode"

	"github.com/glasshouse/glasshouse"
)

// normWords lowercases s, turns every character that is not a letter, a
// digit or an apostrophe inside a word into a space, and splits it.
func normWords(s string) []string {
	s = strings.ToLower(s)
	b := []rune(s)
	for i, r := range b {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			continue
		}
		if r == '\'' && i > 0 && i+1 < len(b) && unicode.IsLetter(b[i-1]) && unicode.IsLetter(b[i+1]) {
			continue
		}
		b[i] = ' '
	}
	return strings.Fields(string(b))
}

// WordErrors returns the word-level edit distance (substitutions +
// deletions + insertions) between ref and hyp and the number of reference
// words, after normalisation (lowercase, punctuation stripped).
func WordErrors(ref, hyp string) (errs, refWords int) {
	r, h := normWords(ref), normWords(hyp)
	prev := make([]int, len(h)+1)
	cur := make([]int, len(h)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(r); i++ {
		cur[0] = i
		for j := 1; j <= len(h); j++ {
			sub := prev[j-1]
			if r[i-1] != h[j-1] {
				sub++
			}
			cur[j] = min(sub, prev[j]+1, cur[j-1]+1)
		}
		prev, cur = cur, prev
	}
	return prev[len(h)], len(r)
}

// WER is the word error rate of hyp against ref: word-level Levenshtein
// distance divided by the number of reference words, after lowercasing and
// stripping punctuation. With an empty reference it is 0 for an empty
// hypothesis and 1 otherwise.
func WER(ref, hyp string) float64 {
	e, n := WordErrors(ref, hyp)
	if n == 0 {
		if e == 0 {
			return 0
		}
		return 1
	}
	return float64(e) / float64(n)
}

// EvalFile is the evaluation of one recording.
type EvalFile struct {
	Name     string  `json:"name"`
	Ref      string  `json:"ref"`
	Hyp      string  `json:"hyp"`
	Errors   int     `json:"errors"`
	RefWords int     `json:"ref_words"`
	WER      float64 `json:"wer"`
	AudioSec float64 `json:"audio_sec"`
	WallSec  float64 `json:"wall_sec"`
}

// EvalReport is the evaluation of a directory of recordings.
type EvalReport struct {
	Files    []EvalFile `json:"files"`
	Errors   int        `json:"errors"`
	RefWords int        `json:"ref_words"`
	WER      float64    `json:"wer"`       // total errors / total reference words
	AudioSec float64    `json:"audio_sec"` // total audio
	WallSec  float64    `json:"wall_sec"`  // total time spent in Analyze
	RTF      float64    `json:"rtf"`       // real-time factor: WallSec / AudioSec (< 1 is faster than real time)
	Speed    float64    `json:"speed"`     // AudioSec / WallSec, "x real time"
}

// LoadTruth reads the ground truth of a speech test directory: every
// "*.transcription" file (and a file named "transcription") holds lines
// "<s> words </s> (id)" for id.wav in the same directory; every X.txt with
// a matching X.wav holds the transcript of X.wav. It returns wav path →
// reference text.
func LoadTruth(dir string) (map[string]string, error) {
	truth := map[string]string{}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("speech.LoadTruth: %w", err)
	}
	for _, e := range ents {
		name := e.Name()
		p := filepath.Join(dir, name)
		switch {
		case strings.HasSuffix(name, ".transcription") || name == "transcription":
			f, err := os.Open(p)
			if err != nil {
				return nil, fmt.Errorf("speech.LoadTruth: %w", err)
			}
			sc := bufio.NewScanner(f)
			for sc.Scan() {
				line := strings.TrimSpace(sc.Text())
				open := strings.LastIndexByte(line, '(')
				if open < 0 || !strings.HasSuffix(line, ")") {
					continue
				}
				id := line[open+1 : len(line)-1]
				text := strings.TrimSpace(line[:open])
				text = strings.TrimSpace(strings.TrimPrefix(text, "<s>"))
				text = strings.TrimSpace(strings.TrimSuffix(text, "</s>"))
				wav := filepath.Join(dir, id+".wav")
				if _, err := os.Stat(wav); err == nil {
					truth[wav] = text
				}
			}
			err = sc.Err()
			f.Close()
			if err != nil {
				return nil, fmt.Errorf("speech.LoadTruth: read %s: %w", p, err)
			}
		case strings.HasSuffix(name, ".txt"):
			wav := strings.TrimSuffix(p, ".txt") + ".wav"
			if _, err := os.Stat(wav); err != nil {
				continue
			}
			b, err := os.ReadFile(p)
			if err != nil {
				return nil, fmt.Errorf("speech.LoadTruth: %w", err)
			}
			truth[wav] = strings.TrimSpace(string(b))
		}
	}
	if len(truth) == 0 {
		return nil, glasshouse.Errorf("speech.LoadTruth", glasshouse.ErrNotExist, "no transcribed recordings in %s", dir)
	}
	return truth, nil
}

// EvalDir runs a on every recording of a speech test directory (see
// LoadTruth) and scores the transcripts against the ground truth.
func EvalDir(ctx context.Context, a *Analyzer, dir string) (EvalReport, error) {
	truth, err := LoadTruth(dir)
	if err != nil {
		return EvalReport{}, err
	}
	paths := make([]string, 0, len(truth))
	for p := range truth {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	var rep EvalReport
	for _, p := range paths {
		work, err := os.MkdirTemp("", "glasshouse-speech-eval-")
		if err != nil {
			return rep, fmt.Errorf("speech.EvalDir: %w", err)
		}
		in := glasshouse.Input{
			Asset:   &glasshouse.Asset{Name: filepath.Base(p), Kind: glasshouse.KindAudio, Probe: nil},
			Path:    p,
			WorkDir: work,
		}
		t0 := time.Now()
		res, err := a.Analyze(ctx, in)
		wall := time.Since(t0).Seconds()
		os.RemoveAll(work)
		if err != nil {
			return rep, fmt.Errorf("speech.EvalDir: %s: %w", filepath.Base(p), err)
		}
		audio, err := wavSeconds(p)
		if err != nil {
			return rep, fmt.Errorf("speech.EvalDir: %s: %w", filepath.Base(p), err)
		}
		hyp := TranscriptText(res.Insights.Transcript)
		e, n := WordErrors(truth[p], hyp)
		ef := EvalFile{Name: filepath.Base(p), Ref: truth[p], Hyp: hyp, Errors: e, RefWords: n, AudioSec: audio, WallSec: wall}
		if n > 0 {
			ef.WER = float64(e) / float64(n)
		}
		rep.Files = append(rep.Files, ef)
		rep.Errors += e
		rep.RefWords += n
		rep.AudioSec += audio
		rep.WallSec += wall
	}
	if rep.RefWords > 0 {
		rep.WER = float64(rep.Errors) / float64(rep.RefWords)
	}
	if rep.AudioSec > 0 {
		rep.RTF = rep.WallSec / rep.AudioSec
	}
	if rep.WallSec > 0 {
		rep.Speed = rep.AudioSec / rep.WallSec
	}
	return rep, nil
}

// TranscriptText joins the segments' text in order of track then time.
func TranscriptText(segs []glasshouse.TranscriptSegment) string {
	s := append([]glasshouse.TranscriptSegment(nil), segs...)
	sort.SliceStable(s, func(i, j int) bool {
		if s[i].Track != s[j].Track {
			return s[i].Track < s[j].Track
		}
		return s[i].StartMS < s[j].StartMS
	})
	parts := make([]string, 0, len(s))
	for _, seg := range s {
		if t := strings.TrimSpace(seg.Text); t != "" {
			parts = append(parts, t)
		}
	}
	return strings.Join(parts, " ")
}

// wavSeconds returns the length of a PCM WAV file from its header.
func wavSeconds(p string) (float64, error) {
	f, err := os.Open(p)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	return wavDuration(f)
}
