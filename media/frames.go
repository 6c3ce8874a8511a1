package media

import (
	"bufio"
	"context"
	"fmt"
	"image"
	"io"
	"strconv"
)

// FrameFunc receives one decoded frame and its time in milliseconds. The
// image is reused between calls: copy it to keep it.
type FrameFunc func(tMS int64, img *image.RGBA) error

// Frames decodes path at fps frames per second (0: every frame), scaled
// down to at most maxW pixels wide (0: original size), and calls fn for each
// frame in order. It streams: memory holds one frame at a time.
func Frames(ctx context.Context, l Limits, path string, fps float64, maxW int, fn FrameFunc) error {
	vf := ""
	if fps > 0 {
		vf = "fps=" + strconv.FormatFloat(fps, 'f', -1, 64) + ":round=down"
	}
	if maxW > 0 {
		if vf != "" {
			vf += ","
		}
		vf += fmt.Sprintf("scale='min(%d,iw)':-2", maxW)
	}
	args := []string{"-nostdin", "-v", "error", "-i", fileArg(path), "-map", "0:V:0", "-an", "-sn"}
	if vf != "" {
		args = append(args, "-vf", vf)
	}
	args = append(args, "-vsync", "passthrough", "-f", "image2pipe", "-vcodec", "ppm", "-")
	cmd, cancel := Command(ctx, l, "ffmpeg", args...)
	defer cancel()
	out, err := cmd.StdoutPipe()
	if err != nil {
		return fmt.Errorf("media.Frames: %w", err)
	}
	var stderr tailBuffer
	stderr.max = 4096
	stderr.buf = new(bytesBuffer)
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("media.Frames: start ffmpeg: %w", err)
	}
	br := bufio.NewReaderSize(out, 1<<20)
	var img *image.RGBA
	var row []byte
	n := 0
	var cbErr error
	for {
		w, h, err := readPPMHeader(br)
		if err == io.EOF {
			break
		}
		if err != nil {
			cbErr = fmt.Errorf("media.Frames: %w", err)
			break
		}
		if img == nil || img.Rect.Dx() != w || img.Rect.Dy() != h {
			img = image.NewRGBA(image.Rect(0, 0, w, h))
			row = make([]byte, w*3)
		}
		for y := 0; y < h; y++ {
			if _, err := io.ReadFull(br, row); err != nil {
				cbErr = fmt.Errorf("media.Frames: short frame: %w", err)
				break
			}
			o := y * img.Stride
			for x := 0; x < w; x++ {
				img.Pix[o+4*x] = row[3*x]
				img.Pix[o+4*x+1] = row[3*x+1]
				img.Pix[o+4*x+2] = row[3*x+2]
				img.Pix[o+4*x+3] = 255
			}
		}
		if cbErr != nil {
			break
		}
		var t int64
		if fps > 0 {
			t = int64(float64(n) * 1000 / fps)
		}
		if err := fn(t, img); err != nil {
			cbErr = err
			break
		}
		n++
	}
	if cbErr != nil {
		cancel()
		_ = cmd.Wait()
		return cbErr
	}
	if err := cmd.Wait(); err != nil {
		return fmt.Errorf("media.Frames: ffmpeg: %w: %s", err, stderr.buf.String())
	}
	return nil
}

func readPPMHeader(br *bufio.Reader) (w, h int, err error) {
	var fields []int
	magic := make([]byte, 2)
	if _, err := io.ReadFull(br, magic); err != nil {
		if err == io.ErrUnexpectedEOF {
			return 0, 0, fmt.Errorf("truncated ppm header")
		}
		return 0, 0, err
	}
	if string(magic) != "P6" {
		return 0, 0, fmt.Errorf("unexpected frame format %q", magic)
	}
	for len(fields) < 3 {
		// skip whitespace and comments
		c, err := br.ReadByte()
		if err != nil {
			return 0, 0, fmt.Errorf("truncated ppm header: %w", err)
		}
		switch {
		case c == '#':
			if _, err := br.ReadString('\n'); err != nil {
				return 0, 0, err
			}
		case c >= '0' && c <= '9':
			v := int(c - '0')
			for {
				c, err = br.ReadByte()
				if err != nil {
					return 0, 0, err
				}
				if c < '0' || c > '9' {
					break
				}
				v = v*10 + int(c-'0')
			}
			fields = append(fields, v)
		}
	}
	if fields[2] != 255 {
		return 0, 0, fmt.Errorf("unsupported ppm maxval %d", fields[2])
	}
	return fields[0], fields[1], nil
}
