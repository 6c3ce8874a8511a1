package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"

	"github.com/glasshouse/glasshouse"
	"github.com/glasshouse/glasshouse/app"
	"github.com/glasshouse/glasshouse/redact"
)

// listFlag collects a repeatable string flag.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, " ") }
func (l *listFlag) Set(s string) error { *l = append(*l, s); return nil }

func cmdRedact(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "redact", "[flags] ASSET-ID")
	var b backendFlags
	b.register(fs)
	fill := fs.String("fill", "", "solid (default), blur or pixelate (blur and pixelate can sometimes be partly reversed)")
	color := fs.String("color", "", "colour of a solid fill, #rrggbb (default black)")
	padding := fs.Float64("padding", 0, "grow face boxes by this fraction of their size on each side (default 0.25)")
	every := fs.Int("detect-every", 0, "run the face detector on every Nth frame and follow faces in between (default 3; 1 = every frame)")
	noFaces := fs.Bool("no-faces", false, "do not detect and cover faces (only the plan's boxes)")
	var boxes, words, ranges listFlag
	fs.Var(&boxes, "box", "cover a box: x,y,w,h as fractions of the picture, optionally @START-END in seconds (repeatable)")
	fs.Var(&words, "word", "silence every occurrence of this transcript word (repeatable)")
	fs.Var(&ranges, "range", "silence the audio from START-END seconds (repeatable)")
	bleep := fs.Bool("bleep", false, "bleep the words and ranges instead of silencing them")
	noAudio := fs.Bool("no-audio", false, "drop the audio altogether")
	save := fs.Bool("save", false, "also save the changed plan as the asset's plan")
	asJSON := fs.Bool("json", false, "print the finished render (with its manifest) as JSON")
	noProgress := fs.Bool("no-progress", false, "do not draw the progress bar")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return exitError{code: 2, msg: "give one asset id"}
	}
	set := buildAnalyzers(e.log, b)
	defer set.close()
	cfg := b.config()
	cfg.Logger = e.log
	cfg.Redactor = set.redactor
	if cfg.Redactor == nil {
		// Without the face model only boxes can be covered.
		if !*noFaces {
			return exitError{code: 1, msg: "the face model is not provisioned (run `make models`), so faces cannot be detected; pass --no-faces to cover only the boxes you give"}
		}
		cfg.Redactor = redact.NewRenderer(redact.Config{Software: []string{"glasshouse " + app.Version}})
	}
	a, err := app.Open(ctx, cfg)
	if err != nil {
		return err
	}
	defer a.Close()
	actor := glasshouse.Actor{Tenant: glasshouse.DefaultTenant, User: cliUser()}
	id := glasshouse.AssetID(fs.Arg(0))
	plan, err := a.RedactionPlan(ctx, actor, id)
	if err != nil {
		return err
	}
	if *fill != "" {
		plan.Settings.Fill = *fill
	}
	if *color != "" {
		plan.Settings.Color = *color
	}
	if *padding > 0 {
		plan.Settings.Padding = *padding
	}
	if *every > 0 {
		plan.Settings.DetectEvery = *every
	}
	if *noFaces {
		plan.Faces = false
	}
	plan.RemoveAudio = plan.RemoveAudio || *noAudio
	for _, s := range boxes {
		rg, err := parseBox(s)
		if err != nil {
			return exitError{code: 2, msg: err.Error()}
		}
		plan.Regions = append(plan.Regions, rg)
	}
	mode := redact.AudioSilence
	if *bleep {
		mode = redact.AudioBleep
	}
	if len(words) > 0 {
		ins, err := a.Insights(ctx, actor, id)
		if err != nil {
			return err
		}
		cuts := redact.WordCuts(ins, words, mode, 50)
		if len(cuts) == 0 {
			return exitError{code: 1, msg: fmt.Sprintf("none of the words %q is in the transcript", []string(words))}
		}
		plan.Audio = append(plan.Audio, cuts...)
	}
	for _, s := range ranges {
		from, to, err := parseSpan(s)
		if err != nil {
			return exitError{code: 2, msg: "--range " + err.Error()}
		}
		plan.Audio = append(plan.Audio, redact.AudioCut{StartMS: from, EndMS: to, Mode: mode})
	}
	as, err := a.GetAsset(ctx, actor, id)
	if err != nil {
		return err
	}
	for i := range plan.Regions {
		if as.Kind == glasshouse.KindVideo && plan.Regions[i].EndMS == 0 && as.Probe != nil {
			plan.Regions[i].EndMS = as.Probe.DurationMS + 1000 // whole video
		}
	}
	if *save {
		if plan, err = a.SaveRedactionPlan(ctx, actor, id, plan); err != nil {
			return err
		}
	}
	progOut := io.Writer(e.stderr)
	if *noProgress || !isTerminal(e.stderr) {
		progOut = io.Discard
	}
	p := mpb.NewWithContext(ctx, mpb.WithOutput(progOut), mpb.WithWidth(40), mpb.WithRefreshRate(200*time.Millisecond))
	bar := p.AddBar(1000,
		mpb.PrependDecorators(decor.Name("redact "+as.Name, decor.WCSyncSpaceR), decor.Percentage(decor.WCSyncSpace)),
		mpb.AppendDecorators(decor.OnComplete(decor.AverageETA(decor.ET_STYLE_GO, decor.WCSyncSpace), " done")),
	)
	r, err := a.RedactNow(ctx, actor, id, plan, func(f float64) { bar.SetCurrent(int64(f * 1000)) })
	if err == nil {
		bar.SetCurrent(1000)
	}
	bar.Abort(false)
	p.Wait()
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(r)
	}
	var m redact.Manifest
	_ = json.Unmarshal(r.Manifest, &m)
	fmt.Fprintf(e.stdout, "redacted copy: %s  %s\n", r.Output, m.Output.Name)
	fmt.Fprintf(e.stdout, "  of %s (%s), render %s\n", as.Name, r.SourceHash, r.ID)
	fmt.Fprintf(e.stdout, "  faces followed: %d, regions: %d, audio cuts: %d, frames: %d (detector on %d)\n", len(m.Faces), len(m.Regions), len(m.Audio), m.Frames, m.Detected)
	fmt.Fprintf(e.stdout, "  to review: %d low-confidence frames, %d frames where a followed face was not detected\n", len(m.Coverage.LowConfidence), len(m.Coverage.Missed))
	return nil
}

// parseBox reads "x,y,w,h" or "x,y,w,h@start-end" (seconds).
func parseBox(s string) (redact.Region, error) {
	rg := redact.Region{Kind: redact.KindManual, Label: "--box " + s}
	spec, when, timed := strings.Cut(s, "@")
	parts := strings.Split(spec, ",")
	if len(parts) != 4 {
		return rg, fmt.Errorf("--box %q: want x,y,w,h (fractions 0..1), optionally @START-END seconds", s)
	}
	var v [4]float64
	for i, p := range parts {
		f, err := strconv.ParseFloat(strings.TrimSpace(p), 64)
		if err != nil {
			return rg, fmt.Errorf("--box %q: %q is not a number", s, p)
		}
		v[i] = f
	}
	rg.Box = glasshouse.Box{X: v[0], Y: v[1], W: v[2], H: v[3]}
	if timed {
		from, to, err := parseSpan(when)
		if err != nil {
			return rg, fmt.Errorf("--box %q: %v", s, err)
		}
		rg.StartMS, rg.EndMS = from, to
	}
	return rg, nil
}

// parseSpan reads "START-END" in seconds.
func parseSpan(s string) (int64, int64, error) {
	a, b, ok := strings.Cut(s, "-")
	from, err1 := strconv.ParseFloat(strings.TrimSpace(a), 64)
	to, err2 := strconv.ParseFloat(strings.TrimSpace(b), 64)
	if !ok || err1 != nil || err2 != nil || to <= from || from < 0 {
		return 0, 0, fmt.Errorf("%q: want START-END in seconds, START < END", s)
	}
	return int64(from * 1000), int64(to * 1000), nil
}
