// Command redactbench measures redaction throughput on 720p video, in
// frames per second, against the practical limit: a plain ffmpeg decode and
// encode of the same file with the same encoder settings, run in the same
// process, alternating, so that both see the same machine load.
//
//	go run ./bench/redactbench [-in ../shared/testdata/video/briefing.mp4] [-runs 2] [-loops 2]
//
// The redaction runs the default plan: every face detected (BlazeFace on
// every -every'th frame, with tiles, followed and interpolated in between),
// padded, solid fill, audio kept.
package main

import (
	"context"
	"flag"
	"fmt"
	"image"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/glasshouse/glasshouse"
	"github.com/glasshouse/glasshouse/analyze/faces"
	"github.com/glasshouse/glasshouse/analyze/vision"
	"github.com/glasshouse/glasshouse/media"
	"github.com/glasshouse/glasshouse/redact"
)

func main() {
	in := flag.String("in", "../shared/testdata/video/briefing.mp4", "720p video (a 720p test pattern is generated if missing)")
	runs := flag.Int("runs", 2, "runs of each, alternating; the median is reported")
	loops := flag.Int("loops", 2, "play the clip this many times in a row (longer runs, steadier figures)")
	every := flag.Int("every", 0, "detect faces on every Nth frame (0: the plan default)")
	fill := flag.String("fill", redact.FillSolid, "solid, blur or pixelate")
	models := flag.String("models", vision.DefaultModelsDir(), "provisioned models folder")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile of the redaction runs to this file")
	flag.Parse()
	ctx := context.Background()
	lim := media.Limits{Timeout: time.Hour, MaxBytes: 4 << 30}
	tmp, err := os.MkdirTemp("", "redactbench-*")
	check(err)
	defer os.RemoveAll(tmp)

	src := filepath.Join(tmp, "in.mp4")
	if _, err := os.Stat(*in); err != nil {
		fmt.Printf("%s missing: generating a 720p test pattern\n", *in)
		_, err := media.Run(ctx, lim, "ffmpeg", "-nostdin", "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc2=size=1280x720:rate=25:duration=10",
			"-f", "lavfi", "-i", "sine=frequency=440:duration=10", "-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest", src)
		check(err)
	} else {
		_, err := media.Run(ctx, lim, "ffmpeg", "-nostdin", "-v", "error", "-y", "-stream_loop", fmt.Sprint(*loops-1), "-i", *in, "-c", "copy", src)
		check(err)
	}
	pi, err := media.Probe(ctx, lim, src)
	check(err)
	if pi.Height != 720 {
		fmt.Printf("warning: the video is %dx%d, not 720p\n", pi.Width, pi.Height)
	}
	rt, err := vision.Open(*models)
	check(err)
	defer rt.Close()
	fa, err := faces.New(rt, faces.Config{Threshold: 0.5, NoTiles: true, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	check(err)
	defer fa.Close()
	if !fa.Model().Available {
		check(fmt.Errorf("faces model unavailable: %s", fa.Model().Problem))
	}
	r := redact.NewRenderer(redact.Config{Limits: lim, Detector: redact.DetectorFunc(func(ctx context.Context, img image.Image) ([]redact.Detection, error) {
		dets, err := fa.DetectImage(ctx, img)
		out := make([]redact.Detection, len(dets))
		for i, d := range dets {
			out[i] = redact.Detection{Box: d.Box, Score: d.Score}
		}
		return out, err
	})})
	as := &glasshouse.Asset{ID: "bench", Tenant: "bench", Name: "in.mp4", Kind: glasshouse.KindVideo, Probe: pi}
	plan := redact.Draft(as, nil)
	plan.Settings.Fill = *fill
	if *every > 0 {
		plan.Settings.DetectEvery = *every
	}
	frames := 0
	baseline := func() time.Duration {
		out := filepath.Join(tmp, "plain.mp4")
		args := []string{"-nostdin", "-v", "error", "-y", "-i", "file:" + src, "-map", "0:V:0", "-map", "0:a:0?"}
		args = append(args, redact.VideoCodecArgs...)
		args = append(args, "-c:a", "copy", "-movflags", "+faststart", "-f", "mp4", "file:"+out)
		t0 := time.Now()
		_, err := media.Run(ctx, lim, "ffmpeg", args...)
		check(err)
		return time.Since(t0)
	}
	var man *redact.Manifest
	redaction := func() time.Duration {
		dir, err := os.MkdirTemp(tmp, "r-*")
		check(err)
		defer os.RemoveAll(dir)
		t0 := time.Now()
		_, m, err := r.Render(ctx, redact.Input{Asset: as, Path: src, Plan: plan, OutDir: dir})
		check(err)
		d := time.Since(t0)
		frames, man = m.Frames, m
		return d
	}
	var base, red []time.Duration
	var cpuBase, cpuRed time.Duration
	for i := 0; i < *runs; i++ {
		c0 := cpuTime()
		base = append(base, baseline())
		c1 := cpuTime()
		cpuBase += c1 - c0
		if *cpuprofile != "" {
			f, err := os.Create(*cpuprofile)
			check(err)
			check(pprof.StartCPUProfile(f))
			red = append(red, redaction())
			pprof.StopCPUProfile()
			f.Close()
		} else {
			red = append(red, redaction())
		}
		cpuRed += cpuTime() - c1
	}
	mb, mr := median(base), median(red)
	fb, fr := float64(frames)/mb.Seconds(), float64(frames)/mr.Seconds()
	load, _ := os.ReadFile("/proc/loadavg")
	fmt.Printf("video: %s, %dx%d, %d frames at %.2f fps (%s of media)\n", filepath.Base(*in), pi.Width, pi.Height, frames, pi.FrameRate, time.Duration(pi.DurationMS)*time.Millisecond)
	fmt.Printf("encoder: %s\n", strings.Join(redact.VideoCodecArgs, " "))
	fmt.Printf("plan: faces on, detect every %d frames (tiles), fill %s, padding %.2f; %d detections run, %d face tracks\n",
		plan.Settings.DetectEvery, plan.Settings.Fill, plan.Settings.Padding, man.Detected, len(man.Faces))
	fmt.Printf("machine: %d CPUs, load average %s", runtime.NumCPU(), load)
	fmt.Printf("baseline ffmpeg decode+encode: %7.1f frames/s  (median of %d: %v)\n", fb, *runs, base)
	fmt.Printf("redaction:                     %7.1f frames/s  (median of %d: %v)\n", fr, *runs, red)
	fmt.Printf("ratio redaction/baseline: %.2f (goal >= 0.5)\n", fr/fb)
	fmt.Printf("CPU time per run (this process and its ffmpeg children): baseline %v, redaction %v; CPU ratio %.2f\n",
		(cpuBase / time.Duration(*runs)).Round(time.Millisecond), (cpuRed / time.Duration(*runs)).Round(time.Millisecond), cpuBase.Seconds()/cpuRed.Seconds())
}

func median(d []time.Duration) time.Duration {
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}

func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "redactbench:", err)
		os.Exit(1)
	}
}

// cpuTime is the user+system CPU time of this process and its waited-for
// children so far.
func cpuTime() time.Duration {
	var self, kids syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &self)
	_ = syscall.Getrusage(syscall.RUSAGE_CHILDREN, &kids)
	tv := func(t syscall.Timeval) time.Duration { return time.Duration(t.Nano()) }
	return tv(self.Utime) + tv(self.Stime) + tv(kids.Utime) + tv(kids.Stime)
}
