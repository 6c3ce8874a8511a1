package media

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/glasshouse/glasshouse"
)

// SceneCuts returns the times (ms from the start of the video) of the hard
// cuts in the first video stream of path: frames whose ffmpeg scene score
// (0..1, the change from the previous frame) is over threshold. Typical
// thresholds are 0.2 to 0.4; gradual transitions (fades, dissolves) are
// not found.
//
// Frames are scored at full size: decoding is nearly all the cost, and the
// score (SIMD sums of absolute differences) costs less than scaling the
// frames down first would (measured on 720p and 1080p H.264: scale=320 with
// the default bicubic filter added ~40% CPU, fast_bilinear ~0-40%).
func SceneCuts(ctx context.Context, l Limits, path string, threshold float64) ([]int64, error) {
	const op = "media.SceneCuts"
	if threshold <= 0 || threshold >= 1 || math.IsNaN(threshold) {
		return nil, glasshouse.Errorf(op, glasshouse.ErrInvalid, "threshold %v must be between 0 and 1", threshold)
	}
	if err := statInput(path); err != nil {
		return nil, openErr(op, path, err)
	}
	vf := fmt.Sprintf("setpts=PTS-STARTPTS,select='gt(scene,%s)',showinfo",
		strconv.FormatFloat(threshold, 'f', -1, 64))
	cmd, cancel := Command(ctx, l, "ffmpeg", "-nostdin", "-hide_banner", "-nostats", "-v", "info",
		"-i", fileArg(path), "-map", "0:V:0", "-an", "-sn", "-dn", "-vf", vf, "-f", "null", "-")
	defer cancel()
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("%s: start ffmpeg: %w", op, err)
	}
	var cuts []int64
	var other bytes.Buffer
	tail := &tailBuffer{max: 4096, buf: &other}
	sc := bufio.NewScanner(stderr)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if strings.Contains(line, "Parsed_showinfo") {
			if ms, ok := parsePTSTime(line); ok && ms > 0 {
				cuts = append(cuts, ms)
			}
			continue
		}
		tail.Write([]byte(line + "\n"))
	}
	if err := cmd.Wait(); err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("%s: %w", op, ctx.Err())
		}
		return nil, glasshouse.E(op, glasshouse.ErrCorrupt, fmt.Errorf("ffmpeg: %w: %s", err, lastLines(other.String(), 3)), "scene detection failed")
	}
	return cuts, nil
}

// parsePTSTime reads "pts_time:5.04" from a showinfo line, in ms.
func parsePTSTime(line string) (int64, bool) {
	i := strings.Index(line, "pts_time:")
	if i < 0 {
		return 0, false
	}
	f := strings.Fields(line[i+len("pts_time:"):])
	if len(f) == 0 {
		return 0, false
	}
	s, err := strconv.ParseFloat(f[0], 64)
	if err != nil || math.IsNaN(s) {
		return 0, false
	}
	return int64(math.Round(s * 1000)), true
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "; ")
}
