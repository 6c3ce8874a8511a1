// Package vision holds what the image analyzers (labels, faces) share: the
// ONNX Runtime environment and session loading, image preprocessing, and
// box geometry (IoU, non-maximum suppression, peak finding).
//
// Models and the ONNX Runtime library are provisioned into one directory by
// models/provision.sh (default .models at the repository root); Open takes
// that directory.
//
// ONNX Runtime keeps one environment per process (onnxruntime_go holds it in
// package variables). Open initialises it on first use and counts
// references; Close releases a reference and destroys the environment when
// the last Runtime is closed. Opening from several goroutines, or twice, is
// safe. All Runtimes of a process must use the same libonnxruntime.so: Open
// with a second, different library file fails while the first is in use.
package vision

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"

	ort "github.com/yalue/onnxruntime_go"

	"github.com/glasshouse/glasshouse"
)

// LibraryName is the ONNX Runtime shared library Open loads from the models
// directory.
const LibraryName = "libonnxruntime.so"

// ortState mirrors the process-global environment of onnxruntime_go. It is
// the only package-level mutable state, and it exists because the library's
// own state is process-global: every access holds ortMu.
var (
	ortMu   sync.Mutex
	ortRefs int
	ortLib  string
)

// Runtime is an initialised ONNX Runtime plus the directory models are
// loaded from. It is safe for concurrent use.
type Runtime struct {
	dir string

	mu     sync.Mutex
	closed bool
}

// Open initialises ONNX Runtime from modelsDir/libonnxruntime.so (once per
// process, see the package doc) and returns a Runtime that loads models from
// modelsDir. A missing directory or library gives glasshouse.ErrNotExist
// with a message naming the provisioning command.
func Open(modelsDir string) (*Runtime, error) {
	const op = "vision.Open"
	dir, err := filepath.Abs(modelsDir)
	if err != nil {
		return nil, glasshouse.E(op, glasshouse.ErrInvalid, err, "models directory")
	}
	lib := filepath.Join(dir, LibraryName)
	if _, err := os.Stat(lib); err != nil {
		return nil, glasshouse.E(op, glasshouse.ErrNotExist, err,
			fmt.Sprintf("ONNX Runtime library missing; run models/provision.sh %s", modelsDir))
	}
	ortMu.Lock()
	defer ortMu.Unlock()
	if ortRefs > 0 {
		if ortLib != lib {
			return nil, glasshouse.Errorf(op, glasshouse.ErrConflict,
				"ONNX Runtime already initialised from %s, cannot load %s in the same process", ortLib, lib)
		}
		ortRefs++
		return &Runtime{dir: dir}, nil
	}
	if ort.IsInitialized() {
		// Someone else in this process initialised the library directly;
		// share it but never destroy it.
		ortRefs = 2
		ortLib = lib
		return &Runtime{dir: dir}, nil
	}
	ort.SetSharedLibraryPath(lib)
	if err := ort.InitializeEnvironment(ort.WithLogLevelError()); err != nil {
		return nil, glasshouse.E(op, glasshouse.ErrUnavailable, err, "initialise ONNX Runtime from "+lib)
	}
	ortRefs = 1
	ortLib = lib
	return &Runtime{dir: dir}, nil
}

// Close releases the Runtime. The ONNX Runtime environment is destroyed
// when the last open Runtime of the process is closed; sessions must be
// closed first. Closing twice is a no-op.
func (r *Runtime) Close() error {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return nil
	}
	r.closed = true
	r.mu.Unlock()
	ortMu.Lock()
	defer ortMu.Unlock()
	ortRefs--
	if ortRefs > 0 {
		return nil
	}
	ortLib = ""
	if err := ort.DestroyEnvironment(); err != nil {
		return fmt.Errorf("vision.Close: destroy ONNX Runtime environment: %w", err)
	}
	return nil
}

// Dir returns the models directory.
func (r *Runtime) Dir() string { return r.dir }

// Path returns the path of a file in the models directory.
func (r *Runtime) Path(name string) string { return filepath.Join(r.dir, name) }

// Session is a loaded ONNX model. Run is safe for concurrent use (ONNX
// Runtime sessions are), so one Session serves many goroutines.
type Session struct {
	Path   string // model file
	SHA256 string // hex digest of the model file

	inputs  []string
	outputs []string
	s       *ort.DynamicAdvancedSession
}

// SessionOptions tunes a session. The zero value is what the analyzers use.
type SessionOptions struct {
	// IntraOpThreads is the number of threads one Run may use; 0 means 1.
	// Parallelism comes from running frames concurrently (bounded by the
	// analyzers' Workers), not from threads inside one run.
	IntraOpThreads int
}

// NewSession loads the model file name from the models directory with the
// given input and output names. A missing file gives glasshouse.ErrNotExist.
func (r *Runtime) NewSession(ctx context.Context, name string, inputs, outputs []string, o SessionOptions) (*Session, error) {
	const op = "vision.NewSession"
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	r.mu.Lock()
	closed := r.closed
	r.mu.Unlock()
	if closed {
		return nil, glasshouse.Errorf(op, glasshouse.ErrInvalid, "runtime is closed")
	}
	path := r.Path(name)
	sum, err := FileSHA256(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, glasshouse.E(op, glasshouse.ErrNotExist, err,
				fmt.Sprintf("model %s missing; run models/provision.sh %s", name, r.dir))
		}
		return nil, glasshouse.E(op, glasshouse.ErrUnavailable, err, "read model "+name)
	}
	opts, err := ort.NewSessionOptions()
	if err != nil {
		return nil, glasshouse.E(op, glasshouse.ErrUnavailable, err, "session options")
	}
	defer opts.Destroy()
	threads := o.IntraOpThreads
	if threads <= 0 {
		threads = 1
	}
	if err := opts.SetIntraOpNumThreads(threads); err != nil {
		return nil, glasshouse.E(op, glasshouse.ErrUnavailable, err, "set intra-op threads")
	}
	if err := opts.SetInterOpNumThreads(1); err != nil {
		return nil, glasshouse.E(op, glasshouse.ErrUnavailable, err, "set inter-op threads")
	}
	s, err := ort.NewDynamicAdvancedSession(path, inputs, outputs, opts)
	if err != nil {
		return nil, glasshouse.E(op, glasshouse.ErrCorrupt, err, "load model "+name)
	}
	return &Session{Path: path, SHA256: sum, inputs: inputs, outputs: outputs, s: s}, nil
}

// Output is one output tensor of a run, copied out of ONNX Runtime.
type Output struct {
	Shape []int64
	Data  []float32
}

// Run runs the model on one float32 input tensor and returns the outputs in
// the order of the session's output names. ctx is checked before the run
// (a run itself is not interruptible; runs are short).
func (s *Session) Run(ctx context.Context, t *Tensor) ([]Output, error) {
	const op = "vision.Session.Run"
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	in, err := ort.NewTensor(ort.NewShape(t.Shape...), t.Data)
	if err != nil {
		return nil, glasshouse.E(op, glasshouse.ErrInvalid, err, "input tensor")
	}
	defer in.Destroy()
	outs := make([]ort.Value, len(s.outputs))
	if err := s.s.Run([]ort.Value{in}, outs); err != nil {
		return nil, fmt.Errorf("%s: %s: %w", op, filepath.Base(s.Path), err)
	}
	res := make([]Output, len(outs))
	for i, v := range outs {
		ft, ok := v.(*ort.Tensor[float32])
		if !ok {
			for _, v := range outs {
				if v != nil {
					v.Destroy()
				}
			}
			return nil, glasshouse.Errorf(op, glasshouse.ErrCorrupt, "output %s is not float32", s.outputs[i])
		}
		res[i] = Output{Shape: append([]int64(nil), ft.GetShape()...), Data: append([]float32(nil), ft.GetData()...)}
	}
	for _, v := range outs {
		v.Destroy()
	}
	return res, nil
}

// Close frees the session.
func (s *Session) Close() error {
	if s == nil || s.s == nil {
		return nil
	}
	err := s.s.Destroy()
	s.s = nil
	if err != nil {
		return fmt.Errorf("vision.Session.Close: %w", err)
	}
	return nil
}

// FileSHA256 returns the hex SHA-256 of a file.
func FileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("hash %s: %w", path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// ModelsEnv names the environment variable that overrides DefaultModelsDir.
const ModelsEnv = "GLASSHOUSE_MODELS"

// DefaultModelsDir returns $GLASSHOUSE_MODELS if set, else .models in the
// nearest directory at or above the working directory that holds go.mod
// (the repository root during development and tests), else ".models".
func DefaultModelsDir() string {
	if d := os.Getenv(ModelsEnv); d != "" {
		return d
	}
	dir, err := os.Getwd()
	if err != nil {
		return ".models"
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return filepath.Join(dir, ".models")
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return ".models"
		}
		dir = parent
	}
}

// LoadModel opens the session of an analyzer's model and describes it for
// the status page. A nil rt or a model that fails to load is not an error:
// the returned ModelInfo has Available=false and the Problem, the session is
// nil, and the analyzer reports itself unavailable.
func LoadModel(rt *Runtime, info glasshouse.ModelInfo, file string, inputs, outputs []string, log *slog.Logger) (*Session, glasshouse.ModelInfo) {
	if rt == nil {
		info.Problem = "ONNX Runtime is not available (vision.Open failed or was not called); run models/provision.sh"
		return nil, info
	}
	info.Path = rt.Path(file)
	s, err := rt.NewSession(context.Background(), file, inputs, outputs, SessionOptions{})
	if err != nil {
		info.Problem = err.Error()
		if log != nil {
			log.Warn("model unavailable", "model", info.Name, "err", err)
		}
		return nil, info
	}
	info.SHA256 = s.SHA256
	info.Available = true
	return s, info
}
