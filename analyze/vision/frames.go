package vision

import (
	"context"
	"errors"
	"fmt"
	"image"

	"golang.org/x/sync/errgroup"

	"github.com/glasshouse/glasshouse/media"
)

// FrameFunc handles one sampled frame: i is its index, tMS its media time.
// img belongs to the callee.
type FrameFunc func(ctx context.Context, i int, tMS int64, img *image.RGBA) error

var errStop = errors.New("stop")

// ForFrames decodes path with ffmpeg (through media.Frames, so under l's
// timeout and memory cap) and calls fn on each sampled frame, running at
// most workers calls at once (0 means 1). For a video, frames are sampled at
// fps; for an image (video false) only the first frame is used, at t=0.
// Frames are scaled down to at most maxW pixels wide (0: full size). It
// returns the number of frames handed to fn.
func ForFrames(ctx context.Context, l media.Limits, path string, video bool, fps float64, maxW, workers int, fn FrameFunc) (int, error) {
	if workers <= 0 {
		workers = 1
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(workers)
	n := 0
	rate := fps
	if !video {
		rate = 0
	}
	err := media.Frames(gctx, l, path, rate, maxW, func(tMS int64, img *image.RGBA) error {
		if err := gctx.Err(); err != nil {
			return err
		}
		if !video && n > 0 {
			return errStop
		}
		cp := &image.RGBA{Pix: append([]uint8(nil), img.Pix...), Stride: img.Stride, Rect: img.Rect}
		i := n
		n++
		g.Go(func() error { return fn(gctx, i, tMS, cp) })
		return nil
	})
	werr := g.Wait()
	if err != nil && !errors.Is(err, errStop) {
		if werr != nil && !errors.Is(werr, context.Canceled) {
			return n, werr
		}
		return n, fmt.Errorf("decode frames: %w", err)
	}
	return n, werr
}
