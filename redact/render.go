package redact

import (
	"bufio"
	"context"
	"fmt"
	"image"
	"io"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/glasshouse/glasshouse"
	"github.com/glasshouse/glasshouse/media"
)

// Detection is one face found in a picture, box normalised to it.
type Detection struct {
	Box   glasshouse.Box
	Score float64
}

// Detector finds faces in one picture in a single pass (the renderer cuts
// tiles itself): faces.Analyzer.DetectImage with NoTiles, through
// DetectorFunc. Its score floor must be at most the lowest
// Settings.Threshold used.
type Detector interface {
	DetectFaces(ctx context.Context, img image.Image) ([]Detection, error)
}

// DetectorFunc adapts a function to Detector.
type DetectorFunc func(ctx context.Context, img image.Image) ([]Detection, error)

// DetectFaces calls f.
func (f DetectorFunc) DetectFaces(ctx context.Context, img image.Image) ([]Detection, error) {
	return f(ctx, img)
}

// Encoder settings shared by the renderer and the benchmark's baseline.
var (
	VideoCodecArgs = []string{"-c:v", "libx264", "-preset", "veryfast", "-crf", "20", "-pix_fmt", "yuv420p"}
	AudioCodecArgs = []string{"-c:a", "aac", "-b:a", "160k"}
)

// Config configures a Renderer.
type Config struct {
	// Detector finds faces; nil disables face detection (a plan with
	// Faces on then fails with ErrUnavailable).
	Detector Detector
	// Models describe the models the detector uses, for the manifest.
	Models []Model
	// DetectWidth: video frames are shrunk (by an integer factor) to at
	// most this width for the whole-frame pass (default 640); tiles are cut
	// from the full picture.
	DetectWidth int
	// TileEvery: the tiled pass (the picture cut into overlapping squares,
	// so that small faces are found) runs on every TileEvery'th detection
	// frame (default 6: with DetectEvery 3, every 18th frame); the
	// detection frames between get a whole-frame pass, which refines the
	// path of the faces followed and catches large faces early. Images
	// always get both.
	TileEvery int
	// TileSide is the side of the squares as a fraction of the picture's
	// shorter side (default 2/3 for video: 8 squares on 16:9; images use
	// 1/2, as the faces analyzer does).
	TileSide float64
	// MinTileSide: pictures whose shorter side is below it get no tiles
	// (default 256).
	MinTileSide int
	// Workers: detections run at once (default the number of CPUs).
	Workers int
	// Limits bound each ffmpeg process (default 2 hours, 4 GiB).
	Limits media.Limits
	// Software lines for the manifest (e.g. "glasshouse 0.1.0").
	Software []string
	Logger   *slog.Logger
}

// Renderer applies plans to media. It is safe for concurrent use if the
// Detector is.
type Renderer struct {
	cfg Config
}

// NewRenderer builds a renderer.
func NewRenderer(cfg Config) *Renderer {
	if cfg.DetectWidth <= 0 {
		cfg.DetectWidth = 640
	}
	if cfg.TileEvery <= 0 {
		cfg.TileEvery = 6
	}
	if cfg.TileSide <= 0 || cfg.TileSide > 1 {
		cfg.TileSide = 2.0 / 3
	}
	if cfg.MinTileSide <= 0 {
		cfg.MinTileSide = 256
	}
	if cfg.Workers <= 0 {
		cfg.Workers = runtime.NumCPU()
	}
	if cfg.Limits == (media.Limits{}) {
		cfg.Limits = media.Limits{Timeout: 2 * time.Hour, MaxBytes: 4 << 30}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Renderer{cfg: cfg}
}

// Input is one render.
type Input struct {
	Asset *glasshouse.Asset // the source (Kind, Probe, Name, Hash)
	Path  string            // local file of the source, read only
	Plan  *Plan
	// OutDir is where the output file is written; Render returns its path.
	OutDir   string
	Progress func(frac float64) // may be nil
}

// OutputName is the file name of the redacted copy of name.
func OutputName(name string, kind glasshouse.MediaKind) string {
	ext := strings.ToLower(filepath.Ext(name))
	base := strings.TrimSuffix(name, filepath.Ext(name))
	switch {
	case kind == glasshouse.KindVideo:
		ext = ".mp4"
	case ext == ".jpg" || ext == ".jpeg":
		ext = ".jpg"
	default:
		ext = ".png"
	}
	return base + " (redacted)" + ext
}

// Render writes the redacted copy of in.Asset into in.OutDir and returns
// its path and the manifest (Output left for the caller to fill once the
// copy is stored).
func (r *Renderer) Render(ctx context.Context, in Input) (string, *Manifest, error) {
	const op = "redact.Render"
	as, plan := in.Asset, in.Plan
	if as == nil || plan == nil {
		return "", nil, glasshouse.Errorf(op, glasshouse.ErrInvalid, "no asset or plan")
	}
	if err := plan.Validate(as); err != nil {
		return "", nil, err
	}
	if plan.Faces && r.cfg.Detector == nil {
		return "", nil, glasshouse.Errorf(op, glasshouse.ErrUnavailable, "the face detector is not available (models not provisioned); turn off faces to render only the plan's boxes")
	}
	pi := as.Probe
	if pi == nil || pi.Width <= 0 || pi.Height <= 0 {
		return "", nil, glasshouse.Errorf(op, glasshouse.ErrCorrupt, "%s has no picture size (probe missing)", as.Name)
	}
	if int64(pi.Width)*int64(pi.Height) > 8192*8192 {
		return "", nil, glasshouse.Errorf(op, glasshouse.ErrTooLarge, "%dx%d pixels is more than redaction handles", pi.Width, pi.Height)
	}
	color, _ := ParseColor(plan.Settings.Color)
	m := &Manifest{
		Format: ManifestVersion, Created: time.Now().UTC(),
		Source:   FileRef{Asset: as.ID, Name: as.Name, Hash: as.Hash, Size: as.Size},
		Note:     "Face detection only (no recognition): faces are found and covered, never identified or compared.",
		Settings: plan.Settings, Software: r.cfg.Software,
		Faces: []FaceTrack{}, Regions: []Region{}, Audio: []AudioCut{},
		Coverage: Coverage{LowConfidence: []FrameNote{}, Missed: []FrameNote{}},
	}
	if plan.Faces {
		m.Models = r.cfg.Models
	}
	for _, rg := range plan.Regions {
		if rg.Off {
			if rg.Kind == KindFace {
				m.Skipped = append(m.Skipped, rg)
			}
			continue
		}
		if r.static(rg, plan, as.Kind) {
			m.Regions = append(m.Regions, rg)
		}
	}
	out := filepath.Join(in.OutDir, OutputName(as.Name, as.Kind))
	job := &renderJob{r: r, in: in, m: m, color: color, detectW: r.cfg.DetectWidth}
	var err error
	if as.Kind == glasshouse.KindImage {
		err = job.image(ctx, out)
	} else {
		m.AudioRemoved = plan.RemoveAudio
		if !plan.RemoveAudio {
			m.Audio = append(m.Audio, plan.Audio...)
		}
		m.Encoder = append(append([]string{}, VideoCodecArgs...), AudioCodecArgs...)
		err = job.video(ctx, out)
	}
	if err != nil {
		os.Remove(out)
		if ctx.Err() != nil {
			return "", nil, fmt.Errorf("%s: %w", op, ctx.Err())
		}
		return "", nil, fmt.Errorf("%s %s: %w", op, as.Name, err)
	}
	m.Faces = job.tr.tracks()
	return out, m, nil
}

// static reports whether region rg is drawn as a fixed box over its time
// range (text and manual regions; faces the person adjusted; every face
// region of an image; and face regions when per-frame detection is off).
func (r *Renderer) static(rg Region, p *Plan, kind glasshouse.MediaKind) bool {
	if rg.Off {
		return false
	}
	if rg.Kind != KindFace {
		return true
	}
	return rg.Adjusted || !p.Faces || kind == glasshouse.KindImage
}

type renderJob struct {
	r     *Renderer
	in    Input
	m     *Manifest
	color [3]uint8
	tr    *tracker
	// detections run, for the manifest
	detected atomic.Int64
	detectW  int
}

func (t *tracker) tracks() []FaceTrack {
	out := []FaceTrack{}
	if t == nil {
		return out
	}
	for _, f := range t.all {
		out = append(out, *f)
	}
	return out
}

// detect runs the detector on pic (the whole picture, shrunk to the detect
// width, plus, when tiled, overlapping squares of half its shorter side at
// full size) and keeps the faces the plan covers: score at least the
// threshold, not inside a face region turned off.
func (j *renderJob) detect(ctx context.Context, pic *planar, tMS int64, tiled bool) ([]det, error) {
	j.detected.Add(1)
	found, err := j.r.cfg.Detector.DetectFaces(ctx, pic.rgba(j.detectW))
	if err != nil {
		return nil, fmt.Errorf("detect faces at %d ms: %w", tMS, err)
	}
	short := min(pic.w, pic.h)
	if tiled && short >= j.r.cfg.MinTileSide {
		full := pic.rgba(0)
		size := int(float64(short) * j.r.cfg.TileSide)
		if !pic.yuv {
			size = short / 2 // images: as fine as the faces analyzer
		}
		ts := tiles(pic.w, pic.h, size, 0.25)
		per := make([][]Detection, len(ts))
		errs := make([]error, len(ts))
		var wg sync.WaitGroup
		sem := make(chan struct{}, j.r.cfg.Workers)
		for i, t := range ts {
			wg.Add(1)
			sem <- struct{}{}
			go func() {
				defer wg.Done()
				defer func() { <-sem }()
				per[i], errs[i] = j.r.cfg.Detector.DetectFaces(ctx, full.SubImage(t))
			}()
		}
		wg.Wait()
		for i, t := range ts {
			if errs[i] != nil {
				return nil, fmt.Errorf("detect faces at %d ms: %w", tMS, errs[i])
			}
			tw, th := float64(t.Dx()), float64(t.Dy())
			for _, d := range per[i] {
				// A face cut by an inner tile edge gives a partial box:
				// the neighbouring tile or the whole frame has it.
				const edge = 0.01
				if (d.Box.X < edge && t.Min.X > 0) || (d.Box.Y < edge && t.Min.Y > 0) ||
					(d.Box.X+d.Box.W > 1-edge && t.Max.X < pic.w) || (d.Box.Y+d.Box.H > 1-edge && t.Max.Y < pic.h) {
					continue
				}
				d.Box = glasshouse.Box{
					X: (float64(t.Min.X) + d.Box.X*tw) / float64(pic.w), Y: (float64(t.Min.Y) + d.Box.Y*th) / float64(pic.h),
					W: d.Box.W * tw / float64(pic.w), H: d.Box.H * th / float64(pic.h),
				}
				found = append(found, d)
			}
		}
		found = suppress(found)
	}
	var out []det
	for _, d := range found {
		if d.Score < j.in.Plan.Settings.Threshold || j.skipped(d.Box, tMS) {
			continue
		}
		out = append(out, det{box: d.Box, score: d.Score})
	}
	return out, nil
}

// skipped reports whether b lies in a face region a person turned off.
func (j *renderJob) skipped(b glasshouse.Box, tMS int64) bool {
	video := j.in.Asset.Kind == glasshouse.KindVideo
	cx, cy := b.X+b.W/2, b.Y+b.H/2
	for _, rg := range j.in.Plan.Regions {
		if !rg.Off || rg.Kind != KindFace {
			continue
		}
		// The analyzer samples about once a second: allow that much slack.
		if video && (tMS < rg.StartMS-1000 || tMS > rg.EndMS+1000) {
			continue
		}
		if cx >= rg.Box.X && cx <= rg.Box.X+rg.Box.W && cy >= rg.Box.Y && cy <= rg.Box.Y+rg.Box.H {
			return true
		}
	}
	return false
}

// drawStatic covers the plan's fixed regions on pic at time tMS.
func (j *renderJob) drawStatic(pic *planar, tMS int64, video bool) {
	vals := pic.fillValues(j.color)
	for _, rg := range j.m.Regions {
		if video && (tMS < rg.StartMS || tMS >= rg.EndMS) {
			continue
		}
		pad := 0.0
		if rg.Kind == KindFace {
			pad = j.in.Plan.Settings.Padding
		}
		pic.fill(padRect(rg.Box, pic.w, pic.h, pad), j.in.Plan.Settings.Fill, vals)
	}
}

func (j *renderJob) drawFace(pic *planar, b glasshouse.Box, held bool) {
	pad := j.in.Plan.Settings.Padding
	if held {
		pad = pad*1.5 + 0.1
	}
	pic.fill(padRect(b, pic.w, pic.h, pad), j.in.Plan.Settings.Fill, pic.fillValues(j.color))
}

// image renders a still: detect (whole picture and tiles), cover, encode.
func (j *renderJob) image(ctx context.Context, out string) error {
	pi := j.in.Asset.Probe
	w, h := pi.Width, pi.Height
	args := []string{"-nostdin", "-v", "error", "-noautorotate", "-i", "file:" + j.in.Path, "-map", "0:V:0", "-frames:v", "1"}
	if f := media.ImageOrientFilter(j.in.Path); f != "" {
		args = append(args, "-vf", f)
	}
	args = append(args, "-pix_fmt", "gbrp", "-f", "rawvideo", "-")
	raw, err := media.Run(ctx, j.r.cfg.Limits, "ffmpeg", args...)
	if err != nil {
		return glasshouse.E("redact.image", glasshouse.ErrCorrupt, err, "decode")
	}
	pic := newPlanar(w, h, false)
	if len(raw) != len(pic.buf) {
		return glasshouse.Errorf("redact.image", glasshouse.ErrCorrupt, "decoded %d bytes, want %d for %dx%d", len(raw), len(pic.buf), w, h)
	}
	copy(pic.buf, raw)
	j.m.Frames = 1
	j.tr = newTracker()
	if j.in.Plan.Faces {
		j.detectW = max(j.detectW, w) // images: whole picture at full size
		dets, err := j.detect(ctx, pic, 0, true)
		if err != nil {
			return err
		}
		spans, _ := j.tr.step(0, dets)
		j.note(0, 0, spans, nil, dets)
		for _, s := range spans {
			j.drawFace(pic, s.b, false)
		}
	}
	j.m.Detected = int(j.detected.Load())
	j.drawStatic(pic, 0, false)
	enc := []string{"-nostdin", "-v", "error", "-y", "-f", "rawvideo", "-pix_fmt", "gbrp", "-s", fmt.Sprintf("%dx%d", w, h), "-i", "pipe:0", "-frames:v", "1"}
	if strings.HasSuffix(out, ".jpg") {
		enc = append(enc, "-q:v", "2", "-pix_fmt", "yuvj444p")
	}
	enc = append(enc, "file:"+out)
	cmd, cancel := media.Command(ctx, j.r.cfg.Limits, "ffmpeg", enc...)
	defer cancel()
	cmd.Stdin = strings.NewReader(string(pic.buf))
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("encode image: %w: %s", err, lastLine(stderr.String()))
	}
	if j.in.Progress != nil {
		j.in.Progress(1)
	}
	return nil
}

// note records the coverage of one detection frame.
func (j *renderJob) note(frame int, tMS int64, spans []span, missed []*ftrack, dets []det) {
	for _, d := range dets {
		if d.score < j.in.Plan.Settings.ReviewBelow {
			id := 0
			for _, t := range j.tr.active {
				if t.box == d.box {
					id = t.id
				}
			}
			j.m.Coverage.LowConfidence = append(j.m.Coverage.LowConfidence, FrameNote{Frame: frame, TimeMS: tMS, Track: id, Score: d.score, Box: d.box})
		}
	}
	for _, t := range missed {
		j.m.Coverage.Missed = append(j.m.Coverage.Missed, FrameNote{Frame: frame, TimeMS: tMS, Track: t.id, Box: t.box})
	}
}

type vframe struct {
	idx int
	pic *planar
}

// video renders a video: one ffmpeg decodes to raw yuv420p, frames are
// covered here, another ffmpeg encodes them with the source's audio
// (silenced or bleeped where the plan says).
func (j *renderJob) video(ctx context.Context, out string) error {
	pi := j.in.Asset.Probe
	w, h := pi.Width&^1, pi.Height&^1
	fps := pi.FrameRate
	if fps <= 0 || fps > 240 || math.IsNaN(fps) {
		fps = 25
	}
	rate := strconv.FormatFloat(fps, 'f', -1, 64)
	expect := 0.0
	if pi.DurationMS > 0 {
		expect = float64(pi.DurationMS) / 1000 * fps
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	dec, dcancel := media.Command(ctx, j.r.cfg.Limits, "ffmpeg", "-nostdin", "-v", "error", "-i", "file:"+j.in.Path,
		"-map", "0:V:0", "-an", "-sn", "-vf", fmt.Sprintf("crop=%d:%d:0:0", w, h), "-vsync", "cfr", "-r", rate,
		"-pix_fmt", "yuv420p", "-f", "rawvideo", "-")
	defer dcancel()
	decOut, err := dec.StdoutPipe()
	if err != nil {
		return err
	}
	var decErr strings.Builder
	dec.Stderr = &limitWriter{w: &decErr, n: 4096}

	encArgs := []string{"-nostdin", "-v", "error", "-y", "-f", "rawvideo", "-pix_fmt", "yuv420p", "-s", fmt.Sprintf("%dx%d", w, h),
		"-r", rate, "-i", "pipe:0"}
	audio := hasAudio(pi) && !j.in.Plan.RemoveAudio
	if audio {
		encArgs = append(encArgs, "-i", "file:"+j.in.Path)
	}
	encArgs = append(encArgs, "-map", "0:v:0")
	if audio {
		if fc := audioFilter(j.in.Plan.Audio, pi); fc != "" {
			encArgs = append(encArgs, "-filter_complex", fc, "-map", "[aout]")
			encArgs = append(encArgs, AudioCodecArgs...)
		} else {
			encArgs = append(encArgs, "-map", "1:a:0")
			if c := firstAudioCodec(pi); c == "aac" || c == "mp3" {
				encArgs = append(encArgs, "-c:a", "copy")
			} else {
				encArgs = append(encArgs, AudioCodecArgs...)
			}
		}
	}
	encArgs = append(encArgs, VideoCodecArgs...)
	encArgs = append(encArgs, "-movflags", "+faststart", "-f", "mp4", "file:"+out)
	enc, ecancel := media.Command(ctx, j.r.cfg.Limits, "ffmpeg", encArgs...)
	defer ecancel()
	encIn, err := enc.StdinPipe()
	if err != nil {
		return err
	}
	var encErr strings.Builder
	enc.Stderr = &limitWriter{w: &encErr, n: 4096}
	if err := dec.Start(); err != nil {
		return fmt.Errorf("start ffmpeg decoder: %w", err)
	}
	if err := enc.Start(); err != nil {
		cancel()
		_ = dec.Wait()
		return fmt.Errorf("start ffmpeg encoder: %w", err)
	}

	n := j.in.Plan.Settings.DetectEvery
	size := frameSize(w, h, true)
	// Buffers: a whole interval between tiled passes waits for its closing
	// detection, and the encoder gets a second interval's worth queued so
	// that it keeps working while the next detections run (within 512 MiB).
	key := n * j.r.cfg.TileEvery
	queue := max(4, min(2*key+2, (512<<20)/size/3))
	free := make(chan *planar, 3*queue)
	getPic := func() *planar {
		select {
		case p := <-free:
			return p
		default:
			return newPlanar(w, h, true)
		}
	}
	// Reader: decoded frames in order.
	frames := make(chan vframe, queue)
	var readErr error
	go func() {
		defer close(frames)
		br := bufio.NewReaderSize(decOut, size)
		for i := 0; ; i++ {
			p := getPic()
			if _, err := io.ReadFull(br, p.buf); err != nil {
				if err != io.EOF {
					readErr = fmt.Errorf("short frame %d from the decoder: %w", i, err)
				}
				return
			}
			select {
			case frames <- vframe{i, p}:
			case <-ctx.Done():
				return
			}
		}
	}()
	// Writer: covered frames to the encoder, in order.
	toEnc := make(chan *planar, queue)
	var wg sync.WaitGroup
	var writeErr error
	wg.Add(1)
	go func() {
		defer wg.Done()
		for p := range toEnc {
			if writeErr == nil {
				if _, err := encIn.Write(p.buf); err != nil {
					writeErr = fmt.Errorf("write to the encoder: %w", err)
					cancel()
				}
			}
			select {
			case free <- p:
			default:
			}
		}
		encIn.Close()
	}()

	j.tr = newTracker()
	// Detection frames: every n'th; every key'th is a tiled pass and ends
	// an interval. Between two tiled passes the whole-frame passes are
	// waypoints that bend the interpolated paths.
	var (
		prev      *vframe // last tiled detection frame, not yet written
		prevSpans []span  // boxes drawn on prev (its detections and held faces)
		pending   []vframe
		waypoints []*waypoint
		bg        sync.WaitGroup // waypoint detections in flight
		count     int
		loopErr   error
	)
	tOf := func(i int) int64 { return int64(math.Round(float64(i) * 1000 / fps)) }
	emit := func(f vframe) bool {
		count++
		if j.in.Progress != nil && expect > 0 && count%10 == 0 {
			j.in.Progress(math.Min(0.99, float64(count)/expect))
		}
		select {
		case toEnc <- f.pic:
			return true
		case <-ctx.Done():
			return false
		}
	}
	// finish takes the tiled detections of k and writes prev and the
	// frames between prev and k, covered.
	finish := func(k vframe) error {
		var spans []span
		var missed []*ftrack
		if j.in.Plan.Faces {
			dets, err := j.detect(ctx, k.pic, tOf(k.idx), true)
			if err != nil {
				return err
			}
			spans, missed = j.tr.step(tOf(k.idx), dets)
			j.note(k.idx, tOf(k.idx), spans, missed, dets)
		}
		if prev != nil {
			for _, s := range prevSpans {
				j.drawFace(prev.pic, s.b, s.held)
			}
			j.drawStatic(prev.pic, tOf(prev.idx), true)
			if !emit(*prev) {
				return ctx.Err()
			}
			for _, w := range waypoints {
				<-w.done
				if w.err != nil {
					return w.err
				}
			}
			paths := j.paths(spans, waypoints, prev.idx, k.idx, tOf)
			for _, f := range pending {
				for _, p := range paths {
					j.drawFace(f.pic, p.at(f.idx), p.held)
				}
				j.drawStatic(f.pic, tOf(f.idx), true)
				if !emit(f) {
					return ctx.Err()
				}
			}
		}
		pending, waypoints = pending[:0], waypoints[:0]
		kk := k
		prev, prevSpans = &kk, spans
		return nil
	}
	for f := range frames {
		if loopErr != nil {
			continue // drain
		}
		switch {
		case f.idx%key == 0:
			loopErr = finish(f)
		case f.idx%n == 0 && j.in.Plan.Faces:
			w := &waypoint{idx: f.idx, done: make(chan struct{})}
			bg.Add(1)
			go func(pic *planar, tMS int64) {
				defer bg.Done()
				defer close(w.done)
				w.dets, w.err = j.detect(ctx, pic, tMS, false)
			}(f.pic, tOf(f.idx))
			waypoints = append(waypoints, w)
			pending = append(pending, f)
		default:
			pending = append(pending, f)
		}
	}
	if loopErr == nil && readErr == nil && len(pending) > 0 {
		last := pending[len(pending)-1]
		pending = pending[:len(pending)-1]
		if len(waypoints) > 0 && waypoints[len(waypoints)-1].idx == last.idx {
			waypoints = waypoints[:len(waypoints)-1]
		}
		loopErr = finish(last)
	}
	if loopErr == nil && readErr == nil && prev != nil {
		for _, s := range prevSpans {
			j.drawFace(prev.pic, s.b, s.held)
		}
		j.drawStatic(prev.pic, tOf(prev.idx), true)
		if !emit(*prev) {
			loopErr = ctx.Err()
		}
	}
	if loopErr != nil || readErr != nil {
		cancel()
	}
	bg.Wait() // the detector is not used after Render returns
	close(toEnc)
	wg.Wait()
	derr := dec.Wait()
	eerr := enc.Wait()
	j.m.Frames = count
	j.m.Detected = int(j.detected.Load())
	switch {
	case loopErr != nil:
		return loopErr
	case readErr != nil:
		return readErr
	case writeErr != nil && eerr != nil:
		return fmt.Errorf("ffmpeg encoder: %w: %s", eerr, lastLine(encErr.String()))
	case writeErr != nil:
		return writeErr
	case derr != nil:
		return glasshouse.E("redact.video", glasshouse.ErrCorrupt, derr, "ffmpeg decoder: "+lastLine(decErr.String()))
	case eerr != nil:
		return fmt.Errorf("ffmpeg encoder: %w: %s", eerr, lastLine(encErr.String()))
	case count == 0:
		return glasshouse.Errorf("redact.video", glasshouse.ErrCorrupt, "no frames decoded")
	}
	if j.in.Progress != nil {
		j.in.Progress(1)
	}
	return nil
}

func hasAudio(pi *glasshouse.ProbeInfo) bool { return firstAudioCodec(pi) != "" }

func firstAudioCodec(pi *glasshouse.ProbeInfo) string {
	for _, s := range pi.Streams {
		if s.Type == "audio" {
			if s.Codec == "" {
				return "unknown"
			}
			return s.Codec
		}
	}
	return ""
}

// audioFilter builds the filter graph that silences or bleeps the cuts of
// the first audio stream (input 1), output [aout]; "" when there are none.
func audioFilter(cuts []AudioCut, pi *glasshouse.ProbeInfo) string {
	if len(cuts) == 0 {
		return ""
	}
	var all, bleep []string
	for _, c := range cuts {
		b := fmt.Sprintf("between(t,%.3f,%.3f)", float64(c.StartMS)/1000, float64(c.EndMS)/1000)
		all = append(all, b)
		if c.Mode == AudioBleep {
			bleep = append(bleep, b)
		}
	}
	fc := fmt.Sprintf("[1:a:0]volume=enable='%s':volume=0", strings.Join(all, "+"))
	if len(bleep) == 0 {
		return fc + "[aout]"
	}
	sr := 48000
	for _, s := range pi.Streams {
		if s.Type == "audio" && s.SampleRate > 0 {
			sr = s.SampleRate
			break
		}
	}
	dur := float64(pi.DurationMS)/1000 + 1
	return fc + "[m];" +
		fmt.Sprintf("sine=frequency=1000:sample_rate=%d:duration=%.3f,volume=0.25,volume=enable='not(%s)':volume=0[b];", sr, dur, strings.Join(bleep, "+")) +
		"[m][b]amix=inputs=2:duration=first:normalize=0[aout]"
}

type limitWriter struct {
	w io.Writer
	n int
}

func (l *limitWriter) Write(p []byte) (int, error) {
	if l.n > 0 {
		k := min(len(p), l.n)
		l.n -= k
		_, _ = l.w.Write(p[:k])
	}
	return len(p), nil
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		return s[i+1:]
	}
	return s
}

// waypoint is a whole-frame detection between two tiled ones, run in the
// background: dets and err are set when done is closed.
type waypoint struct {
	idx  int
	dets []det
	err  error
	done chan struct{}
}

type point struct {
	idx int
	box glasshouse.Box
}

// path is how one face is covered over an interval: boxes at frames,
// linearly interpolated in between.
type path struct {
	held bool
	pts  []point
}

func (p path) at(idx int) glasshouse.Box {
	if len(p.pts) == 0 {
		return glasshouse.Box{}
	}
	if idx <= p.pts[0].idx {
		return p.pts[0].box
	}
	for i := 1; i < len(p.pts); i++ {
		a, b := p.pts[i-1], p.pts[i]
		if idx <= b.idx {
			if b.idx == a.idx {
				return b.box
			}
			return span{a: a.box, b: b.box}.at(float64(idx-a.idx) / float64(b.idx-a.idx))
		}
	}
	return p.pts[len(p.pts)-1].box
}

// paths turns the spans of an interval [from, to] into paths through the
// whole-frame detections between (each joined to the face it continues by
// box overlap or nearness). A detection that continues no face is covered
// over the whole interval (it may be a face the tiled passes missed) and
// recorded.
func (j *renderJob) paths(spans []span, wps []*waypoint, from, to int, tOf func(int) int64) []path {
	out := make([]path, len(spans))
	for i, s := range spans {
		out[i] = path{held: s.held, pts: []point{{from, s.a}}}
	}
	var extra []path
	for _, w := range wps {
		type cand struct {
			si, di int
			v      float64
		}
		var cands []cand
		for si, s := range spans {
			last := out[si].pts[len(out[si].pts)-1]
			pred := span{a: last.box, b: s.b}.at(float64(w.idx-last.idx) / float64(max(1, to-last.idx)))
			for di, d := range w.dets {
				if v := near(pred, d.box); v > 0 {
					cands = append(cands, cand{si, di, v})
				}
			}
		}
		sort.SliceStable(cands, func(a, b int) bool { return cands[a].v > cands[b].v })
		usedS, usedD := map[int]bool{}, map[int]bool{}
		for _, c := range cands {
			if usedS[c.si] || usedD[c.di] {
				continue
			}
			usedS[c.si], usedD[c.di] = true, true
			out[c.si].pts = append(out[c.si].pts, point{w.idx, w.dets[c.di].box})
		}
		for di, d := range w.dets {
			if usedD[di] {
				continue // continues a face the tiled passes confirm
			}
			if d.score < j.in.Plan.Settings.ReviewBelow {
				j.m.Coverage.LowConfidence = append(j.m.Coverage.LowConfidence, FrameNote{Frame: w.idx, TimeMS: tOf(w.idx), Score: d.score, Box: d.box})
			}
			extra = append(extra, path{held: true, pts: []point{{from, d.box}, {to, d.box}}})
			j.tr.next++
			j.tr.all = append(j.tr.all, &FaceTrack{ID: j.tr.next, StartMS: tOf(from), EndMS: tOf(to), MinScore: d.score, MaxScore: d.score,
				Boxes: []glasshouse.TimedBox{{TimeMS: tOf(w.idx), Box: d.box, Score: d.score}}})
		}
	}
	for i, s := range spans {
		out[i].pts = append(out[i].pts, point{to, s.b})
	}
	return append(out, extra...)
}
