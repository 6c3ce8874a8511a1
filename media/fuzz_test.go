package media

import (
	"bytes"
	"errors"
	"image"
	_ "image/gif"
	_ "image/jpeg"
	_ "image/png"
	"testing"
	"time"

	"github.com/glasshouse/glasshouse"
)

// FuzzParseProbe feeds ffprobe-shaped JSON to the parser and the result to
// Preflight: no panics, malformed JSON is ErrCorrupt, and what Preflight
// passes has non-negative sizes and duration within the limits.
func FuzzParseProbe(f *testing.F) {
	f.Add([]byte(`{"format":{"format_name":"mov,mp4,m4a,3gp,3g2,mj2","duration":"8.000000","bit_rate":"1000"},"streams":[{"index":0,"codec_type":"video","codec_name":"h264","width":1280,"height":720,"avg_frame_rate":"25/1","side_data_list":[{"side_data_type":"Display Matrix","rotation":-90}]},{"index":1,"codec_type":"audio","codec_name":"aac","sample_rate":"16000","channels":1,"tags":{"language":"eng"}}]}`))
	f.Add([]byte(`{"format":{"format_name":"png_pipe"},"streams":[{"index":0,"codec_type":"video","codec_name":"png","width":100000,"height":100000}]}`))
	f.Add([]byte(`{"format":{"format_name":"matroska","duration":"-1e308"},"streams":[{"codec_type":"video","width":-3,"height":2,"r_frame_rate":"0/0"}]}`))
	f.Add([]byte(`{"format":{"duration":"NaN","tags":{"creation_time":"2025-07-01T10:00:00.000000Z"}},"streams":[]}`))
	f.Add([]byte(`{"streams":[{"codec_type":"audio","duration":"1e30","tags":{"rotate":"450"}}]}`))
	f.Add([]byte(`not json`))
	f.Fuzz(func(t *testing.T, b []byte) {
		pi, err := ParseProbe(b)
		if err != nil {
			if !errors.Is(err, glasshouse.ErrCorrupt) {
				t.Fatalf("ParseProbe: %v, want ErrCorrupt", err)
			}
			return
		}
		if pi.DurationMS < 0 {
			t.Fatalf("negative duration %d ms from %q", pi.DurationMS, b)
		}
		for _, s := range pi.Streams {
			if s.DurationMS < 0 {
				t.Fatalf("stream %d: negative duration %d ms", s.Index, s.DurationMS)
			}
		}
		for _, kind := range []glasshouse.MediaKind{glasshouse.KindImage, glasshouse.KindAudio, glasshouse.KindVideo} {
			err := Preflight(pi, kind, PreflightLimits{})
			if err != nil {
				if !errors.Is(err, glasshouse.ErrTooLarge) && !errors.Is(err, glasshouse.ErrCorrupt) {
					t.Fatalf("Preflight(%s): %v", kind, err)
				}
				continue
			}
			if kind == glasshouse.KindImage {
				if pi.Width < 0 || pi.Height < 0 || int64(pi.Width)*int64(pi.Height) > DefaultPreflight.MaxImagePixels {
					t.Fatalf("image %dx%d passed", pi.Width, pi.Height)
				}
				continue
			}
			if pi.DurationMS < 0 || time.Duration(pi.DurationMS)*time.Millisecond > DefaultPreflight.MaxDuration {
				t.Fatalf("%s of %d ms passed", kind, pi.DurationMS)
			}
			for _, s := range pi.Streams {
				if s.Type == "video" && (s.Width < 0 || s.Height < 0 || int64(s.Width)*int64(s.Height) > DefaultPreflight.MaxVideoPixels) {
					t.Fatalf("video stream %dx%d passed", s.Width, s.Height)
				}
			}
		}
		if pi.Rotation%90 != 0 || pi.Rotation < 0 || pi.Rotation >= 360 {
			t.Fatalf("rotation %d", pi.Rotation)
		}
	})
}

// FuzzSniffHeader sniffs arbitrary leading bytes, then runs the header
// preflight and the EXIF reader on them: no panics; a sniffed type is one
// glasshouse accepts with its kind; what the header preflight passes is
// within the pixel limit.
func FuzzSniffHeader(f *testing.F) {
	f.Add([]byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x01\x86\xa0\x00\x01\x86\xa0\x08\x02\x00\x00\x00"))
	f.Add([]byte("\xff\xd8\xff\xe1\x00\x16Exif\x00\x00MM\x00*\x00\x00\x00\x08\x00\x01\x01\x12\x00\x03\x00\x00\x00\x01\x00\x06"))
	f.Add([]byte("GIF89a\xff\xff\xff\xff\x00\x00\x00"))
	f.Add([]byte("RIFF\x24\x00\x00\x00WAVEfmt "))
	f.Add([]byte("\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom"))
	f.Add([]byte("\x1aE\xdf\xa3\x9fB\x86\x81\x01B\xf7\x81\x01B\xf2\x81\x04B\xf3\x81\x08B\x82\x84webm"))
	f.Add([]byte("%PDF-1.4"))
	f.Add([]byte{0x47, 0x00, 0x00, 0x10})
	f.Fuzz(func(t *testing.T, head []byte) {
		mt, kind, err := Sniff(head)
		if err != nil {
			if !errors.Is(err, glasshouse.ErrUnsupported) {
				t.Fatalf("Sniff: %v, want ErrUnsupported", err)
			}
		} else if k, ok := mediaTypes[mt]; !ok || k != kind {
			t.Fatalf("Sniff = %s, %s: not an accepted type", mt, kind)
		}
		for _, m := range []string{mt, "image/jpeg", "image/png", "image/gif"} {
			err := PreflightHeader(head, m, PreflightLimits{MaxImagePixels: 1 << 20})
			if err != nil {
				if !errors.Is(err, glasshouse.ErrTooLarge) && !errors.Is(err, glasshouse.ErrCorrupt) {
					t.Fatalf("PreflightHeader(%s): %v", m, err)
				}
				continue
			}
			if cfg, format, err := image.DecodeConfig(bytes.NewReader(head)); err == nil && "image/"+format == m &&
				int64(cfg.Width)*int64(cfg.Height) > 1<<20 {
				t.Fatalf("%s header of %dx%d passed a limit of %d pixels", m, cfg.Width, cfg.Height, 1<<20)
			}
		}
		if o := exifOrientation(head); o < 0 || o > 8 {
			t.Fatalf("EXIF orientation %d", o)
		}
	})
}
