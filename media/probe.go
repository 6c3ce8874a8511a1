package media

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/glasshouse/glasshouse"
)

// ffprobe's JSON output, the parts glasshouse reads.
type ffprobeOut struct {
	Format struct {
		FormatName string            `json:"format_name"`
		Duration   string            `json:"duration"`
		BitRate    string            `json:"bit_rate"`
		Tags       map[string]string `json:"tags"`
	} `json:"format"`
	Streams []ffprobeStream `json:"streams"`
}

type ffprobeStream struct {
	Index        int               `json:"index"`
	CodecType    string            `json:"codec_type"`
	CodecName    string            `json:"codec_name"`
	Width        int               `json:"width"`
	Height       int               `json:"height"`
	RFrameRate   string            `json:"r_frame_rate"`
	AvgFrameRate string            `json:"avg_frame_rate"`
	SampleRate   string            `json:"sample_rate"`
	Channels     int               `json:"channels"`
	Duration     string            `json:"duration"`
	NbFrames     string            `json:"nb_frames"`
	Tags         map[string]string `json:"tags"`
	Disposition  map[string]int    `json:"disposition"`
	SideData     []struct {
		Type     string  `json:"side_data_type"`
		Rotation float64 `json:"rotation"`
	} `json:"side_data_list"`
}

// Probe reads the container metadata of the file at path with ffprobe.
//
// Width and Height of the result are the main video stream's size as shown,
// after rotation (what ffmpeg and Frames decode to); each Stream keeps its
// stored size. Rotation is clockwise degrees (0, 90, 180, 270) to turn the
// stored picture for display, from the display matrix, the "rotate" tag or,
// for JPEG images, the EXIF orientation. Cover art embedded in audio files
// is listed with Type "attachment", not "video".
//
// Errors: a missing file is ErrNotExist; a file ffprobe cannot parse is
// ErrCorrupt; one with no audio or video stream is ErrUnsupported.
func Probe(ctx context.Context, l Limits, path string) (*glasshouse.ProbeInfo, error) {
	const op = "media.Probe"
	if err := statInput(path); err != nil {
		return nil, openErr(op, path, err)
	}
	out, err := Run(ctx, l, "ffprobe", "-v", "error", "-print_format", "json", "-show_format", "-show_streams", fileArg(path))
	if err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("%s: %w", op, err)
		}
		return nil, glasshouse.E(op, glasshouse.ErrCorrupt, err, "ffprobe cannot read the file as media (corrupt or unknown format)")
	}
	pi, err := ParseProbe(out)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	if len(pi.Streams) == 0 {
		return nil, glasshouse.Errorf(op, glasshouse.ErrUnsupported, "file (%s) has no streams", pi.Format)
	}
	if !hasAV(pi) {
		return nil, glasshouse.Errorf(op, glasshouse.ErrUnsupported, "file (%s) has no audio, video or image stream", pi.Format)
	}
	if isImageFormat(pi.Format) {
		if head, err := readHead(path, 64<<10); err == nil {
			applyEXIF(pi, exifOrientation(head))
		}
	}
	return pi, nil
}

// fileArg turns a path into an ffmpeg input or output argument that is
// always read as a local file: never an option (a leading "-") nor another
// protocol ("http:", "concat:", ...).
func fileArg(path string) string {
	if IsURL(path) {
		return path
	}
	return "file:" + path
}

// IsURL reports whether an input is an HTTP(S) URL (a presigned object-store
// URL the app hands to analyzers, see app.mediaPath) rather than a local
// path. Only the app builds such inputs; file names from users never reach
// ffmpeg as URLs.
func IsURL(path string) bool {
	return strings.HasPrefix(path, "https://") || strings.HasPrefix(path, "http://")
}

// statInput checks that a local input exists; URLs are checked by ffmpeg.
func statInput(path string) error {
	if IsURL(path) {
		return nil
	}
	_, err := os.Stat(path)
	return err
}

func hasAV(pi *glasshouse.ProbeInfo) bool {
	for _, s := range pi.Streams {
		if s.Type == "video" || s.Type == "audio" {
			return true
		}
	}
	return false
}

// isImageFormat reports whether an ffprobe format name is a still-image demuxer.
func isImageFormat(f string) bool {
	return strings.HasSuffix(f, "_pipe") || f == "image2" || f == "gif" || f == "webp"
}

func convertProbe(raw *ffprobeOut) *glasshouse.ProbeInfo {
	pi := &glasshouse.ProbeInfo{
		Format:     raw.Format.FormatName,
		DurationMS: secondsToMS(raw.Format.Duration),
		BitRate:    parseInt(raw.Format.BitRate),
		Streams:    []glasshouse.Stream{},
	}
	still := isImageFormat(pi.Format)
	pi.CreationTime = parseCreation(raw.Format.Tags)
	mainVideo := -1
	for _, s := range raw.Streams {
		st := glasshouse.Stream{
			Index:      s.Index,
			Type:       s.CodecType,
			Codec:      s.CodecName,
			Width:      s.Width,
			Height:     s.Height,
			SampleRate: int(parseInt(s.SampleRate)),
			Channels:   s.Channels,
			DurationMS: secondsToMS(s.Duration),
		}
		if lang := s.Tags["language"]; lang != "" && lang != "und" {
			st.Language = lang
		}
		if s.CodecType == "video" {
			if s.Disposition["attached_pic"] == 1 {
				st.Type = "attachment"
			} else {
				st.FrameRate = parseRate(s.AvgFrameRate)
				if st.FrameRate == 0 && !still {
					st.FrameRate = parseRate(s.RFrameRate)
				}
				st.Rotation = streamRotation(&s)
			}
		}
		if pi.CreationTime == nil {
			pi.CreationTime = parseCreation(s.Tags)
		}
		if st.Type == "video" && mainVideo < 0 {
			mainVideo = len(pi.Streams)
		}
		if st.DurationMS > pi.DurationMS && pi.DurationMS == 0 {
			pi.DurationMS = st.DurationMS
		}
		pi.Streams = append(pi.Streams, st)
	}
	if mainVideo >= 0 {
		v := pi.Streams[mainVideo]
		pi.Width, pi.Height, pi.Rotation = v.Width, v.Height, v.Rotation
		if v.Rotation == 90 || v.Rotation == 270 {
			pi.Width, pi.Height = v.Height, v.Width
		}
		if !still {
			pi.FrameRate = v.FrameRate
		}
	}
	if still {
		pi.DurationMS = 0
	}
	return pi
}

// streamRotation returns the clockwise display rotation of a video stream.
// ffprobe reports the display matrix rotation counter-clockwise; the old
// "rotate" tag is clockwise.
func streamRotation(s *ffprobeStream) int {
	for _, sd := range s.SideData {
		if sd.Type == "Display Matrix" || sd.Rotation != 0 {
			return normRotation(-sd.Rotation)
		}
	}
	if r, err := strconv.ParseFloat(s.Tags["rotate"], 64); err == nil {
		return normRotation(r)
	}
	return 0
}

func normRotation(deg float64) int {
	r := int(math.Round(deg/90)) * 90 % 360
	if r < 0 {
		r += 360
	}
	return r
}

func parseCreation(tags map[string]string) *time.Time {
	v := tags["creation_time"]
	if v == "" {
		v = tags["date"]
	}
	if v == "" {
		return nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02 15:04:05", "2006-01-02T15:04:05", "2006:01:02 15:04:05", "2006-01-02"} {
		if t, err := time.Parse(layout, v); err == nil {
			if t.IsZero() || t.Year() < 1904 || t.Unix() == 0 {
				// 1904-01-01 is the QuickTime epoch, written by tools that do not know the time.
				return nil
			}
			t = t.UTC()
			return &t
		}
	}
	return nil
}

func secondsToMS(s string) int64 {
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f < 0 || math.IsNaN(f) || math.IsInf(f, 0) {
		return 0
	}
	// Absurd durations (1e30 s) would overflow into negative milliseconds
	// and slip past the duration limit as "corrupt": clamp them (found by
	// FuzzParseProbe).
	if f*1000 >= math.MaxInt64 {
		return math.MaxInt64
	}
	return int64(math.Round(f * 1000))
}

func parseInt(s string) int64 {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0
	}
	return n
}

// parseRate parses "30000/1001" or "25"; "0/0" is 0.
func parseRate(s string) float64 {
	num, den, ok := strings.Cut(s, "/")
	n, err := strconv.ParseFloat(num, 64)
	if err != nil {
		return 0
	}
	if !ok {
		return n
	}
	d, err := strconv.ParseFloat(den, 64)
	if err != nil || d == 0 {
		return 0
	}
	return math.Round(n/d*1000) / 1000
}

// applyEXIF records an EXIF orientation in pi: Rotation for the rotating
// orientations, and the displayed size for the ones that swap the axes.
func applyEXIF(pi *glasshouse.ProbeInfo, orient int) {
	switch orient {
	case 3:
		pi.Rotation = 180
	case 6, 5:
		pi.Rotation = 90
	case 8, 7:
		pi.Rotation = 270
	}
	if orient >= 5 && orient <= 8 {
		pi.Width, pi.Height = pi.Height, pi.Width
	}
}

// orientFilter is the ffmpeg filter that applies an EXIF orientation.
func orientFilter(orient int) string {
	switch orient {
	case 2:
		return "hflip"
	case 3:
		return "hflip,vflip"
	case 4:
		return "vflip"
	case 5:
		return "transpose=0"
	case 6:
		return "transpose=1"
	case 7:
		return "transpose=3"
	case 8:
		return "transpose=2"
	}
	return ""
}

// exifOrientation returns the EXIF orientation (1-8) of a JPEG from its
// first bytes, or 0 when there is none.
func exifOrientation(b []byte) int {
	if len(b) < 4 || b[0] != 0xFF || b[1] != 0xD8 {
		return 0
	}
	p := 2
	for p+4 <= len(b) {
		if b[p] != 0xFF {
			return 0
		}
		marker := b[p+1]
		if marker == 0xD8 || (marker >= 0xD0 && marker <= 0xD7) || marker == 0x01 {
			p += 2
			continue
		}
		if marker == 0xDA || marker == 0xD9 { // start of scan: no more metadata
			return 0
		}
		n := int(binary.BigEndian.Uint16(b[p+2:]))
		if n < 2 || p+2+n > len(b) {
			return 0
		}
		seg := b[p+4 : p+2+n]
		if marker == 0xE1 && len(seg) > 14 && string(seg[:6]) == "Exif\x00\x00" {
			if o, err := tiffOrientation(seg[6:]); err == nil {
				return o
			}
			return 0
		}
		p += 2 + n
	}
	return 0
}

func tiffOrientation(t []byte) (int, error) {
	if len(t) < 8 {
		return 0, errors.New("short tiff header")
	}
	var bo binary.ByteOrder
	switch string(t[:2]) {
	case "II":
		bo = binary.LittleEndian
	case "MM":
		bo = binary.BigEndian
	default:
		return 0, errors.New("bad byte order")
	}
	off := int(bo.Uint32(t[4:]))
	if off < 8 || off+2 > len(t) {
		return 0, errors.New("bad ifd offset")
	}
	n := int(bo.Uint16(t[off:]))
	for i := 0; i < n; i++ {
		e := off + 2 + 12*i
		if e+12 > len(t) {
			break
		}
		if bo.Uint16(t[e:]) == 0x0112 {
			o := int(bo.Uint16(t[e+8:]))
			if o >= 1 && o <= 8 {
				return o, nil
			}
			return 0, errors.New("bad orientation value")
		}
	}
	return 0, errors.New("no orientation")
}
