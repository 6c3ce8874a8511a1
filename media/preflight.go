package media

import (
	"bytes"
	"encoding/json"
	"fmt"
	"image"
	"image/gif"
	"image/jpeg"
	"image/png"
	"io"
	"strings"
	"time"

	"github.com/glasshouse/glasshouse"
)

// PreflightLimits bound what ingest accepts, checked from headers and
// ffprobe's metadata before anything is decoded. Zero fields take the
// defaults of DefaultPreflight.
type PreflightLimits struct {
	MaxImagePixels int64         // width*height of a still image
	MaxVideoPixels int64         // width*height of any video stream's frame
	MaxDuration    time.Duration // audio and video
	MaxStreams     int           // streams in one container
}

// DefaultPreflight: 100 megapixel images, 8K video (7680x4320 and a little
// more for odd aspect ratios), 24 hours, 64 streams.
var DefaultPreflight = PreflightLimits{
	MaxImagePixels: MaxPixels,
	MaxVideoPixels: 8192 * 4320,
	MaxDuration:    24 * time.Hour,
	MaxStreams:     64,
}

func (l PreflightLimits) withDefaults() PreflightLimits {
	d := DefaultPreflight
	if l.MaxImagePixels > 0 {
		d.MaxImagePixels = l.MaxImagePixels
	}
	if l.MaxVideoPixels > 0 {
		d.MaxVideoPixels = l.MaxVideoPixels
	}
	if l.MaxDuration > 0 {
		d.MaxDuration = l.MaxDuration
	}
	if l.MaxStreams > 0 {
		d.MaxStreams = l.MaxStreams
	}
	return d
}

// PreflightHeader reads the picture size from the header of a JPEG, PNG or
// GIF (head: the first bytes of the file) without decoding pixels, and
// refuses pictures over l.MaxImagePixels as decompression bombs. Other
// types pass (their size comes from ffprobe in Preflight).
func PreflightHeader(head []byte, mimeType string, l PreflightLimits) error {
	const op = "media.PreflightHeader"
	l = l.withDefaults()
	var decodeConfig func(io.Reader) (image.Config, error)
	switch mimeType {
	case "image/jpeg":
		decodeConfig = jpeg.DecodeConfig
	case "image/png", "image/apng":
		decodeConfig = png.DecodeConfig
	case "image/gif":
		decodeConfig = gif.DecodeConfig
	default:
		return nil
	}
	cfg, err := decodeConfig(bytes.NewReader(head))
	if err != nil {
		// The header may lie beyond head (JPEG with large EXIF): ffprobe
		// and Validate judge the file then.
		return nil
	}
	return checkImagePixels(op, int64(cfg.Width), int64(cfg.Height), l.MaxImagePixels)
}

func checkImagePixels(op string, w, h, limit int64) error {
	if w < 0 || h < 0 {
		return glasshouse.Errorf(op, glasshouse.ErrCorrupt, "picture size %dx%d is negative", w, h)
	}
	if w > 0 && h > limit/w {
		return glasshouse.Errorf(op, glasshouse.ErrTooLarge,
			"picture is %dx%d pixels, over the limit of %d pixels (refused before decoding, as a possible decompression bomb)", w, h, limit)
	}
	return nil
}

// Preflight checks ffprobe's metadata (read from headers, nothing decoded)
// against l before Validate decodes anything: the picture size of images,
// every video stream's frame size, the duration of audio and video and the
// number of streams. Errors are ErrTooLarge and name the limit.
func Preflight(pi *glasshouse.ProbeInfo, kind glasshouse.MediaKind, l PreflightLimits) error {
	const op = "media.Preflight"
	if pi == nil {
		return glasshouse.Errorf(op, glasshouse.ErrInvalid, "no metadata to check")
	}
	l = l.withDefaults()
	if len(pi.Streams) > l.MaxStreams {
		return glasshouse.Errorf(op, glasshouse.ErrTooLarge, "file has %d streams, more than the limit of %d", len(pi.Streams), l.MaxStreams)
	}
	if kind == glasshouse.KindImage {
		return checkImagePixels(op, int64(pi.Width), int64(pi.Height), l.MaxImagePixels)
	}
	for _, s := range pi.Streams {
		if s.Type != "video" {
			continue
		}
		w, h := int64(s.Width), int64(s.Height)
		if w < 0 || h < 0 {
			return glasshouse.Errorf(op, glasshouse.ErrCorrupt, "video stream %d has a negative size %dx%d", s.Index, w, h)
		}
		if w > 0 && h > l.MaxVideoPixels/w {
			return glasshouse.Errorf(op, glasshouse.ErrTooLarge, "video stream %d is %dx%d, over the limit of %d pixels a frame", s.Index, w, h, l.MaxVideoPixels)
		}
	}
	if kind == glasshouse.KindAudio || kind == glasshouse.KindVideo {
		if pi.DurationMS < 0 {
			return glasshouse.Errorf(op, glasshouse.ErrCorrupt, "negative duration %d ms", pi.DurationMS)
		}
		if pi.DurationMS > l.MaxDuration.Milliseconds() {
			return glasshouse.Errorf(op, glasshouse.ErrTooLarge, "%s lasts %.0f seconds, longer than the limit of %s", kind,
				float64(pi.DurationMS)/1000, l.MaxDuration)
		}
	}
	return nil
}

// ParseProbe turns ffprobe's JSON output (-print_format json -show_format
// -show_streams) into ProbeInfo. Malformed output is ErrCorrupt.
func ParseProbe(out []byte) (*glasshouse.ProbeInfo, error) {
	var raw ffprobeOut
	if err := json.Unmarshal(out, &raw); err != nil {
		return nil, glasshouse.E("media.ParseProbe", glasshouse.ErrCorrupt, err, "unreadable ffprobe output")
	}
	return convertProbe(&raw), nil
}

// TypeAllowed reports whether mimeType matches one of the patterns of allow
// ("video/mp4", "image/*", "*"); an empty allow list allows everything.
func TypeAllowed(mimeType string, allow []string) bool {
	if len(allow) == 0 {
		return true
	}
	for _, p := range allow {
		p = strings.ToLower(strings.TrimSpace(p))
		switch {
		case p == "*" || p == "*/*" || p == mimeType:
			return true
		case strings.HasSuffix(p, "/*") && strings.HasPrefix(mimeType, strings.TrimSuffix(p, "*")):
			return true
		}
	}
	return false
}

// CheckTypeAllowed returns an ErrUnsupported error naming the type and the
// allow list when mimeType is not allowed.
func CheckTypeAllowed(mimeType string, allow []string) error {
	if TypeAllowed(mimeType, allow) {
		return nil
	}
	return glasshouse.Errorf("media.CheckTypeAllowed", glasshouse.ErrUnsupported,
		"media type %s is not allowed here (allowed: %s)", mimeType, strings.Join(allow, ", "))
}

// KnownType reports whether glasshouse can ingest mimeType at all.
func KnownType(mimeType string) bool { _, ok := mediaTypes[mimeType]; return ok }

// CheckAllowList refuses an allow list with patterns that match nothing
// glasshouse knows (a typo would otherwise refuse every upload).
func CheckAllowList(allow []string) error {
	for _, p := range allow {
		p = strings.ToLower(strings.TrimSpace(p))
		ok := p == "*" || p == "*/*"
		for mt := range mediaTypes {
			if ok {
				break
			}
			ok = TypeAllowed(mt, []string{p})
		}
		if !ok {
			return fmt.Errorf("media type pattern %q matches no supported type (e.g. video/mp4, image/*, audio/*)", p)
		}
	}
	return nil
}
