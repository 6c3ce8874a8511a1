package speech

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/glasshouse/glasshouse"
	"github.com/glasshouse/glasshouse/media"
)

// sphinx runs pocketsphinx_continuous, one process per chunk.
type sphinx struct {
	cfg           *Config
	bin           string
	hmm, lm, dict string

	once sync.Once
	info glasshouse.ModelInfo
}

func newSphinx(cfg *Config) *sphinx {
	s := &sphinx{cfg: cfg, bin: cfg.Binary, hmm: cfg.HMM, lm: cfg.LM, dict: cfg.Dict}
	if s.bin == "" {
		s.bin = "pocketsphinx_continuous"
	}
	dir := cfg.ModelDir
	if dir == "" {
		dir = DefaultModelDir
	}
	if s.hmm == "" {
		s.hmm = filepath.Join(dir, "en-us")
	}
	if s.lm == "" {
		s.lm = filepath.Join(dir, "en-us.lm.bin")
	}
	if s.dict == "" {
		s.dict = filepath.Join(dir, "cmudict-en-us.dict")
	}
	return s
}

// model checks the program and model files once, and reports them with
// the Debian package versions and a SHA-256 over the model files.
func (s *sphinx) model() glasshouse.ModelInfo {
	s.once.Do(func() { s.info = s.probeModel() })
	return s.info
}

func (s *sphinx) probeModel() glasshouse.ModelInfo {
	info := glasshouse.ModelInfo{Name: "pocketsphinx", Path: s.hmm}
	var missing []string
	if _, err := exec.LookPath(s.bin); err != nil {
		missing = append(missing, "program "+s.bin+" (Debian package pocketsphinx)")
	}
	files, err := modelFiles(s.hmm, s.lm, s.dict)
	if err != nil {
		missing = append(missing, err.Error()+" (Debian package pocketsphinx-en-us)")
	}
	ver := debVersion("pocketsphinx")
	mver := debVersion("pocketsphinx-en-us")
	info.Name = fmt.Sprintf("pocketsphinx %s %s (%s, lm %s, dict %s)", ver, filepath.Base(s.hmm), modelKind(s.hmm), filepath.Base(s.lm), filepath.Base(s.dict))
	info.Source = "Debian pocketsphinx " + ver + ", pocketsphinx-en-us " + mver
	if len(missing) > 0 {
		info.Problem = "missing " + strings.Join(missing, "; ")
		return info
	}
	sum, err := hashFiles(files)
	if err != nil {
		info.Problem = "cannot read model: " + err.Error()
		return info
	}
	info.SHA256 = sum
	info.Available = true
	return info
}

// modelKind reads the -model line of the acoustic model's feat.params
// ("ptm", "cont", "semi"); "unknown" if absent.
func modelKind(hmm string) string {
	b, err := os.ReadFile(filepath.Join(hmm, "feat.params"))
	if err != nil {
		return "unknown model type"
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) == 2 && f[0] == "-model" {
			return f[1] + " acoustic model"
		}
	}
	return "unknown model type"
}

// debVersion asks dpkg for the installed version of pkg; "unknown" if it
// cannot tell.
func debVersion(pkg string) string {
	ctx := context.Background()
	out, err := media.Run(ctx, media.Limits{Timeout: 10 * time.Second, MaxBytes: 1 << 30}, "dpkg-query", "-W", "-f=${Version}", pkg)
	v := strings.TrimSpace(string(out))
	if err != nil || v == "" {
		return "unknown"
	}
	return v
}

// modelFiles lists the files the model hash covers, in hash order: the
// acoustic model directory's regular files sorted by name, then the
// language model, then the dictionary.
func modelFiles(hmm, lm, dict string) ([]string, error) {
	ents, err := os.ReadDir(hmm)
	if err != nil {
		return nil, fmt.Errorf("acoustic model directory %s", hmm)
	}
	var files []string
	for _, e := range ents {
		if e.Type().IsRegular() {
			files = append(files, filepath.Join(hmm, e.Name()))
		}
	}
	sort.Strings(files)
	for _, need := range []string{"mdef", "means", "variances", "transition_matrices"} {
		if _, err := os.Stat(filepath.Join(hmm, need)); err != nil {
			return nil, fmt.Errorf("acoustic model file %s", filepath.Join(hmm, need))
		}
	}
	for _, p := range []string{lm, dict} {
		st, err := os.Stat(p)
		if err != nil || !st.Mode().IsRegular() {
			return nil, fmt.Errorf("model file %s", p)
		}
		files = append(files, p)
	}
	return files, nil
}

// hashFiles returns the hex SHA-256 of the files' contents concatenated in
// order; the same as `cat FILES... | sha256sum`.
func hashFiles(files []string) (string, error) {
	h := sha256.New()
	for _, p := range files {
		f, err := os.Open(p)
		if err != nil {
			return "", err
		}
		_, err = io.Copy(h, f)
		f.Close()
		if err != nil {
			return "", fmt.Errorf("hash %s: %w", p, err)
		}
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func (s *sphinx) args(wav string) []string {
	args := []string{"-infile", wav, "-time", "yes",
		"-hmm", s.hmm, "-lm", s.lm, "-dict", s.dict}
	dec := s.cfg.Decoder
	if dec == nil {
		dec = FastDecoderArgs()
	}
	return append(args, dec...)
}

func (s *sphinx) transcribe(ctx context.Context, wav string) (chunkResult, error) {
	out, err := media.Run(ctx, s.cfg.Limits, s.bin, s.args(wav)...)
	if err != nil {
		return chunkResult{}, fmt.Errorf("pocketsphinx: %w", err)
	}
	return chunkResult{Words: parseSphinx(out)}, nil
}

// parseSphinx reads the output of pocketsphinx_continuous -time yes: per
// utterance a hypothesis line, then one line per word "word start end
// posterior" with times in seconds. Fillers (<s>, </s>, <sil>, [NOISE],
// ++NOISE++ ...) are dropped and alternate-pronunciation suffixes such as
// "(2)" removed.
//
// Confidence: pocketsphinx prints the word's posterior probability from
// the lattice (exp of its log posterior), already a probability; it is
// clamped to [0, 1] because rounding can print 1.000100. Without the
// bestpath pass there is no lattice and pocketsphinx prints 1 for every
// word.
func parseSphinx(out []byte) []glasshouse.Word {
	var words []glasshouse.Word
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) != 4 {
			continue
		}
		start, err1 := strconv.ParseFloat(f[1], 64)
		end, err2 := strconv.ParseFloat(f[2], 64)
		conf, err3 := strconv.ParseFloat(f[3], 64)
		if err1 != nil || err2 != nil || err3 != nil {
			continue
		}
		w := cleanWord(f[0])
		if w == "" {
			continue
		}
		words = append(words, glasshouse.Word{
			Text:       w,
			StartMS:    int64(math.Round(start * 1000)),
			EndMS:      int64(math.Round(end * 1000)),
			Confidence: clamp01(conf),
		})
	}
	return words
}

// cleanWord returns the word without its pronunciation-variant suffix, or
// "" for fillers.
func cleanWord(w string) string {
	if w == "" || w[0] == '<' || w[0] == '[' || w[0] == '+' {
		return ""
	}
	if i := strings.IndexByte(w, '('); i > 0 && strings.HasSuffix(w, ")") {
		w = w[:i]
	}
	return w
}

func clamp01(x float64) float64 {
	switch {
	case math.IsNaN(x) || x < 0:
		return 0
	case x > 1:
		return 1
	}
	return x
}
