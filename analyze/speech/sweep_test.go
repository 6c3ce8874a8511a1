package speech

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/glasshouse/glasshouse"
	"github.com/glasshouse/glasshouse/media"
)

// sweepConfigs are the decoder settings compared by TestDecoderSweep.
var sweepConfigs = []struct {
	name string
	args []string
}{
	{"default", DefaultDecoderArgs()},
	{"fast", FastDecoderArgs()},
	{"fast fwdflat-no", append(FastDecoderArgs(), "-fwdflat", "no")},
}

// TestDecoderSweep measures WER and speed of decoder settings on the speech
// test sets. It is slow, so it runs only with GLASSHOUSE_SPEECH_SWEEP=1:
//
//	GLASSHOUSE_SPEECH_SWEEP=1 go test ./analyze/speech -run TestDecoderSweep -v -timeout 30m
func TestDecoderSweep(t *testing.T) {
	if os.Getenv("GLASSHOUSE_SPEECH_SWEEP") == "" {
		t.Skip("set GLASSHOUSE_SPEECH_SWEEP=1 to run the decoder sweep")
	}
	requireSphinx(t)
	var dirs []string
	for _, d := range []string{sharedSpeechDir(), filepath.Join(psTestData, "librivox")} {
		if _, err := os.Stat(d); err == nil {
			dirs = append(dirs, d)
		}
	}
	ctx := context.Background()
	long, longRef := longLibrivox(t)
	only := os.Getenv("GLASSHOUSE_SPEECH_SWEEP_ONLY")
	t.Logf("| settings | set | WER | words | audio s | wall s | x real time (wall) | CPU s | x real time per core (CPU) |")
	for _, c := range sweepConfigs {
		if only != "" && !strings.Contains(c.name, only) {
			continue
		}
		for _, conc := range []int{1} {
			a, err := New(Config{Decoder: c.args, Concurrency: conc})
			if err != nil {
				t.Fatal(err)
			}
			for _, d := range dirs {
				cpu0 := childCPU()
				rep, err := EvalDir(ctx, a, d)
				if err != nil {
					t.Fatal(err)
				}
				cpu := childCPU() - cpu0
				t.Logf("| %s | %s | %.3f | %d | %.1f | %.2f | %.2f | %.2f | %.2f |", c.name, filepath.Base(d), rep.WER, rep.RefWords, rep.AudioSec, rep.WallSec, rep.Speed, cpu.Seconds(), rep.AudioSec/cpu.Seconds())
			}
		}
		if long == "" {
			continue
		}
		for _, conc := range []int{1, 2} {
			a, err := New(Config{Decoder: c.args, Concurrency: conc})
			if err != nil {
				t.Fatal(err)
			}
			cpu0 := childCPU()
			t0 := time.Now()
			res, err := a.Analyze(ctx, glasshouse.Input{Asset: &glasshouse.Asset{Kind: glasshouse.KindAudio}, Path: long, WorkDir: t.TempDir()})
			if err != nil {
				t.Fatal(err)
			}
			wall := time.Since(t0)
			cpu := childCPU() - cpu0
			e, n := WordErrors(longRef, TranscriptText(res.Insights.Transcript))
			audio, _ := wavSeconds(long)
			t.Logf("| %s | long x%d procs | %.3f | %d | %.1f | %.2f | %.2f | %.2f | %.2f |", c.name, conc, float64(e)/float64(n), n, audio, wall.Seconds(), audio/wall.Seconds(), cpu.Seconds(), audio/cpu.Seconds())
		}
	}
}

// childCPU returns the user+system CPU time of waited-for child processes.
func childCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_CHILDREN, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// longLibrivox builds ~99 s of real read speech (the five librivox
// recordings of pocketsphinx-testdata, four times over) and its reference.
func longLibrivox(t testing.TB) (path, ref string) {
	dir := filepath.Join(psTestData, "librivox")
	truth, err := LoadTruth(dir)
	if err != nil {
		return "", ""
	}
	var list, refs []string
	for _, id := range []string{"0870", "0880", "0890", "0920", "0930"} {
		p := filepath.Join(dir, "sense_and_sensibility_01_austen_64kb-"+id+".wav")
		list = append(list, "file '"+p+"'")
		refs = append(refs, truth[p])
	}
	tmp := t.TempDir()
	lf := filepath.Join(tmp, "list.txt")
	if err := os.WriteFile(lf, []byte(strings.Join(list, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(tmp, "long.wav")
	if _, err := media.Run(context.Background(), media.Limits{}, "ffmpeg", "-nostdin", "-v", "error", "-y",
		"-stream_loop", "3", "-f", "concat", "-safe", "0", "-i", lf, "-ac", "1", "-ar", "16000", "-c:a", "pcm_s16le", out); err != nil {
		t.Fatal(err)
	}
	one := strings.Join(refs, " ")
	return out, strings.Join([]string{one, one, one, one}, " ")
}
