// Command pipelinebench measures how fast the whole analysis pipeline
// indexes video: media seconds per wall second, with wall and CPU time per
// analyzer, on a clip and on a longer clip made by looping it.
//
//	go run ./bench/pipelinebench [-in ../shared/testdata/video/briefing.mp4] [-loops 1,12]
//
// Analyzers run one after another, as `glasshouse serve` runs jobs by
// default (each analyzer uses every core inside), so the pipeline's wall
// time is the sum of the analyzers'.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/glasshouse/glasshouse"
	"github.com/glasshouse/glasshouse/analyze/faces"
	"github.com/glasshouse/glasshouse/analyze/keywords"
	"github.com/glasshouse/glasshouse/analyze/labels"
	"github.com/glasshouse/glasshouse/analyze/ocr"
	"github.com/glasshouse/glasshouse/analyze/probe"
	"github.com/glasshouse/glasshouse/analyze/shots"
	"github.com/glasshouse/glasshouse/analyze/speech"
	"github.com/glasshouse/glasshouse/analyze/vision"
	"github.com/glasshouse/glasshouse/blobstore"
	"github.com/glasshouse/glasshouse/media"
)

func main() {
	in := flag.String("in", "../shared/testdata/video/briefing.mp4", "video to index (generated if missing)")
	loopsFlag := flag.String("loops", "1,12", "comma-separated loop counts: 1 = the clip itself, 12 = twelve times as long")
	models := flag.String("models", vision.DefaultModelsDir(), "provisioned models folder")
	flag.Parse()
	ctx := context.Background()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	tmp, err := os.MkdirTemp("", "pipelinebench-*")
	check(err)
	defer os.RemoveAll(tmp)
	if _, err := os.Stat(*in); err != nil {
		*in = filepath.Join(tmp, "generated.mp4")
		generate(*in)
	}
	store, err := blobstore.Open(ctx, "mem://", log)
	check(err)
	lim := media.Limits{Timeout: time.Hour, MaxBytes: 4 << 30}
	var ans []glasshouse.Analyzer
	ans = append(ans, probe.New(lim), shots.New(lim, shots.Options{}))
	o, err := ocr.New(ocr.Config{})
	check(err)
	sp, err := speech.New(speech.Config{})
	check(err)
	ans = append(ans, o, sp)
	if rt, err := vision.Open(*models); err == nil {
		if l, err := labels.New(rt, labels.Config{}); err == nil && l.Model().Available {
			ans = append(ans, l)
		}
		if f, err := faces.New(rt, faces.Config{}); err == nil && f.Model().Available {
			ans = append(ans, f)
		}
	} else {
		fmt.Println("labels and faces skipped:", err)
	}
	kw := keywords.New()
	fmt.Printf("machine: %d cores (GOMAXPROCS %d)\n", runtime.NumCPU(), runtime.GOMAXPROCS(0))
	for _, ls := range strings.Split(*loopsFlag, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(ls))
		check(err)
		path := *in
		if n > 1 {
			path = filepath.Join(tmp, fmt.Sprintf("loop%d.mp4", n))
			run("ffmpeg", "-v", "error", "-y", "-stream_loop", strconv.Itoa(n-1), "-i", *in, "-c", "copy", path)
		}
		pi, err := media.Probe(ctx, lim, path)
		check(err)
		mt, kind, err := media.SniffFile(path)
		check(err)
		asset := &glasshouse.Asset{ID: "bench", Tenant: "bench", Name: filepath.Base(path), MediaType: mt, Kind: kind, Probe: pi}
		mediaS := float64(pi.DurationMS) / 1000
		fmt.Printf("\n%s: %.1f s, %dx%d\n", filepath.Base(path), mediaS, pi.Width, pi.Height)
		fmt.Printf("%-9s %9s %9s %9s %12s\n", "analyzer", "wall s", "cpu s", "cores", "media s/s")
		var totalWall, totalCPU float64
		prior := &glasshouse.Insights{}
		for _, an := range append(ans, glasshouse.Analyzer(kw)) {
			work, err := os.MkdirTemp(tmp, "work-*")
			check(err)
			c0 := cpu()
			start := time.Now()
			res, err := an.Analyze(ctx, glasshouse.Input{Asset: asset, Path: path, WorkDir: work, Blobs: store, Prior: prior})
			wall := time.Since(start).Seconds()
			c := cpu() - c0
			if err != nil {
				fmt.Printf("%-9s error: %v\n", an.Name(), err)
				continue
			}
			prior.Merge(&res.Insights)
			totalWall += wall
			totalCPU += c
			fmt.Printf("%-9s %9.2f %9.2f %9.2f %12.1f\n", an.Name(), wall, c, c/wall, mediaS/wall)
			os.RemoveAll(work)
		}
		fmt.Printf("%-9s %9.2f %9.2f %9.2f %12.2f   <- pipeline: %.2fx real time\n", "TOTAL", totalWall, totalCPU, totalCPU/totalWall, mediaS/totalWall, mediaS/totalWall)
	}
}

// cpu returns user+system seconds of this process and its waited children.
func cpu() float64 {
	var self, kids syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &self)
	syscall.Getrusage(syscall.RUSAGE_CHILDREN, &kids)
	tv := func(t syscall.Timeval) float64 { return float64(t.Sec) + float64(t.Usec)/1e6 }
	return tv(self.Utime) + tv(self.Stime) + tv(kids.Utime) + tv(kids.Stime)
}

func generate(out string) {
	font := "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"
	dt := func(s string) string {
		return "drawtext=fontfile=" + font + ":text='" + s + "':fontsize=48:fontcolor=white:box=1:boxcolor=black@0.8:x=(w-tw)/2:y=h-120"
	}
	run("ffmpeg", "-v", "error", "-y",
		"-f", "lavfi", "-i", "testsrc2=size=1280x720:rate=25:duration=5,"+dt("EVACUATION ROUTE NORTH"),
		"-f", "lavfi", "-i", "color=c=darkgreen:size=1280x720:rate=25:duration=5,"+dt("CITY COUNCIL MEETING"),
		"-f", "lavfi", "-i", "flite=text='the council will meet at noon to discuss the evacuation route':voice=slt",
		"-filter_complex", "[0:v][1:v]concat=n=2:v=1:a=0[v];[2:a]aresample=16000,apad,atrim=0:10[a]",
		"-map", "[v]", "-map", "[a]", "-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac", "-t", "10", out)
}

func run(name string, args ...string) {
	cmd := exec.Command(name, args...)
	cmd.Stderr = os.Stderr
	check(cmd.Run())
}

func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "pipelinebench:", err)
		os.Exit(1)
	}
}
