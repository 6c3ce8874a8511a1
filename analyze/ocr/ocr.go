// Package ocr is the glasshouse analyzer that reads text off images and video
// frames with the tesseract command-line engine.
//
// Each frame is turned grey, contrast-stretched (1st..99th percentile) and
// enlarged if small, written as a PGM file to the work directory (faster
// than tesseract's stdin) and read by tesseract in sparse-text mode with
// Sauvola thresholding, one single-threaded process per worker. The TSV
// output gives word boxes and confidences; weak words and short or
// low-confidence lines are dropped and the rest grouped into lines. A second
// pass on a bright-text mask (pixels near the white level, inverted) runs
// when the first finds little or when near-white pixels are sparse: it
// recovers white captions over busy pictures. Video is sampled at
// Config.FPS; frames nearly identical to the last one read reuse its
// reading, and the same text over consecutive frames becomes one OCRText
// with a time range.
package ocr

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"image"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"time"

	"github.com/glasshouse/glasshouse"
	"github.com/glasshouse/glasshouse/media"
)

// Version of the analyzer; bump it when the output changes.
const Version = "1"

// Config configures the analyzer. The zero value is usable.
type Config struct {
	// Tesseract is the tesseract binary (default "tesseract" on $PATH).
	Tesseract string
	// TessData is the directory holding <Lang>.traineddata; empty: the
	// directory tesseract reports with --list-langs.
	TessData string
	// Lang is the tesseract language (default "eng").
	Lang string
	// PSM is the tesseract page segmentation mode (default 11, sparse text,
	// which reads captions over pictures best; 3 suits full pages).
	PSM int
	// Thresholding is tesseract's thresholding_method: 0 global Otsu, 1
	// adaptive Otsu, 2 Sauvola (default 2: it copes with shaded pages and
	// captions over pictures). Use -1 for 0 (Otsu).
	Thresholding int
	// Workers bounds the tesseract processes running at once (default
	// runtime.NumCPU()). Each runs with OMP_THREAD_LIMIT=1.
	Workers int
	// FPS is the video sampling rate in frames per second (default 1).
	FPS float64
	// MaxWidth scales video frames down to at most this width (default 1280).
	MaxWidth int
	// MaxImageWidth scales still images down to at most this width (default 4000).
	MaxImageWidth int
	// MinLineConf drops lines whose mean word confidence (0..1, weighted by
	// letters) is lower (default 0.75): it removes the short fragments
	// tesseract reads off textures. Lines also need 3 letters or digits.
	MinLineConf float64
	// MinWidth: smaller pictures are enlarged (bilinear, integer factor up
	// to 3x) to at least this width before reading (default 1000).
	MinWidth int
	// MinWordConf drops words tesseract is less sure of (0..100, default 60).
	MinWordConf float64
	// DiffThreshold is the largest change of a cell's mean grey level (0..255,
	// over a grid of about 20x20-pixel cells) for a frame to count as the
	// same as the last frame read (default 8). Negative disables skipping.
	DiffThreshold float64
	// SecondPassMinChars: the bright-text pass runs when the first pass finds
	// fewer confident letters and digits than this (default 12). Negative
	// never runs it; a very large value always runs it.
	SecondPassMinChars int
	// BrightMaxFrac: the bright-text pass also runs when at most this
	// fraction of the frame is near-white (sparse bright strokes look like
	// captions). Default 0.05; negative disables this trigger.
	BrightMaxFrac float64
	// Limits bounds each tesseract process (default 2 minutes, 2 GiB).
	Limits media.Limits
	// FFmpegLimits bounds the ffmpeg decoder (default 4 hours, 4 GiB).
	FFmpegLimits media.Limits
	// Logger receives debug logs (default slog.Default()).
	Logger *slog.Logger
}

func (c *Config) defaults() error {
	if c.Tesseract == "" {
		c.Tesseract = "tesseract"
	}
	if c.Lang == "" {
		c.Lang = "eng"
	}
	if c.PSM == 0 {
		c.PSM = 11
	}
	if c.Thresholding == 0 {
		c.Thresholding = 2
	} else if c.Thresholding < 0 {
		c.Thresholding = 0
	}
	if c.Workers <= 0 {
		c.Workers = runtime.NumCPU()
	}
	if c.FPS == 0 {
		c.FPS = 1
	}
	if c.MaxWidth == 0 {
		c.MaxWidth = 1280
	}
	if c.MaxImageWidth == 0 {
		c.MaxImageWidth = 4000
	}
	if c.MinLineConf == 0 {
		c.MinLineConf = 0.75
	}
	if c.MinWidth == 0 {
		c.MinWidth = 1000
	}
	if c.MinWordConf == 0 {
		c.MinWordConf = 60
	}
	if c.DiffThreshold == 0 {
		c.DiffThreshold = 8
	}
	if c.SecondPassMinChars == 0 {
		c.SecondPassMinChars = 12
	}
	if c.BrightMaxFrac == 0 {
		c.BrightMaxFrac = 0.05
	}
	if c.Limits == (media.Limits{}) {
		c.Limits = media.Limits{Timeout: 2 * time.Minute, MaxBytes: 2 << 30}
	}
	if c.FFmpegLimits == (media.Limits{}) {
		c.FFmpegLimits = media.Limits{Timeout: 4 * time.Hour, MaxBytes: 4 << 30}
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	switch {
	case c.FPS < 0 || c.FPS > 60:
		return glasshouse.Errorf("ocr.New", glasshouse.ErrInvalid, "fps %v out of range (0, 60]", c.FPS)
	case c.PSM < 0 || c.PSM > 13:
		return glasshouse.Errorf("ocr.New", glasshouse.ErrInvalid, "psm %d out of range 0..13", c.PSM)
	case c.MaxWidth < 64 || c.MaxImageWidth < 64:
		return glasshouse.Errorf("ocr.New", glasshouse.ErrInvalid, "max width too small")
	case !regexp.MustCompile(`^[A-Za-z0-9_+]+$`).MatchString(c.Lang):
		return glasshouse.Errorf("ocr.New", glasshouse.ErrInvalid, "bad language %q", c.Lang)
	}
	return nil
}

// Analyzer is the OCR analyzer. It is safe for concurrent use.
type Analyzer struct {
	cfg   Config
	model glasshouse.ModelInfo
	log   *slog.Logger
}

var _ glasshouse.Analyzer = (*Analyzer)(nil)

// New checks the configuration and looks up the engine and its model once.
// A missing tesseract binary or traineddata file does not fail New: Model
// reports it (Available false, with the Problem) and Analyze fails.
func New(cfg Config) (*Analyzer, error) {
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	a := &Analyzer{cfg: cfg, log: cfg.Logger.With("analyzer", "ocr")}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	a.model = a.probeModel(ctx)
	if !a.model.Available {
		a.log.Warn("ocr engine unavailable", "problem", a.model.Problem)
	}
	return a, nil
}

// Name implements glasshouse.Analyzer.
func (a *Analyzer) Name() string { return "ocr" }

// Version implements glasshouse.Analyzer.
func (a *Analyzer) Version() string { return Version }

// Accepts implements glasshouse.Analyzer: images and video.
func (a *Analyzer) Accepts(kind glasshouse.MediaKind) bool {
	return kind == glasshouse.KindImage || kind == glasshouse.KindVideo
}

// Model reports the engine and language data, and whether they are usable.
func (a *Analyzer) Model() glasshouse.ModelInfo { return a.model }

var listLangsDir = regexp.MustCompile(`"([^"]+)"`)

func (a *Analyzer) probeModel(ctx context.Context) glasshouse.ModelInfo {
	mi := glasshouse.ModelInfo{Name: "tesseract " + a.cfg.Lang}
	bin, err := exec.LookPath(a.cfg.Tesseract)
	if err != nil {
		mi.Problem = fmt.Sprintf("tesseract binary %q not found: %v (install Debian tesseract-ocr)", a.cfg.Tesseract, err)
		return mi
	}
	a.cfg.Tesseract = bin
	lim := media.Limits{Timeout: 20 * time.Second, MaxBytes: 1 << 30}
	out, err := media.Run(ctx, lim, bin, "--version")
	if err != nil {
		mi.Problem = fmt.Sprintf("tesseract --version: %v", err)
		return mi
	}
	engVer := ""
	if f := strings.Fields(string(out)); len(f) >= 2 && f[0] == "tesseract" {
		engVer = f[1]
	}
	dir := a.cfg.TessData
	if dir == "" {
		if out, err := media.Run(ctx, lim, bin, "--list-langs"); err == nil {
			if m := listLangsDir.FindSubmatch(out); m != nil {
				dir = string(m[1])
			}
		}
	}
	if dir == "" {
		for _, d := range []string{os.Getenv("TESSDATA_PREFIX"), "/usr/share/tesseract-ocr/5/tessdata", "/usr/share/tesseract-ocr/4.00/tessdata", "/usr/share/tessdata"} {
			if d != "" {
				if _, err := os.Stat(filepath.Join(d, a.cfg.Lang+".traineddata")); err == nil {
					dir = d
					break
				}
			}
		}
	}
	a.cfg.TessData = dir
	path := filepath.Join(dir, a.cfg.Lang+".traineddata")
	mi.Path = path
	sum, err := fileSHA256(path)
	if err != nil {
		mi.Problem = fmt.Sprintf("traineddata %s unreadable: %v (install Debian tesseract-ocr-%s)", path, err, a.cfg.Lang)
		return mi
	}
	mi.SHA256 = sum
	pkgVer := debVersion(ctx, "tesseract-ocr-"+a.cfg.Lang)
	mi.Name = fmt.Sprintf("tesseract %s %s", engVer, a.cfg.Lang)
	if pkgVer != "" {
		mi.Name += fmt.Sprintf(" (tesseract-ocr-%s %s)", a.cfg.Lang, pkgVer)
		mi.Source = fmt.Sprintf("Debian tesseract-ocr %s, tesseract-ocr-%s %s", debVersion(ctx, "tesseract-ocr"), a.cfg.Lang, pkgVer)
	}
	mi.Available = true
	return mi
}

func debVersion(ctx context.Context, pkg string) string {
	if _, err := exec.LookPath("dpkg-query"); err != nil {
		return ""
	}
	out, err := media.Run(ctx, media.Limits{Timeout: 10 * time.Second, MaxBytes: 1 << 30}, "dpkg-query", "-W", "-f=${Version}", pkg)
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(out))
}

func fileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, bufio.NewReader(f)); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// Analyze implements glasshouse.Analyzer.
func (a *Analyzer) Analyze(ctx context.Context, in glasshouse.Input) (*glasshouse.Result, error) {
	const op = "ocr.Analyze"
	if !a.model.Available {
		return nil, glasshouse.E(op, glasshouse.ErrUnavailable, nil, "ocr engine unavailable: "+a.model.Problem)
	}
	if in.Asset == nil || in.Path == "" {
		return nil, glasshouse.Errorf(op, glasshouse.ErrInvalid, "input needs an asset and a path")
	}
	if !a.Accepts(in.Asset.Kind) {
		return nil, glasshouse.Errorf(op, glasshouse.ErrUnsupported, "ocr does not read %q assets", in.Asset.Kind)
	}
	start := time.Now()
	dir, done, err := workDir(in.WorkDir)
	if err != nil {
		return nil, glasshouse.E(op, nil, err, "")
	}
	defer done()
	var texts []glasshouse.OCRText
	if in.Asset.Kind == glasshouse.KindImage {
		texts, err = a.analyzeImage(ctx, dir, in.Path)
	} else {
		var dur int64
		if in.Asset.Probe != nil {
			dur = in.Asset.Probe.DurationMS
		}
		texts, _, err = a.analyzeVideo(ctx, dir, in.Path, dur, in.Progress)
	}
	if err != nil {
		return nil, glasshouse.E(op, kindOf(err), err, "")
	}
	if in.Progress != nil {
		in.Progress(1)
	}
	res := &glasshouse.Result{
		Asset:  in.Asset.ID,
		Tenant: in.Asset.Tenant,
		Run: glasshouse.AnalyzerRun{
			Name:        a.Name(),
			Version:     Version,
			State:       glasshouse.JobDone,
			Model:       a.model.Name,
			ModelSHA256: a.model.SHA256,
			Started:     start.UTC(),
			DurationMS:  time.Since(start).Milliseconds(),
		},
		Insights: glasshouse.Insights{OCR: texts},
	}
	res.Insights.Analyzers = []glasshouse.AnalyzerRun{res.Run}
	return res, nil
}

// kindOf keeps the kind of a glasshouse error and maps the rest: a context
// error stays as it is, a decoder failure means the media is corrupt.
func kindOf(err error) error {
	for _, k := range []error{glasshouse.ErrInvalid, glasshouse.ErrUnsupported, glasshouse.ErrUnavailable, glasshouse.ErrCorrupt, glasshouse.ErrTooLarge} {
		if errors.Is(err, k) {
			return k
		}
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return nil
	}
	var de *decodeError
	if errors.As(err, &de) {
		return glasshouse.ErrCorrupt
	}
	return nil
}

// analyzeImage reads one still image.
func (a *Analyzer) analyzeImage(ctx context.Context, dir, path string) ([]glasshouse.OCRText, error) {
	var g *image.Gray
	err := media.Frames(ctx, a.cfg.FFmpegLimits, path, 0, a.cfg.MaxImageWidth, func(_ int64, img *image.RGBA) error {
		if g == nil {
			g = toGrey(img)
		}
		return nil
	})
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, &decodeError{err}
	}
	if g == nil {
		return nil, &decodeError{fmt.Errorf("no picture decoded from %s", filepath.Base(path))}
	}
	lines, _, err := a.readFrame(ctx, dir, g)
	if err != nil {
		return nil, err
	}
	out := make([]glasshouse.OCRText, 0, len(lines))
	for _, l := range lines {
		out = append(out, glasshouse.OCRText{Text: l.Text, Box: l.Box, Confidence: l.Conf})
	}
	return out, nil
}

type decodeError struct{ err error }

func (e *decodeError) Error() string { return "decode media: " + e.err.Error() }
func (e *decodeError) Unwrap() error { return e.err }

// workDir returns dir, or a fresh temporary directory (removed by done)
// when dir is empty.
func workDir(dir string) (string, func(), error) {
	if dir != "" {
		return dir, func() {}, nil
	}
	d, err := os.MkdirTemp("", "glasshouse-ocr-*")
	if err != nil {
		return "", nil, fmt.Errorf("make work dir: %w", err)
	}
	return d, func() { _ = os.RemoveAll(d) }, nil
}
