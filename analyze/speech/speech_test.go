package speech

import (
	"context"
	"errors"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/glasshouse/glasshouse"
	"github.com/glasshouse/glasshouse/media"
)

// psTestData is where Debian's pocketsphinx-testdata puts its recordings.
const psTestData = "/usr/share/pocketsphinx/test/data"

// sharedSpeechDir is ../shared/testdata/speech relative to the repo root.
func sharedSpeechDir() string {
	wd, _ := os.Getwd()
	for d := wd; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return filepath.Join(filepath.Dir(d), "shared", "testdata", "speech")
		}
		if filepath.Dir(d) == d {
			return ""
		}
	}
}

func requireSphinx(t testing.TB) *Analyzer {
	t.Helper()
	a, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	if m := a.Model(); !m.Available {
		t.Skipf("pocketsphinx unavailable: %s", m.Problem)
	}
	return a
}

// flite synthesises text into a 16 kHz mono WAV with ffmpeg's flite source
// (Debian's ffmpeg is built with libflite); the test is skipped if it is not.
func flite(t testing.TB, dir, name, text, voice string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if _, err := media.Run(context.Background(), media.Limits{}, "ffmpeg", "-nostdin", "-v", "error", "-y",
		"-f", "lavfi", "-i", "flite=text='"+text+"':voice="+voice, "-ac", "1", "-ar", "16000", "-c:a", "pcm_s16le", p); err != nil {
		t.Skipf("ffmpeg cannot synthesise speech (flite): %v", err)
	}
	return p
}

func ffmpeg(t testing.TB, args ...string) {
	t.Helper()
	if _, err := media.Run(context.Background(), media.Limits{}, "ffmpeg", append([]string{"-nostdin", "-v", "error", "-y"}, args...)...); err != nil {
		t.Fatal(err)
	}
}

func analyze(t testing.TB, a *Analyzer, path string, probe *glasshouse.ProbeInfo) *glasshouse.Result {
	t.Helper()
	res, err := a.Analyze(context.Background(), glasshouse.Input{
		Asset: &glasshouse.Asset{ID: "a1", Tenant: "t1", Kind: glasshouse.KindAudio, Probe: probe}, Path: path, WorkDir: t.TempDir(),
	})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// checkWords asserts that the words of every track have plausible times:
// start <= end, inside the audio, starts non-decreasing, confidences in
// [0, 1], and segments that span their words.
func checkWords(t *testing.T, segs []glasshouse.TranscriptSegment, durMS int64) {
	t.Helper()
	last := map[int]int64{}
	for _, s := range segs {
		if len(s.Words) == 0 {
			t.Errorf("segment %q has no words", s.Text)
			continue
		}
		if s.StartMS != s.Words[0].StartMS || s.EndMS != s.Words[len(s.Words)-1].EndMS {
			t.Errorf("segment %d-%d does not span its words", s.StartMS, s.EndMS)
		}
		if s.Confidence < 0 || s.Confidence > 1 {
			t.Errorf("segment confidence %v", s.Confidence)
		}
		for _, w := range s.Words {
			if w.StartMS > w.EndMS || w.StartMS < 0 || w.EndMS > durMS+100 {
				t.Errorf("word %q has implausible time %d-%d (audio %d ms)", w.Text, w.StartMS, w.EndMS, durMS)
			}
			if w.StartMS < last[s.Track] {
				t.Errorf("word %q starts at %d, before the previous word (%d)", w.Text, w.StartMS, last[s.Track])
			}
			last[s.Track] = w.StartMS
			if w.Confidence < 0 || w.Confidence > 1 {
				t.Errorf("word %q confidence %v", w.Text, w.Confidence)
			}
			if strings.ContainsAny(w.Text, "<>[]()+") {
				t.Errorf("filler or variant marker left in word %q", w.Text)
			}
		}
	}
}

func TestWER(t *testing.T) {
	for _, c := range []struct {
		ref, hyp string
		want     float64
	}{
		{"go forward ten meters", "go forward ten meters", 0},
		{"Go forward, ten meters!", "go forward ten meters", 0},
		{"go forward ten meters", "go forward", 0.5},                // 2 deletions
		{"go forward ten meters", "go for word ten meters", 0.5},    // 1 sub + 1 ins
		{"go forward ten meters", "", 1},                            // all deleted
		{"a b", "x y z w", 2},                                       // 2 subs + 2 ins
		{"", "", 0},                                                 // nothing to say
		{"", "noise", 1},                                            // insertion on silence
		{"don't stop", "dont stop", 0.5},                            // apostrophes kept
		{"ten of clubs", "ten of clubs ten", 1.0 / 3},               // insertion
		{"eight of spades four of clubs", "eight spades four", 0.5}, // 3 deletions / 6
	} {
		if got := WER(c.ref, c.hyp); math.Abs(got-c.want) > 1e-9 {
			t.Errorf("WER(%q, %q) = %v, want %v", c.ref, c.hyp, got, c.want)
		}
	}
}

func TestParseSphinx(t *testing.T) {
	out := []byte(`go forward ten meters
<s> 0.390 0.460 1.000100
go 0.470 0.640 0.997303
forward(2) 0.650 1.170 0.996705
<sil> 1.170 1.180 1.000000
[NOISE] 1.180 1.200 0.5
++BREATH++ 1.200 1.210 0.5
ten 1.210 1.530 0.236604
meters 1.540 2.120 0.947616
</s> 2.130 2.610 1.000000
`)
	words := parseSphinx(out)
	want := []glasshouse.Word{
		{Text: "go", StartMS: 470, EndMS: 640, Confidence: 0.997303},
		{Text: "forward", StartMS: 650, EndMS: 1170, Confidence: 0.996705},
		{Text: "ten", StartMS: 1210, EndMS: 1530, Confidence: 0.236604},
		{Text: "meters", StartMS: 1540, EndMS: 2120, Confidence: 0.947616},
	}
	if len(words) != len(want) {
		t.Fatalf("got %d words %+v, want %d", len(words), words, len(want))
	}
	for i := range want {
		if words[i] != want[i] {
			t.Errorf("word %d = %+v, want %+v", i, words[i], want[i])
		}
	}
	if w := parseSphinx([]byte("hello 0.1 0.2 1.0001\n")); len(w) != 1 || w[0].Confidence != 1 {
		t.Errorf("confidence not clamped: %+v", w)
	}
}

func TestSegments(t *testing.T) {
	w := func(s string, a, b int64) glasshouse.Word {
		return glasshouse.Word{Text: s, StartMS: a, EndMS: b, Confidence: 0.5}
	}
	words := []glasshouse.Word{
		w("one", 0, 300), w("two", 350, 700), // gap 50
		w("three", 1500, 1800), // gap 800 > 600: new segment
		w("four", 1900, 2200), w("five", 2300, 2600), w("six", 2700, 3000),
	}
	segs := Segments(3, words, 600, 1200)
	var texts []string
	for _, s := range segs {
		texts = append(texts, s.Text)
		if s.Track != 3 {
			t.Errorf("track %d", s.Track)
		}
		if s.EndMS-s.StartMS > 1200 {
			t.Errorf("segment %q is %d ms, over the cap", s.Text, s.EndMS-s.StartMS)
		}
	}
	if got, want := strings.Join(texts, "|"), "one two|three four five|six"; got != want {
		t.Errorf("segments %q, want %q", got, want)
	}
	if segs[0].Confidence != 0.5 || segs[0].StartMS != 0 || segs[0].EndMS != 700 {
		t.Errorf("first segment %+v", segs[0])
	}
}

func TestPlanCuts(t *testing.T) {
	// 100 s of loud audio with 0.5 s pauses every 7 s.
	e := make([]float64, 10000)
	for i := range e {
		e[i] = 1e6
		if i%700 >= 650 {
			e[i] = 1
		}
	}
	cuts := planCuts(e, 3000, 800, 2)
	if len(cuts) < 3 {
		t.Fatalf("cuts %v: want pieces of at most 30 s", cuts)
	}
	prev := 0
	for _, c := range cuts {
		if c-prev > 3000 || c <= prev {
			t.Errorf("piece %d-%d longer than 30 s or empty", prev, c)
		}
		if e[c] != 1 {
			t.Errorf("cut at frame %d is not in a pause", c)
		}
		prev = c
	}
	if len(e)-prev > 3000 {
		t.Errorf("last piece too long")
	}
	// 20 s, 2 parts, pieces at least 8 s: one cut, in the pause nearest
	// before the middle.
	if cuts := planCuts(e[:2000], 3000, 800, 2); len(cuts) != 1 || cuts[0] < 600 || cuts[0] > 1000 || e[cuts[0]] != 1 {
		t.Errorf("20 s in 2 parts: cuts %v", cuts)
	}
	// 10 s, 2 parts, pieces at least 8 s: no cut.
	if cuts := planCuts(e[:1000], 3000, 800, 2); len(cuts) != 0 {
		t.Errorf("10 s: cuts %v, want none", cuts)
	}
}

func TestAnalyzerBasics(t *testing.T) {
	a, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	if a.Name() != "speech" || a.Version() == "" {
		t.Errorf("name %q version %q", a.Name(), a.Version())
	}
	if !a.Accepts(glasshouse.KindAudio) || !a.Accepts(glasshouse.KindVideo) || a.Accepts(glasshouse.KindImage) {
		t.Error("Accepts: want audio and video only")
	}
	if _, err := New(Config{Engine: "nope"}); !errors.Is(err, glasshouse.ErrInvalid) {
		t.Errorf("unknown engine: %v", err)
	}
	if _, err := New(Config{Engine: EngineOpenAI}); !errors.Is(err, glasshouse.ErrInvalid) {
		t.Errorf("openai without URL: %v", err)
	}
}

func TestModelInfo(t *testing.T) {
	a := requireSphinx(t)
	m := a.Model()
	t.Logf("model %+v", m)
	if len(m.SHA256) != 64 || !strings.HasPrefix(m.Name, "pocketsphinx ") || !strings.Contains(m.Source, "pocketsphinx-en-us") {
		t.Errorf("model info %+v", m)
	}
	// The checksum is what `cat hmm/* lm dict | sha256sum` prints.
	files, err := modelFiles(filepath.Join(DefaultModelDir, "en-us"), filepath.Join(DefaultModelDir, "en-us.lm.bin"), filepath.Join(DefaultModelDir, "cmudict-en-us.dict"))
	if err != nil {
		t.Fatal(err)
	}
	if sh, err := exec.LookPath("sh"); err == nil {
		out, err := media.Run(context.Background(), media.Limits{}, sh, append([]string{"-c", `cat "$@" | sha256sum`, "sh"}, files...)...)
		if err == nil && !strings.HasPrefix(string(out), m.SHA256) {
			t.Errorf("model sha %s, sha256sum says %s", m.SHA256, out)
		}
	}
	if b := New2(t); b.Model().SHA256 != m.SHA256 {
		t.Error("model hash differs between analyzers")
	}
}

// New2 builds a second default analyzer.
func New2(t *testing.T) *Analyzer {
	a, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func TestMissingModel(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "no-such-model")
	a, err := New(Config{ModelDir: bad})
	if err != nil {
		t.Fatal(err)
	}
	m := a.Model()
	if m.Available || !strings.Contains(m.Problem, bad) {
		t.Errorf("model with bad dir: %+v", m)
	}
	_, err = a.Analyze(context.Background(), glasshouse.Input{Asset: &glasshouse.Asset{Kind: glasshouse.KindAudio}, Path: "/nonexistent.wav", WorkDir: t.TempDir()})
	if !errors.Is(err, glasshouse.ErrUnavailable) || !strings.Contains(err.Error(), bad) {
		t.Errorf("Analyze with missing model: %v", err)
	}

	a, err = New(Config{Binary: "no-such-pocketsphinx"})
	if err != nil {
		t.Fatal(err)
	}
	if m := a.Model(); m.Available || !strings.Contains(m.Problem, "no-such-pocketsphinx") {
		t.Errorf("model with missing binary: %+v", m)
	}
	if _, err := a.Analyze(context.Background(), glasshouse.Input{Path: "/x.wav"}); !errors.Is(err, glasshouse.ErrUnavailable) {
		t.Errorf("Analyze with missing binary: %v", err)
	}
}

// TestSynthesised runs the real engine on speech that ffmpeg synthesises,
// so it needs no test data. Synthetic voices are hard for pocketsphinx:
// the bound is loose, the sentence words must mostly come through.
func TestSynthesised(t *testing.T) {
	a := requireSphinx(t)
	dir := t.TempDir()
	const ref = "go forward ten meters. turn left and stop at the red door"
	p := flite(t, dir, "s.wav", ref, "rms")
	res := analyze(t, a, p, nil)
	hyp := TranscriptText(res.Insights.Transcript)
	dur, _ := wavSeconds(p)
	checkWords(t, res.Insights.Transcript, int64(dur*1000))
	if w := WER(ref, hyp); w > 0.5 {
		t.Errorf("WER %.2f on %q (hyp %q)", w, ref, hyp)
	}
	if res.Run.Name != "speech" || res.Run.ModelSHA256 == "" || res.Run.State != glasshouse.JobDone || res.Asset != "a1" {
		t.Errorf("run %+v", res.Run)
	}
}

// TestMultiTrack builds a video with two different audio streams and checks
// that both are transcribed, each under its own stream index.
func TestMultiTrack(t *testing.T) {
	a := requireSphinx(t)
	dir := t.TempDir()
	ref1 := "turn left and stop at the red door"
	ref2 := "go forward ten meters"
	s1 := flite(t, dir, "1.wav", ref1, "rms")
	s2 := flite(t, dir, "2.wav", ref2, "rms")
	mkv := filepath.Join(dir, "two.mkv")
	ffmpeg(t, "-f", "lavfi", "-i", "testsrc2=size=160x120:rate=10:duration=4", "-i", s1, "-i", s2,
		"-map", "0:v", "-map", "1:a", "-map", "2:a", "-c:v", "mpeg4", "-c:a", "aac", "-shortest", mkv)
	for _, probe := range []*glasshouse.ProbeInfo{nil, {Streams: []glasshouse.Stream{{Index: 0, Type: "video"}, {Index: 1, Type: "audio"}, {Index: 2, Type: "audio"}}}} {
		res := analyze(t, a, mkv, probe)
		byTrack := map[int][]glasshouse.TranscriptSegment{}
		for _, s := range res.Insights.Transcript {
			byTrack[s.Track] = append(byTrack[s.Track], s)
		}
		if len(byTrack) != 2 || byTrack[1] == nil || byTrack[2] == nil {
			t.Fatalf("tracks %v, want 1 and 2", byTrack)
		}
		h1, h2 := TranscriptText(byTrack[1]), TranscriptText(byTrack[2])
		if WER(ref1, h1) >= WER(ref2, h1) || WER(ref2, h2) >= WER(ref1, h2) {
			t.Errorf("tracks mixed up: track 1 %q, track 2 %q", h1, h2)
		}
		checkWords(t, res.Insights.Transcript, 4000)
	}
}

// TestNoAudio: a video without sound gives an empty transcript, not an error.
func TestNoAudio(t *testing.T) {
	a := requireSphinx(t)
	p := filepath.Join(t.TempDir(), "silent.mp4")
	ffmpeg(t, "-f", "lavfi", "-i", "testsrc2=size=160x120:rate=10:duration=1", "-c:v", "mpeg4", p)
	res := analyze(t, a, p, nil)
	if len(res.Insights.Transcript) != 0 {
		t.Errorf("transcript of a silent video: %+v", res.Insights.Transcript)
	}
}

// TestChunkOffsets cuts audio into small chunks and checks that words of
// later chunks land at their place on the stream's timeline.
func TestChunkOffsets(t *testing.T) {
	requireSphinx(t)
	dir := t.TempDir()
	p1 := flite(t, dir, "1.wav", "turn left and stop at the red door", "rms")
	p2 := flite(t, dir, "2.wav", "go forward ten meters", "rms")
	long := filepath.Join(dir, "long.wav")
	// speech 1, 6 s of silence, speech 2 starting at 6 s + len(speech 1)
	ffmpeg(t, "-i", p1, "-f", "lavfi", "-t", "6", "-i", "anullsrc=r=16000:cl=mono", "-i", p2,
		"-filter_complex", "[0:a][1:a][2:a]concat=n=3:v=0:a=1", "-ac", "1", "-ar", "16000", "-c:a", "pcm_s16le", long)
	d1, _ := wavSeconds(p1)
	whole, err := New(Config{ChunkSec: 600})
	if err != nil {
		t.Fatal(err)
	}
	cut, err := New(Config{ChunkSec: 5, MinChunkSec: 2, Concurrency: 3})
	if err != nil {
		t.Fatal(err)
	}
	rw := analyze(t, whole, long, nil)
	rc := analyze(t, cut, long, nil)
	dur, _ := wavSeconds(long)
	checkWords(t, rc.Insights.Transcript, int64(dur*1000))
	var lateWords int
	for _, s := range rc.Insights.Transcript {
		for _, w := range s.Words {
			if w.StartMS >= int64((d1+5.5)*1000) {
				lateWords++
			}
		}
	}
	if lateWords < 2 {
		t.Errorf("want the second sentence's words after %.1f s; transcript %+v", d1+6, rc.Insights.Transcript)
	}
	ref := "turn left and stop at the red door go forward ten meters"
	hw, hc := TranscriptText(rw.Insights.Transcript), TranscriptText(rc.Insights.Transcript)
	if WER(ref, hc) > WER(ref, hw)+0.2 {
		t.Errorf("chunked WER %.2f (%q) much worse than whole %.2f (%q)", WER(ref, hc), hc, WER(ref, hw), hw)
	}
}

// TestAccuracy scores the engine on real recordings with ground truth:
// the shared test set (../shared/testdata/speech) and the recordings of
// Debian's pocketsphinx-testdata. Thresholds are the measured WER of the
// default settings plus a margin.
func TestAccuracy(t *testing.T) {
	a := requireSphinx(t)
	for _, c := range []struct {
		dir    string
		maxWER float64
	}{
		{sharedSpeechDir(), 0.38},                     // measured 0.280 (7/25)
		{filepath.Join(psTestData, "cards"), 0.43},    // measured 0.333 (7/21)
		{filepath.Join(psTestData, "librivox"), 0.45}, // measured 0.352 (25/71)
	} {
		if _, err := os.Stat(c.dir); err != nil {
			t.Logf("skip %s: %v", c.dir, err)
			continue
		}
		rep, err := EvalDir(context.Background(), a, c.dir)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%s: WER %.3f (%d errors / %d words), %.1f s audio in %.1f s (%.1fx real time, %d CPUs)",
			c.dir, rep.WER, rep.Errors, rep.RefWords, rep.AudioSec, rep.WallSec, rep.Speed, runtime.NumCPU())
		for _, f := range rep.Files {
			t.Logf("  %s WER %.2f ref %q hyp %q", f.Name, f.WER, f.Ref, f.Hyp)
		}
		if rep.WER > c.maxWER {
			t.Errorf("%s: WER %.3f over %.2f", c.dir, rep.WER, c.maxWER)
		}
		if len(rep.Files) == 0 || rep.RefWords == 0 {
			t.Errorf("%s: nothing evaluated", c.dir)
		}
		// word times on one recording
		p := rep.Files[0].Name
		res := analyze(t, a, filepath.Join(c.dir, p), nil)
		dur, _ := wavSeconds(filepath.Join(c.dir, p))
		checkWords(t, res.Insights.Transcript, int64(dur*1000))
	}
}

// BenchmarkSpeech reports audio seconds transcribed per wall second on
// ~99 s of real read speech (pocketsphinx-testdata librivox, looped), for
// the program's default decoder settings and for the fast settings, each
// with one process and with runtime.NumCPU() processes.
func BenchmarkSpeech(b *testing.B) {
	requireSphinx(b)
	long, _ := longLibrivox(b)
	if long == "" {
		long = filepath.Join(sharedSpeechDir(), "goforward.wav")
		if _, err := os.Stat(long); err != nil {
			b.Skip("no test audio (install pocketsphinx-testdata)")
		}
	}
	audio, err := wavSeconds(long)
	if err != nil {
		b.Fatal(err)
	}
	for _, c := range []struct {
		name string
		dec  []string
	}{{"default", DefaultDecoderArgs()}, {"fast", FastDecoderArgs()}} {
		for _, conc := range []int{1, runtime.NumCPU()} {
			b.Run(c.name+"/procs="+strconv.Itoa(conc), func(b *testing.B) {
				a, err := New(Config{Decoder: c.dec, Concurrency: conc})
				if err != nil {
					b.Fatal(err)
				}
				for i := 0; i < b.N; i++ {
					analyze(b, a, long, nil)
				}
				b.ReportMetric(audio*float64(b.N)/b.Elapsed().Seconds(), "audio-s/s")
			})
		}
	}
}
