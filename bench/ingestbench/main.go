// Command ingestbench measures ingest throughput of one large media file
// into the embedded default (file:// blobs + SQLite), as a ratio to
// `cp` + `sha256sum` of the same file in the same run, and the peak RSS of
// the glasshouse process (children included).
//
//	go run ./bench/ingestbench -size 1GiB
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

func main() {
	size := flag.String("size", "1GiB", "size of the test file (e.g. 256MiB, 1GiB)")
	dir := flag.String("dir", "", "scratch folder (default: a temp folder on the same disk as the data)")
	keep := flag.Bool("keep", false, "keep the scratch folder")
	s3 := flag.Bool("s3", false, "ingest into S3 (versitygw on loopback, built by scripts/setup.sh) and compare with minio-go FPutObject of the same file to the same server")
	flag.Parse()
	want, err := parseSize(*size)
	if err != nil {
		fail(err)
	}
	ctx := context.Background()
	scratch := *dir
	if scratch == "" {
		scratch, err = os.MkdirTemp(".", ".ingestbench-*")
		if err != nil {
			fail(err)
		}
	}
	if !*keep {
		defer os.RemoveAll(scratch)
	}
	bin := filepath.Join(scratch, "glasshouse")
	run(ctx, "go", "build", "-o", bin, "./cmd/glasshouse")
	media := filepath.Join(scratch, "big.mkv")
	makeMedia(ctx, scratch, media, want)
	st, _ := os.Stat(media)
	n := st.Size()
	fmt.Printf("file: %s, %.2f GiB (video, stream-copied loops of a high-bitrate clip)\n", media, float64(n)/(1<<30))

	if *s3 {
		benchS3(ctx, bin, scratch, media, n)
		return
	}
	base1 := timeCmd(ctx, "sh", "-c", fmt.Sprintf("cp %q %q/copy && sync %q/copy && sha256sum %q/copy >/dev/null", media, scratch, scratch, scratch))
	os.Remove(filepath.Join(scratch, "copy"))
	ing, rss := ingest(ctx, bin, filepath.Join(scratch, "data"), media)
	base2 := timeCmd(ctx, "sh", "-c", fmt.Sprintf("cp %q %q/copy && sync %q/copy && sha256sum %q/copy >/dev/null", media, scratch, scratch, scratch))
	os.Remove(filepath.Join(scratch, "copy"))
	base := (base1 + base2) / 2
	mb := float64(n) / (1 << 20)
	fmt.Printf("%-34s %8s %10s\n", "run", "seconds", "MiB/s")
	fmt.Printf("%-34s %8.2f %10.1f\n", "baseline cp+sync+sha256sum (mean)", base.Seconds(), mb/base.Seconds())
	fmt.Printf("%-34s %8.2f %10.1f\n", "glasshouse ingest (file://+sqlite)", ing.Seconds(), mb/ing.Seconds())
	fmt.Printf("throughput ratio ingest/baseline: %.2f (1.0 = as fast as cp+sha256sum)\n", base.Seconds()/ing.Seconds())
	fmt.Printf("peak RSS of glasshouse ingest (children included): %.1f MiB\n", float64(rss)/1024)
}

func ingest(ctx context.Context, bin, data, file string, extra ...string) (time.Duration, int64) {
	cmd := exec.CommandContext(ctx, bin, append(append([]string{"ingest", "--no-progress", "--data", data}, extra...), file)...)
	cmd.Stderr = os.Stderr
	start := time.Now()
	out, err := cmd.Output()
	d := time.Since(start)
	if err != nil {
		fail(fmt.Errorf("ingest: %w: %s", err, out))
	}
	if !strings.Contains(string(out), "1 stored") {
		fail(fmt.Errorf("ingest did not store the file: %s", out))
	}
	ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	return d, ru.Maxrss
}

// makeMedia writes a valid video of about want bytes: a 10 s high-bitrate
// clip, stream-copied in a loop.
func makeMedia(ctx context.Context, dir, out string, want int64) {
	clip := filepath.Join(dir, "clip.mkv")
	run(ctx, "ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc2=size=1280x720:rate=25:duration=10",
		"-vf", "noise=alls=60:allf=t", "-c:v", "mpeg2video", "-q:v", "2", "-g", "25", clip)
	st, err := os.Stat(clip)
	if err != nil {
		fail(err)
	}
	loops := int((want+st.Size()-1)/st.Size()) - 1
	if loops < 0 {
		loops = 0
	}
	run(ctx, "ffmpeg", "-v", "error", "-y", "-stream_loop", strconv.Itoa(loops), "-i", clip, "-c", "copy", out)
	os.Remove(clip)
}

func timeCmd(ctx context.Context, name string, args ...string) time.Duration {
	start := time.Now()
	run(ctx, name, args...)
	return time.Since(start)
}

func run(ctx context.Context, name string, args ...string) {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Stderr = os.Stderr
	if err := cmd.Run(); err != nil {
		fail(fmt.Errorf("%s %v: %w", name, args, err))
	}
}

func parseSize(s string) (int64, error) {
	mult := int64(1)
	for _, u := range []struct {
		suf string
		m   int64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}, {"G", 1 << 30}, {"M", 1 << 20}} {
		if strings.HasSuffix(s, u.suf) {
			mult, s = u.m, strings.TrimSuffix(s, u.suf)
			break
		}
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return 0, fmt.Errorf("bad size %q", s)
	}
	return int64(v * float64(mult)), nil
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "ingestbench:", err)
	os.Exit(1)
}
