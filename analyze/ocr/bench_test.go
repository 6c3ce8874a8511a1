package ocr

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/glasshouse/glasshouse/media"
)

var benchCaptions = []string{
	"EVACUATION ROUTE NORTH", "CITY COUNCIL MEETING", "ROAD CLOSED AHEAD", "PUBLIC HEARING TONIGHT",
	"SHELTER AT CENTRAL LIBRARY", "WATER MAIN REPAIR", "BRIDGE OPEN AGAIN", "VOTE ON BUDGET",
	"SCHOOL BUS DELAYED", "STORM WARNING IN EFFECT", "PARK CLEANUP SATURDAY", "END OF BROADCAST",
}

// benchVideo writes a 60 s 1280x720 clip over bg with a new caption every
// 5 s (cached per background for the run).
func benchVideo(b *testing.B, dir, bg string) (string, []TruthText) {
	var vf []string
	var truth []TruthText
	for i, c := range benchCaptions {
		s, e := float64(i*5), float64(i*5+5)
		vf = append(vf, caption(c, s, e, 48))
		truth = append(truth, TruthText{StartS: s, EndS: e, Text: c})
	}
	p := filepath.Join(dir, strings.NewReplacer("=", "", ":", "", "/", "").Replace(bg)+".mp4")
	if _, err := os.Stat(p); err != nil {
		ffmpeg(b, "-f", "lavfi", "-i", bg+"s=1280x720:r=25:d=60", "-vf", strings.Join(vf, ","),
			"-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p", p)
	}
	return p, truth
}

// BenchmarkOCRVideo reads a 60 s 720p video with changing captions and
// reports media seconds per wall second, wall time per sampled frame and
// per frame sent to tesseract, and the mean caption CER.
//
//	go test ./analyze/ocr -run '^$' -bench OCRVideo -benchtime 1x
func BenchmarkOCRVideo(b *testing.B) {
	dir := b.TempDir()
	for _, bg := range []struct{ name, src string }{
		{"moving", "testsrc2="},
		{"still", "color=c=0x305070:"},
	} {
		for _, mode := range []struct {
			name string
			cfg  Config
		}{
			{"adaptive", Config{}},
			{"firstpass", Config{SecondPassMinChars: -1}},
			{"bothpasses", Config{SecondPassMinChars: 1 << 30}},
			{"noskip", Config{DiffThreshold: -1}},
		} {
			b.Run(bg.name+"/"+mode.name, func(b *testing.B) {
				path, truth := benchVideo(b, dir, bg.src)
				a := newAnalyzer(b, mode.cfg)
				b.ResetTimer()
				var st videoStats
				var cer float64
				for i := 0; i < b.N; i++ {
					texts, s, err := a.analyzeVideo(context.Background(), b.TempDir(), path, 60000, nil)
					if err != nil {
						b.Fatal(err)
					}
					st = s
					cer = 0
					for _, tt := range truth {
						best := 1.0
						for _, tx := range texts {
							if tx.EndMS > int64(tt.StartS*1000) && tx.StartMS < int64(tt.EndS*1000) {
								best = min(best, CER(tt.Text, tx.Text))
							}
						}
						cer += best / float64(len(truth))
					}
				}
				el := b.Elapsed().Seconds() / float64(b.N)
				b.ReportMetric(60/el, "media_s/wall_s")
				b.ReportMetric(el*1000/float64(st.Sampled), "ms/frame")
				b.ReportMetric(el*1000/float64(max(1, st.Read)), "ms/read_frame")
				b.ReportMetric(float64(st.Read), "frames_read")
				b.ReportMetric(float64(st.Passes), "tesseract_runs")
				b.ReportMetric(cer, "caption_cer")
			})
		}
	}
}

// BenchmarkFeed compares handing a 1280x720 frame to tesseract as PGM on
// stdin with writing a PNG file first.
//
//	go test ./analyze/ocr -run '^$' -bench Feed -benchtime 10x
func BenchmarkFeed(b *testing.B) {
	dir := b.TempDir()
	src := filepath.Join(dir, "f.png")
	ffmpeg(b, "-f", "lavfi", "-i", "color=c=0x305070:s=1280x720", "-frames:v", "1", "-vf", caption("CITY COUNCIL MEETING", 0, 10, 48), src)
	var g *image.Gray
	if err := media.Frames(context.Background(), media.Limits{}, src, 0, 0, func(_ int64, img *image.RGBA) error {
		g = toGrey(img)
		return nil
	}); err != nil {
		b.Fatal(err)
	}
	a := newAnalyzer(b, Config{})
	args := func(in string) []string {
		return []string{in, "stdout", "--psm", strconv.Itoa(a.cfg.PSM), "-l", a.cfg.Lang, "-c", "thresholding_method=2", "tsv"}
	}
	run := func(b *testing.B, in string, stdin []byte) {
		cmd, cancel := media.Command(context.Background(), media.Limits{Timeout: time.Minute, MaxBytes: 2 << 30}, a.cfg.Tesseract, args(in)...)
		defer cancel()
		cmd.Env = append(os.Environ(), "OMP_THREAD_LIMIT=1")
		if stdin != nil {
			cmd.Stdin = bytes.NewReader(stdin)
		}
		out, err := cmd.Output()
		if err != nil || !strings.Contains(string(out), "COUNCIL") {
			b.Fatalf("tesseract: %v %s", err, out)
		}
	}
	b.Run("stdin-pgm", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			run(b, "stdin", encodePGM(g))
		}
	})
	b.Run("file-png", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			p := filepath.Join(dir, fmt.Sprintf("in%d.png", i))
			f, err := os.Create(p)
			if err != nil {
				b.Fatal(err)
			}
			if err := png.Encode(f, g); err != nil {
				b.Fatal(err)
			}
			f.Close()
			run(b, p, nil)
		}
	})
	b.Run("file-pgm", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			p := filepath.Join(dir, fmt.Sprintf("in%d.pgm", i))
			if err := os.WriteFile(p, encodePGM(g), 0o644); err != nil {
				b.Fatal(err)
			}
			run(b, p, nil)
		}
	})
}
