// Package speech is the speech-to-text analyzer: it transcribes every audio
// stream of an audio or video asset into time-coded transcript segments with
// per-word times and confidences.
//
// The built-in engine is pocketsphinx (Debian packages pocketsphinx and
// pocketsphinx-en-us), run as the pocketsphinx_continuous program. Long audio
// is cut at quiet points into chunks that are transcribed in parallel, and
// the word times of each chunk are moved back onto the stream's timeline.
// A site with a Whisper-class server can use the "openai" engine instead,
// which posts the audio to an OpenAI-compatible /v1/audio/transcriptions
// endpoint.
package speech

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/glasshouse/glasshouse"
	"github.com/glasshouse/glasshouse/media"
)

// Version of the analyzer; bump it to re-run speech on old assets.
const Version = "1"

// Engine names.
const (
	EnginePocketsphinx = "pocketsphinx"
	EngineOpenAI       = "openai"
)

// DefaultModelDir is where Debian's pocketsphinx-en-us puts its model.
const DefaultModelDir = "/usr/share/pocketsphinx/model/en-us"

// Config configures the analyzer. The zero value uses pocketsphinx with the
// Debian model and the fast decoder settings (see FastDecoderArgs).
type Config struct {
	// Engine is EnginePocketsphinx (default) or EngineOpenAI.
	Engine string

	// Pocketsphinx settings.
	Binary   string // default "pocketsphinx_continuous"
	ModelDir string // default DefaultModelDir; HMM, LM and Dict default to files in it
	HMM      string // acoustic model directory; default ModelDir/en-us
	LM       string // language model; default ModelDir/en-us.lm.bin
	Dict     string // pronunciation dictionary; default ModelDir/cmudict-en-us.dict
	// Decoder holds extra pocketsphinx_continuous arguments (flag, value
	// pairs). nil means FastDecoderArgs(); use an empty non-nil slice for
	// the program's own defaults (DefaultDecoderArgs()).
	Decoder []string

	// OpenAI-compatible server settings (Engine == EngineOpenAI).
	URL        string       // base URL; the analyzer posts to URL + "/v1/audio/transcriptions"
	APIKey     string       // sent as "Authorization: Bearer <APIKey>" if set
	Model      string       // model name sent to the server; default "whisper-1"
	HTTPClient *http.Client // default: a client with RequestTimeout
	// RequestTimeout bounds one HTTP request; default 5 minutes.
	RequestTimeout time.Duration

	// Concurrency is how many chunks are transcribed at once; default
	// runtime.NumCPU().
	Concurrency int
	// ChunkSec is the longest chunk handed to the engine in seconds; longer
	// audio is cut at the quietest point near the limit. Default 30 for
	// pocketsphinx, 600 for openai. Audio is also cut into about
	// Concurrency pieces when that keeps chunks at least MinChunkSec long.
	ChunkSec float64
	// MinChunkSec is the shortest chunk worth a process of its own; default 8.
	MinChunkSec float64
	// PauseMS: a gap between words longer than this starts a new segment;
	// default 600.
	PauseMS int64
	// MaxSegmentMS caps the length of a segment; default 15000.
	MaxSegmentMS int64
	// Limits bounds each external process (ffmpeg, ffprobe, pocketsphinx);
	// the zero value uses a 10 minute timeout and a 2 GiB address-space cap.
	Limits media.Limits
	// Logger; default slog.Default().
	Logger *slog.Logger
}

// DefaultDecoderArgs returns no extra arguments: pocketsphinx's own
// defaults (three passes: fwdtree, fwdflat, bestpath).
func DefaultDecoderArgs() []string { return []string{} }

// FastDecoderArgs returns the decoder settings chosen by measurement (see
// README.md): at most 4000 active HMMs (default 30000) and 10 word exits
// per frame (default unlimited) and a 10-frame phone lookahead (default
// 5). On the test recordings they give the same word error rate as the
// program's defaults for about 15-30% less CPU time; narrower beams, -ds 2,
// -topn 2 or -maxhmmpf 3000 were faster but lost words. The
// fwdflat and bestpath passes stay on: they are cheap, and bestpath gives
// the word posteriors used as confidences.
func FastDecoderArgs() []string {
	return []string{"-maxhmmpf", "4000", "-maxwpf", "10", "-pl_window", "10"}
}

// engine transcribes one 16 kHz mono s16le WAV file. Times are relative to
// the start of the file. Segments may be nil, then they are built from the
// words.
type engine interface {
	transcribe(ctx context.Context, wavPath string) (chunkResult, error)
	model() glasshouse.ModelInfo
}

type chunkResult struct {
	Words    []glasshouse.Word
	Segments []glasshouse.TranscriptSegment // optional, times relative to the chunk
}

// Analyzer is the speech analyzer. It is safe for concurrent use.
type Analyzer struct {
	cfg Config
	eng engine
	log *slog.Logger
}

var _ glasshouse.Analyzer = (*Analyzer)(nil)

// New returns an analyzer for cfg. It does not fail when the engine's
// program or model is missing: Model then reports the problem and Analyze
// returns an ErrUnavailable error.
func New(cfg Config) (*Analyzer, error) {
	if cfg.Engine == "" {
		cfg.Engine = EnginePocketsphinx
	}
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = runtime.NumCPU()
	}
	if cfg.MinChunkSec <= 0 {
		cfg.MinChunkSec = 8
	}
	if cfg.PauseMS <= 0 {
		cfg.PauseMS = 600
	}
	if cfg.MaxSegmentMS <= 0 {
		cfg.MaxSegmentMS = 15000
	}
	if cfg.Limits == (media.Limits{}) {
		cfg.Limits = media.Limits{Timeout: 10 * time.Minute, MaxBytes: 2 << 30}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	a := &Analyzer{cfg: cfg, log: cfg.Logger.With("analyzer", "speech")}
	switch cfg.Engine {
	case EnginePocketsphinx:
		if a.cfg.ChunkSec <= 0 {
			a.cfg.ChunkSec = 30
		}
		a.eng = newSphinx(&a.cfg)
	case EngineOpenAI:
		if a.cfg.ChunkSec <= 0 {
			a.cfg.ChunkSec = 600
		}
		e, err := newOpenAI(&a.cfg)
		if err != nil {
			return nil, err
		}
		a.eng = e
	default:
		return nil, glasshouse.Errorf("speech.New", glasshouse.ErrInvalid, "unknown engine %q (want %q or %q)", cfg.Engine, EnginePocketsphinx, EngineOpenAI)
	}
	if a.cfg.MinChunkSec > a.cfg.ChunkSec {
		a.cfg.MinChunkSec = a.cfg.ChunkSec
	}
	return a, nil
}

// Name returns "speech".
func (a *Analyzer) Name() string { return "speech" }

// Version returns the analyzer version.
func (a *Analyzer) Version() string { return Version }

// Accepts audio and video.
func (a *Analyzer) Accepts(k glasshouse.MediaKind) bool {
	return k == glasshouse.KindAudio || k == glasshouse.KindVideo
}

// Model describes the engine's model and whether it can run.
func (a *Analyzer) Model() glasshouse.ModelInfo { return a.eng.model() }

// track is one audio stream to transcribe.
type track struct {
	index int
	wav   string
	dur   time.Duration
}

// chunkJob is one piece of a track.
type chunkJob struct {
	track  int // stream index
	path   string
	offset int64 // ms from the start of the stream
	res    chunkResult
}

// Analyze transcribes every audio stream of in.Path.
func (a *Analyzer) Analyze(ctx context.Context, in glasshouse.Input) (*glasshouse.Result, error) {
	const op = "speech.Analyze"
	start := time.Now()
	mi := a.eng.model()
	res := &glasshouse.Result{Run: glasshouse.AnalyzerRun{
		Name: a.Name(), Version: Version, Model: mi.Name, ModelSHA256: mi.SHA256, Started: start,
	}}
	if in.Asset != nil {
		res.Asset, res.Tenant = in.Asset.ID, in.Asset.Tenant
	}
	if !mi.Available {
		return nil, glasshouse.E(op, glasshouse.ErrUnavailable, nil, "speech engine unavailable: "+mi.Problem)
	}
	if in.Path == "" {
		return nil, glasshouse.Errorf(op, glasshouse.ErrInvalid, "no media path")
	}
	work := in.WorkDir
	if work == "" {
		d, err := os.MkdirTemp("", "glasshouse-speech-")
		if err != nil {
			return nil, fmt.Errorf("%s: make scratch dir: %w", op, err)
		}
		defer os.RemoveAll(d)
		work = d
	}
	work, err := os.MkdirTemp(work, "speech-")
	if err != nil {
		return nil, fmt.Errorf("%s: make scratch dir: %w", op, err)
	}
	defer os.RemoveAll(work)

	indexes, err := a.audioStreams(ctx, in)
	if err != nil {
		return nil, err
	}
	progress := func(f float64) {
		if in.Progress != nil {
			in.Progress(f)
		}
	}
	// Extract and cut every track first, then transcribe all chunks of
	// all tracks together under one concurrency bound.
	var jobs []*chunkJob
	for _, idx := range indexes {
		wav := filepath.Join(work, "track-"+strconv.Itoa(idx)+".wav")
		if _, err := media.Run(ctx, a.cfg.Limits, "ffmpeg", "-nostdin", "-v", "error", "-y", "-i", in.Path,
			"-map", "0:"+strconv.Itoa(idx), "-vn", "-sn", "-dn", "-ac", "1", "-ar", "16000", "-c:a", "pcm_s16le", "-f", "wav", wav); err != nil {
			return nil, glasshouse.E(op, glasshouse.ErrUnsupported, err, fmt.Sprintf("extract audio stream %d", idx))
		}
		chunks, err := a.cut(wav, filepath.Join(work, "track-"+strconv.Itoa(idx)))
		if err != nil {
			return nil, fmt.Errorf("%s: cut stream %d: %w", op, idx, err)
		}
		for _, c := range chunks {
			jobs = append(jobs, &chunkJob{track: idx, path: c.path, offset: c.offsetMS})
		}
	}
	progress(0.05)
	var mu sync.Mutex
	done := 0
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(a.cfg.Concurrency)
	for _, j := range jobs {
		g.Go(func() error {
			r, err := a.eng.transcribe(gctx, j.path)
			if err != nil {
				return fmt.Errorf("transcribe stream %d at %d ms: %w", j.track, j.offset, err)
			}
			j.res = r
			mu.Lock()
			done++
			f := 0.05 + 0.95*float64(done)/float64(len(jobs))
			mu.Unlock()
			progress(f)
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) || ctx.Err() != nil {
			return nil, fmt.Errorf("%s: %w", op, err)
		}
		return nil, glasshouse.E(op, glasshouse.ErrUnavailable, err, "")
	}
	for _, idx := range indexes {
		var words []glasshouse.Word
		var segs []glasshouse.TranscriptSegment
		for _, j := range jobs {
			if j.track != idx {
				continue
			}
			for _, w := range j.res.Words {
				w.StartMS += j.offset
				w.EndMS += j.offset
				words = append(words, w)
			}
			for _, s := range j.res.Segments {
				s.Track = idx
				s.StartMS += j.offset
				s.EndMS += j.offset
				for k := range s.Words {
					s.Words[k].StartMS += j.offset
					s.Words[k].EndMS += j.offset
				}
				segs = append(segs, s)
			}
		}
		if segs == nil {
			sort.SliceStable(words, func(i, k int) bool { return words[i].StartMS < words[k].StartMS })
			segs = Segments(idx, words, a.cfg.PauseMS, a.cfg.MaxSegmentMS)
		}
		res.Insights.Transcript = append(res.Insights.Transcript, segs...)
	}
	res.Run.State = glasshouse.JobDone
	res.Run.DurationMS = time.Since(start).Milliseconds()
	res.Insights.Analyzers = []glasshouse.AnalyzerRun{res.Run}
	a.log.LogAttrs(ctx, slog.LevelDebug, "transcribed", slog.Int("streams", len(indexes)), slog.Int("chunks", len(jobs)),
		slog.Int("segments", len(res.Insights.Transcript)), slog.Duration("took", time.Since(start)))
	return res, nil
}

// audioStreams lists the indexes of the audio streams of the input: from
// the asset's probe if it has one, otherwise by running ffprobe. If ffprobe
// cannot tell, stream 0 is assumed.
func (a *Analyzer) audioStreams(ctx context.Context, in glasshouse.Input) ([]int, error) {
	if in.Asset != nil && in.Asset.Probe != nil {
		var idx []int
		for _, s := range in.Asset.Probe.Streams {
			if s.Type == "audio" {
				idx = append(idx, s.Index)
			}
		}
		return idx, nil
	}
	out, err := media.Run(ctx, a.cfg.Limits, "ffprobe", "-v", "error", "-select_streams", "a",
		"-show_entries", "stream=index", "-of", "csv=p=0", in.Path)
	if err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("speech.Analyze: probe: %w", err)
		}
		a.log.Warn("ffprobe failed; assuming one audio stream at index 0", "err", err)
		return []int{0}, nil
	}
	var idx []int
	for _, line := range strings.Fields(string(out)) {
		n, err := strconv.Atoi(strings.Trim(line, ","))
		if err == nil {
			idx = append(idx, n)
		}
	}
	return idx, nil
}
