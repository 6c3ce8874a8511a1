package media

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/glasshouse/glasshouse"
)

// PosterMaxOffsetMS caps how far into a video the poster frame is taken.
const PosterMaxOffsetMS = 5000

// stillsBatch is how many seek points one ffmpeg process decodes.
const stillsBatch = 8

// jpegQuality is ffmpeg's -q:v for the JPEGs written (2 best .. 31 worst).
const jpegQuality = "3"

// Thumbnail renders a JPEG at most maxW pixels wide (never enlarged) that
// stands for the file: for a video, the frame at PosterTimeMS, turned as the
// video is meant to be shown; for audio, a picture of its waveform (maxW by
// maxW*9/16); for an image, the image scaled down and turned by its EXIF
// orientation. pi may be nil; it is then probed.
func Thumbnail(ctx context.Context, l Limits, path string, kind glasshouse.MediaKind, pi *glasshouse.ProbeInfo, maxW int) ([]byte, error) {
	if maxW <= 0 {
		return nil, glasshouse.Errorf("media.Thumbnail", glasshouse.ErrInvalid, "width %d must be positive", maxW)
	}
	return still(ctx, l, "media.Thumbnail", path, kind, pi, maxW)
}

// Poster renders a full-size JPEG that stands for the file: the frame at
// PosterTimeMS of a video, a 1280x720 waveform picture for audio, or the
// (oriented) image itself re-encoded as JPEG.
func Poster(ctx context.Context, l Limits, path string, kind glasshouse.MediaKind, pi *glasshouse.ProbeInfo) ([]byte, error) {
	return still(ctx, l, "media.Poster", path, kind, pi, 0)
}

// PosterTimeMS is where a video's poster frame is taken: at 10% of its
// duration, but no later than PosterMaxOffsetMS.
func PosterTimeMS(pi *glasshouse.ProbeInfo) int64 {
	if pi == nil {
		return 0
	}
	return min(pi.DurationMS/10, PosterMaxOffsetMS)
}

func still(ctx context.Context, l Limits, op, path string, kind glasshouse.MediaKind, pi *glasshouse.ProbeInfo, maxW int) ([]byte, error) {
	if err := statInput(path); err != nil {
		return nil, openErr(op, path, err)
	}
	scale := ""
	if maxW > 0 {
		scale = fmt.Sprintf("scale='min(%d,iw)':-2", maxW)
	}
	var out []byte
	var err error
	switch kind {
	case glasshouse.KindImage:
		// Some ffmpeg builds turn JPEGs by their EXIF orientation and some
		// do not: turn them here, the same everywhere.
		vf := scale
		var in []string
		if head, herr := readHead(path, 64<<10); herr == nil {
			if o := exifOrientation(head); o > 0 {
				in = []string{"-noautorotate"}
				vf = join(orientFilter(o), scale)
			}
		}
		out, err = jpegFrame(ctx, l, in, path, "0:V:0", vf)
	case glasshouse.KindVideo:
		if pi == nil {
			if pi, err = Probe(ctx, l, path); err != nil {
				return nil, fmt.Errorf("%s: %w", op, err)
			}
		}
		ss := []string{"-ss", msToSeconds(PosterTimeMS(pi))}
		out, err = jpegFrame(ctx, l, ss, path, "0:V:0", scale)
		if err == nil && len(out) == 0 {
			// The seek went past the last frame (a wrong duration): take the first.
			out, err = jpegFrame(ctx, l, nil, path, "0:V:0", scale)
		}
	case glasshouse.KindAudio:
		w := 1280
		if maxW > 0 {
			w = maxW
		}
		h := max(2, w*9/16/2*2)
		fc := fmt.Sprintf("[0:a:0]aformat=channel_layouts=mono,showwavespic=s=%dx%d:colors=0x7ab8ff,format=yuvj420p[w]", w, h)
		out, err = jpegFrame(ctx, l, nil, path, "", fc)
	default:
		return nil, glasshouse.Errorf(op, glasshouse.ErrInvalid, "unknown media kind %q", kind)
	}
	if err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("%s: %w", op, ctx.Err())
		}
		return nil, glasshouse.E(op, glasshouse.ErrCorrupt, err, "cannot render a picture of the "+string(kind))
	}
	if len(out) == 0 {
		return nil, glasshouse.Errorf(op, glasshouse.ErrCorrupt, "the %s yielded no picture", kind)
	}
	return out, nil
}

// jpegFrame runs ffmpeg to write one JPEG to standard output. With a map
// specifier, filter is a simple filter chain on that stream; without, it
// is a filter graph whose output is labelled [w].
func jpegFrame(ctx context.Context, l Limits, inputOpts []string, path, mapSpec, filter string) ([]byte, error) {
	args := []string{"-nostdin", "-hide_banner", "-v", "error"}
	args = append(args, inputOpts...)
	args = append(args, "-i", fileArg(path))
	if mapSpec != "" {
		args = append(args, "-map", mapSpec)
		if filter != "" {
			args = append(args, "-vf", filter)
		}
	} else {
		args = append(args, "-filter_complex", filter, "-map", "[w]")
	}
	args = append(args, "-frames:v", "1", "-q:v", jpegQuality, "-f", "image2pipe", "-c:v", "mjpeg", "-")
	return Run(ctx, l, "ffmpeg", args...)
}

func join(filters ...string) string {
	var nonEmpty []string
	for _, f := range filters {
		if f != "" {
			nonEmpty = append(nonEmpty, f)
		}
	}
	return strings.Join(nonEmpty, ",")
}

func msToSeconds(ms int64) string {
	return strconv.FormatFloat(float64(ms)/1000, 'f', 3, 64)
}

// Stills extracts the video frames at the given times (ms from the start)
// as JPEGs, each in one version per entry of widths (scaled to at most that
// width; 0 keeps the size). out[i][j] is the frame at timesMS[i] at
// widths[j]; it is nil when there is no frame at that time (past the end).
//
// It seeks rather than decoding the whole video: one ffmpeg process opens
// the file once per time, a few times per process, and each input decodes
// only from the key frame before its time.
func Stills(ctx context.Context, l Limits, path string, timesMS []int64, widths []int) ([][][]byte, error) {
	const op = "media.Stills"
	if len(widths) == 0 {
		return nil, glasshouse.Errorf(op, glasshouse.ErrInvalid, "no widths")
	}
	if err := statInput(path); err != nil {
		return nil, openErr(op, path, err)
	}
	dir, err := os.MkdirTemp("", "glasshouse-stills-")
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	defer os.RemoveAll(dir)
	out := make([][][]byte, len(timesMS))
	for start := 0; start < len(timesMS); start += stillsBatch {
		end := min(start+stillsBatch, len(timesMS))
		if err := stillsBatchRun(ctx, l, path, dir, timesMS[start:end], widths, out[start:end]); err != nil {
			if ctx.Err() != nil {
				return nil, fmt.Errorf("%s: %w", op, ctx.Err())
			}
			return nil, glasshouse.E(op, glasshouse.ErrCorrupt, err, "cannot extract frames")
		}
	}
	return out, nil
}

func stillsBatchRun(ctx context.Context, l Limits, path, dir string, times []int64, widths []int, out [][][]byte) error {
	args := []string{"-nostdin", "-hide_banner", "-v", "error", "-y"}
	for _, t := range times {
		args = append(args, "-ss", msToSeconds(max(t, 0)), "-i", fileArg(path))
	}
	var fc strings.Builder
	var outs []string
	for i := range times {
		fmt.Fprintf(&fc, "[%d:V:0]split=%d", i, len(widths))
		for j := range widths {
			fmt.Fprintf(&fc, "[s%d_%d]", i, j)
		}
		fc.WriteString(";")
		for j, w := range widths {
			if w > 0 {
				fmt.Fprintf(&fc, "[s%d_%d]scale='min(%d,iw)':-2[o%d_%d];", i, j, w, i, j)
			} else {
				fmt.Fprintf(&fc, "[s%d_%d]null[o%d_%d];", i, j, i, j)
			}
			name := filepath.Join(dir, fmt.Sprintf("%d_%d.jpg", i, j))
			_ = os.Remove(name)
			outs = append(outs, "-map", fmt.Sprintf("[o%d_%d]", i, j), "-frames:v", "1", "-q:v", jpegQuality,
				"-f", "image2", "-update", "1", "-c:v", "mjpeg", fileArg(name))
		}
	}
	args = append(args, "-filter_complex", strings.TrimSuffix(fc.String(), ";"))
	args = append(args, outs...)
	if _, err := Run(ctx, l, "ffmpeg", args...); err != nil {
		return err
	}
	for i := range times {
		out[i] = make([][]byte, len(widths))
		for j := range widths {
			b, err := os.ReadFile(filepath.Join(dir, fmt.Sprintf("%d_%d.jpg", i, j)))
			if errors.Is(err, os.ErrNotExist) || len(b) == 0 {
				out[i] = nil
				break
			}
			if err != nil {
				return err
			}
			out[i][j] = bytes.Clone(b)
		}
	}
	return nil
}
