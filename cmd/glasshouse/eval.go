package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/glasshouse/glasshouse"
	"github.com/glasshouse/glasshouse/analyze/faces"
	"github.com/glasshouse/glasshouse/analyze/labels"
	"github.com/glasshouse/glasshouse/analyze/ocr"
	"github.com/glasshouse/glasshouse/analyze/shots"
	"github.com/glasshouse/glasshouse/analyze/speech"
	"github.com/glasshouse/glasshouse/analyze/vision"
	"github.com/glasshouse/glasshouse/blobstore"
	"github.com/glasshouse/glasshouse/media"
)

// evalTruth is the shape of video/*.truth.json.
type evalTruth struct {
	DurationS float64 `json:"duration_s"`
	Shots     []struct {
		StartS float64 `json:"start_s"`
		EndS   float64 `json:"end_s"`
	} `json:"shots"`
	Speech []struct {
		StartS float64 `json:"start_s"`
		EndS   float64 `json:"end_s"`
		Text   string  `json:"text"`
	} `json:"speech"`
	Faces []struct {
		StartS float64 `json:"start_s"`
		EndS   float64 `json:"end_s"`
		Count  int     `json:"count"`
	} `json:"faces"`
}

// evalLine is one measured figure.
type evalLine struct {
	Check  string  `json:"check"`
	Metric string  `json:"metric"`
	Value  float64 `json:"value"`
	Detail string  `json:"detail,omitempty"`
}

func cmdEval(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "eval", "[flags] TESTDATA-DIR   (laid out like ../shared/testdata: speech/, video/, images/)")
	models := fs.String("models", envOr("GLASSHOUSE_MODELS", defaultModels()), "folder of provisioned models")
	asJSON := fs.Bool("json", false, "print the figures as JSON")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return exitError{code: 2, msg: "give the test data folder"}
	}
	dir := fs.Arg(0)
	var lines []evalLine
	add := func(check, metric string, v float64, detail string) {
		lines = append(lines, evalLine{check, metric, v, detail})
		if !*asJSON {
			fmt.Fprintf(e.stdout, "%-34s %-18s %8.3f  %s\n", check, metric, v, detail)
		}
	}
	store, err := blobstore.Open(ctx, "mem://", e.log)
	if err != nil {
		return err
	}
	defer store.Close()
	lim := media.Limits{Timeout: 10 * time.Minute, MaxBytes: 4 << 30}
	input := func(path string) (glasshouse.Input, func(), error) {
		f, err := os.Open(path)
		if err != nil {
			return glasshouse.Input{}, nil, err
		}
		head := make([]byte, 8192)
		n, _ := io.ReadFull(f, head)
		f.Close()
		mt, kind, err := media.Sniff(head[:n])
		if err != nil {
			return glasshouse.Input{}, nil, err
		}
		pi, err := media.Probe(ctx, lim, path)
		if err != nil {
			return glasshouse.Input{}, nil, err
		}
		work, err := os.MkdirTemp("", "glasshouse-eval-*")
		if err != nil {
			return glasshouse.Input{}, nil, err
		}
		as := &glasshouse.Asset{ID: "eval", Tenant: glasshouse.DefaultTenant, Name: filepath.Base(path), MediaType: mt, Kind: kind, Probe: pi}
		return glasshouse.Input{Asset: as, Path: path, WorkDir: work, Blobs: store}, func() { os.RemoveAll(work) }, nil
	}
	run := func(an glasshouse.Analyzer, path string) (*glasshouse.Result, time.Duration, error) {
		in, done, err := input(path)
		if err != nil {
			return nil, 0, err
		}
		defer done()
		start := time.Now()
		r, err := an.Analyze(ctx, in)
		return r, time.Since(start), err
	}

	// Speech: WER on the recordings with transcripts.
	sp, err := speech.New(speech.Config{})
	if err != nil {
		add("speech", "error", 1, err.Error())
	} else if rep, err := speech.EvalDir(ctx, sp, filepath.Join(dir, "speech")); err != nil {
		add("speech speech/", "error", 1, err.Error())
	} else {
		add("speech speech/*.wav", "WER", rep.WER, fmt.Sprintf("%d errors / %d words, %.1fx real time", rep.Errors, rep.RefWords, rep.Speed))
	}

	video := filepath.Join(dir, "video", "briefing.mp4")
	var truth evalTruth
	if b, err := os.ReadFile(filepath.Join(dir, "video", "briefing.truth.json")); err == nil {
		if err := json.Unmarshal(b, &truth); err != nil {
			return fmt.Errorf("briefing.truth.json: %w", err)
		}
	}
	if sp != nil && len(truth.Speech) > 0 {
		if r, d, err := run(sp, video); err != nil {
			add("speech briefing.mp4", "error", 1, err.Error())
		} else {
			var ref, hyp []string
			for _, s := range truth.Speech {
				ref = append(ref, s.Text)
			}
			for _, s := range r.Insights.Transcript {
				hyp = append(hyp, s.Text)
			}
			add("speech briefing.mp4", "WER", speech.WER(strings.Join(ref, " "), strings.Join(hyp, " ")), fmt.Sprintf("%q in %s", strings.Join(hyp, " "), d.Round(time.Millisecond)))
		}
	}

	// Shots: boundaries within 0.5 s.
	if len(truth.Shots) > 0 {
		r, d, err := run(shots.New(lim, shots.Options{}), video)
		if err != nil {
			add("shots briefing.mp4", "error", 1, err.Error())
		} else {
			var got, want []int64
			for _, s := range r.Insights.Shots[1:] {
				got = append(got, s.StartMS)
			}
			for _, s := range truth.Shots[1:] {
				want = append(want, int64(s.StartS*1000))
			}
			p, rc, _ := shots.BoundaryScore(got, want, 500)
			add("shots briefing.mp4 (±0.5 s)", "precision", p, fmt.Sprintf("cuts at %v ms, truth %v ms, %s", got, want, d.Round(time.Millisecond)))
			add("shots briefing.mp4 (±0.5 s)", "recall", rc, "")
		}
	}

	// OCR: character error rate.
	if o, err := ocr.New(ocr.Config{}); err != nil {
		add("ocr", "error", 1, err.Error())
	} else if rep, err := ocr.EvalVideo(ctx, o, video, filepath.Join(dir, "video", "briefing.truth.json")); err != nil {
		add("ocr briefing.mp4", "error", 1, err.Error())
	} else {
		add("ocr briefing.mp4", "mean CER", rep.MeanCER, fmt.Sprintf("%d/%d time ranges within 0.5 s", rep.TimeOK, len(rep.Texts)))
	}

	// Faces and labels need the ONNX models.
	abs, _ := filepath.Abs(*models)
	rt, err := vision.Open(abs)
	if err != nil {
		add("faces/labels", "error", 1, "models not provisioned (make models): "+err.Error())
	} else {
		defer rt.Close()
		fa, err := faces.New(rt, faces.Config{})
		if err == nil {
			defer fa.Close()
			exact := 0
			want := map[string]int{"camera.png": 1, "chelsea.png": 0, "coffee.png": 0}
			var details []string
			for name, n := range want {
				r, _, err := run(fa, filepath.Join(dir, "images", name))
				if err != nil {
					details = append(details, name+": "+err.Error())
					continue
				}
				if len(r.Insights.Faces) == n {
					exact++
				}
				details = append(details, fmt.Sprintf("%s %d/%d", name, len(r.Insights.Faces), n))
			}
			add("faces images (count exact)", "accuracy", float64(exact)/float64(len(want)), strings.Join(details, ", "))
			if len(truth.Faces) > 0 {
				r, d, err := run(fa, video)
				if err != nil {
					add("faces briefing.mp4", "error", 1, err.Error())
				} else {
					var ct []faces.CountTruth
					for _, f := range truth.Faces {
						ct = append(ct, faces.CountTruth{StartMS: int64(f.StartS * 1000), EndMS: int64(f.EndS * 1000), Count: f.Count})
					}
					cs := faces.CountScore(r.Insights.Faces, ct, 500)
					add("faces briefing.mp4 (every 0.5 s)", "count accuracy", cs.Accuracy, fmt.Sprintf("%d/%d samples exact, mean abs err %.2f, %s", cs.Exact, cs.Samples, cs.MeanAbsErr, d.Round(time.Millisecond)))
				}
			}
		}
		la, err := labels.New(rt, labels.Config{})
		if err == nil {
			defer la.Close()
			want := map[string]string{"camera.png": "person", "chelsea.png": "cat", "coffee.png": "cup"}
			hit := 0
			var details []string
			for name, l := range want {
				r, _, err := run(la, filepath.Join(dir, "images", name))
				if err != nil {
					details = append(details, name+": "+err.Error())
					continue
				}
				top, best := "", 0.0
				for _, lb := range r.Insights.Labels {
					if lb.Confidence > best {
						top, best = lb.Name, lb.Confidence
					}
				}
				if top == l {
					hit++
				}
				details = append(details, fmt.Sprintf("%s→%s(%.2f)", name, top, best))
			}
			add("labels images (top label right)", "accuracy", float64(hit)/float64(len(want)), strings.Join(details, ", "))
		}
	}
	if *asJSON {
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(lines)
	}
	return nil
}
