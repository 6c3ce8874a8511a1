package media

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/gif"
	"image/jpeg"
	"image/png"
	"io"
	"os"
	"strings"

	"github.com/glasshouse/glasshouse"
)

// MaxPixels is the largest image Validate accepts (100 megapixels): larger
// ones are refused before decoding, as decompression bombs.
const MaxPixels = 100_000_000

// goDecodeMaxPixels bounds the images decoded inside this process; larger
// (still acceptable) ones are decoded by ffmpeg under the memory cap.
const goDecodeMaxPixels = 40_000_000

// Validate decodes the first validateSeconds of audio and video, and the
// last validateTail seconds of files longer than validateTailFromMS.
const (
	validateSeconds    = "5"
	validateTail       = "-2"
	validateTailFromMS = 5000
)

// Validate proves that the file at path decodes as kind. Images are decoded
// completely (JPEG and PNG with Go's decoders, the rest by ffmpeg, where any
// decoder error counts), after their size is checked against MaxPixels.
// Audio and video need at least one audio or video stream, and their first
// 5 seconds and (if longer) their last 2 seconds must decode without ffmpeg
// logging an error: that catches uploads cut short, which ffmpeg otherwise
// decodes up to the cut without failing. pi may be nil; it is then probed.
//
// Errors: ErrCorrupt for a truncated or undecodable file, ErrTooLarge for a
// picture over MaxPixels, ErrUnsupported for a file with nothing to play.
func Validate(ctx context.Context, l Limits, path string, kind glasshouse.MediaKind, pi *glasshouse.ProbeInfo) error {
	const op = "media.Validate"
	if kind == glasshouse.KindImage {
		return validateImage(ctx, l, path, pi)
	}
	if kind != glasshouse.KindAudio && kind != glasshouse.KindVideo {
		return glasshouse.Errorf(op, glasshouse.ErrInvalid, "unknown media kind %q", kind)
	}
	if pi == nil {
		var err error
		if pi, err = Probe(ctx, l, path); err != nil {
			return fmt.Errorf("%s: %w", op, err)
		}
	}
	if !hasAV(pi) {
		return glasshouse.Errorf(op, glasshouse.ErrUnsupported, "file (%s) has no audio or video stream", pi.Format)
	}
	if msg, err := decodeCheck(ctx, l, path, true, "-t", validateSeconds); err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("%s: %w", op, ctx.Err())
		}
		return glasshouse.E(op, glasshouse.ErrCorrupt, err, "the first "+validateSeconds+" seconds do not decode (corrupt or truncated)"+suffix(msg))
	}
	// A file cut short in transfer still starts well: decode its end too.
	if pi.DurationMS > validateTailFromMS {
		if msg, err := decodeCheck(ctx, l, path, true, "-sseof", validateTail); err != nil {
			if ctx.Err() != nil {
				return fmt.Errorf("%s: %w", op, ctx.Err())
			}
			return glasshouse.E(op, glasshouse.ErrCorrupt, err, "the end of the file does not decode (truncated or corrupt)"+suffix(msg))
		}
	}
	return nil
}

func validateImage(ctx context.Context, l Limits, path string, pi *glasshouse.ProbeInfo) error {
	const op = "media.Validate"
	head, err := readHead(path, SniffLen)
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	mt, kind, err := Sniff(head)
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	if kind != glasshouse.KindImage {
		return glasshouse.Errorf(op, glasshouse.ErrInvalid, "file is %s, not an image", mt)
	}
	var decodeConfig func(io.Reader) (image.Config, error)
	var decode func(io.Reader) (image.Image, error)
	switch mt {
	case "image/jpeg":
		decodeConfig, decode = jpeg.DecodeConfig, jpeg.Decode
	case "image/png":
		decodeConfig, decode = png.DecodeConfig, png.Decode
	case "image/gif":
		// Animated GIFs can hold many frames: decode them in ffmpeg, under
		// the memory cap, rather than all at once in this process.
		decodeConfig = gif.DecodeConfig
	}
	if decodeConfig != nil {
		f, err := os.Open(path)
		if err != nil {
			return openErr(op, path, err)
		}
		defer f.Close()
		cfg, err := decodeConfig(bufio.NewReader(f))
		if err != nil {
			return glasshouse.E(op, glasshouse.ErrCorrupt, err, mt+" header is corrupt or truncated")
		}
		if err := checkPixels(op, cfg.Width, cfg.Height); err != nil {
			return err
		}
		if decode != nil && cfg.Width*cfg.Height <= goDecodeMaxPixels {
			if _, err := f.Seek(0, io.SeekStart); err != nil {
				return fmt.Errorf("%s: seek: %w", op, err)
			}
			_, err := decode(bufio.NewReader(f))
			var jerr jpeg.UnsupportedError
			var perr png.UnsupportedError
			switch {
			case err == nil:
				return nil
			case errors.As(err, &jerr), errors.As(err, &perr):
				// A variant Go does not decode (e.g. arithmetic-coded
				// JPEG): let ffmpeg judge it.
			case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
				return glasshouse.E(op, glasshouse.ErrCorrupt, err, mt+" is truncated")
			default:
				// Go reports a cut-off JPEG as bad Huffman data as often as EOF.
				return glasshouse.E(op, glasshouse.ErrCorrupt, err, mt+" is truncated or corrupt")
			}
		}
	} else {
		if pi == nil {
			if pi, err = Probe(ctx, l, path); err != nil {
				return fmt.Errorf("%s: %w", op, err)
			}
		}
		if pi.Width == 0 || pi.Height == 0 {
			return glasshouse.Errorf(op, glasshouse.ErrCorrupt, "%s has no picture size", mt)
		}
		if err := checkPixels(op, pi.Width, pi.Height); err != nil {
			return err
		}
	}
	if msg, err := decodeCheck(ctx, l, path, true); err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("%s: %w", op, ctx.Err())
		}
		return glasshouse.E(op, glasshouse.ErrCorrupt, err, mt+" is truncated or corrupt"+suffix(msg))
	}
	return nil
}

func checkPixels(op string, w, h int) error {
	if int64(w)*int64(h) > MaxPixels {
		return glasshouse.Errorf(op, glasshouse.ErrTooLarge, "image is %dx%d (%.0f megapixels), over the %d megapixel limit", w, h, float64(w)*float64(h)/1e6, MaxPixels/1_000_000)
	}
	return nil
}

func suffix(msg string) string {
	if msg == "" {
		return ""
	}
	return " (" + msg + ")"
}

// decodeCheck decodes path with ffmpeg into the null muxer. With strict,
// any error the decoder logs fails the check (ffmpeg shrugs off a truncated
// JPEG or GIF otherwise). It returns the first error line ffmpeg printed.
func decodeCheck(ctx context.Context, l Limits, path string, strict bool, inputOpts ...string) (string, error) {
	args := []string{"-nostdin", "-hide_banner", "-v", "error", "-xerror"}
	args = append(args, inputOpts...)
	args = append(args, "-i", fileArg(path), "-f", "null", "-")
	cmd, cancel := Command(ctx, l, "ffmpeg", args...)
	defer cancel()
	var stderr bytes.Buffer
	cmd.Stderr = &tailBuffer{max: 4096, buf: &stderr}
	err := cmd.Run()
	msg := firstLine(stderr.String())
	if err != nil {
		return msg, fmt.Errorf("ffmpeg decode: %w", err)
	}
	if strict && msg != "" {
		return msg, errors.New("ffmpeg decode: decoder reported errors")
	}
	return "", nil
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	return strings.TrimSpace(s)
}
