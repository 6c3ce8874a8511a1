package media

import (
	"fmt"
	"io"
	"mime"
	"os"

	"github.com/gabriel-vasile/mimetype"

	"github.com/glasshouse/glasshouse"
)

// SniffLen is how many leading bytes of a file Sniff needs to see.
const SniffLen = 4096

// mediaTypes maps the MIME types glasshouse accepts to their kind. The kind
// of a container that may hold video or audio only (mp4, webm, mkv, ogg,
// 3gp) is a first guess from the header: RefineKind settles it once the
// file is probed.
var mediaTypes = map[string]glasshouse.MediaKind{
	// images
	"image/jpeg":          glasshouse.KindImage,
	"image/png":           glasshouse.KindImage,
	"image/apng":          glasshouse.KindImage,
	"image/gif":           glasshouse.KindImage,
	"image/webp":          glasshouse.KindImage,
	"image/tiff":          glasshouse.KindImage,
	"image/bmp":           glasshouse.KindImage,
	"image/heic":          glasshouse.KindImage,
	"image/heif":          glasshouse.KindImage,
	"image/avif":          glasshouse.KindImage,
	"image/jxl":           glasshouse.KindImage,
	"image/jp2":           glasshouse.KindImage,
	"image/heic-sequence": glasshouse.KindImage,
	"image/heif-sequence": glasshouse.KindImage,
	// audio
	"audio/mpeg":     glasshouse.KindAudio,
	"audio/wav":      glasshouse.KindAudio,
	"audio/flac":     glasshouse.KindAudio,
	"audio/ogg":      glasshouse.KindAudio,
	"audio/aac":      glasshouse.KindAudio,
	"audio/mp4":      glasshouse.KindAudio,
	"audio/x-m4a":    glasshouse.KindAudio,
	"audio/aiff":     glasshouse.KindAudio,
	"audio/amr":      glasshouse.KindAudio,
	"audio/basic":    glasshouse.KindAudio,
	"audio/ape":      glasshouse.KindAudio,
	"audio/musepack": glasshouse.KindAudio,
	"audio/webm":     glasshouse.KindAudio,
	// application/ogg is an Ogg stream whose codec the sniffer did not
	// recognise from the first page; most such files are audio.
	"application/ogg": glasshouse.KindAudio,
	// video
	"video/mp4":       glasshouse.KindVideo,
	"video/x-m4v":     glasshouse.KindVideo,
	"video/quicktime": glasshouse.KindVideo,
	"video/webm":      glasshouse.KindVideo,
	"video/matroska":  glasshouse.KindVideo,
	"video/x-msvideo": glasshouse.KindVideo,
	"video/mpeg":      glasshouse.KindVideo,
	"video/mp2t":      glasshouse.KindVideo,
	"video/x-flv":     glasshouse.KindVideo,
	"video/3gpp":      glasshouse.KindVideo,
	"video/3gpp2":     glasshouse.KindVideo,
	"video/ogg":       glasshouse.KindVideo,
	"video/x-ms-asf":  glasshouse.KindVideo,
	"video/mj2":       glasshouse.KindVideo,
}

// Sniff tells the media type and kind of a file from its first bytes (pass
// at least SniffLen of them, or the whole file if shorter). It never looks
// at a file name. Content that is not an image, audio or video (text, PDF,
// archives, an empty file) gives an ErrUnsupported error naming what was
// found.
func Sniff(head []byte) (mimeType string, kind glasshouse.MediaKind, err error) {
	const op = "media.Sniff"
	if len(head) == 0 {
		return "", "", glasshouse.Errorf(op, glasshouse.ErrUnsupported, "file is empty, not an image, audio or video")
	}
	mt := baseType(mimetype.Detect(head).String())
	if mt == "application/octet-stream" && isMPEGTS(head) {
		mt = "video/mp2t"
	}
	k, ok := mediaTypes[mt]
	if !ok {
		return mt, "", glasshouse.Errorf(op, glasshouse.ErrUnsupported, "file is %s, not an image, audio or video", mt)
	}
	return mt, k, nil
}

// SniffFile reads the head of the file at path and calls Sniff.
func SniffFile(path string) (mimeType string, kind glasshouse.MediaKind, err error) {
	head, err := readHead(path, SniffLen)
	if err != nil {
		return "", "", err
	}
	return Sniff(head)
}

// RefineKind corrects a kind guessed by Sniff with what Probe found: a
// container sniffed as video that holds no video stream (an audio-only mp4,
// webm or mkv, or audio with cover art) is audio, and an Ogg or audio-typed
// container that does hold video is video. Images are left alone.
func RefineKind(kind glasshouse.MediaKind, pi *glasshouse.ProbeInfo) glasshouse.MediaKind {
	if pi == nil || kind == glasshouse.KindImage {
		return kind
	}
	var video, audio bool
	for _, s := range pi.Streams {
		switch s.Type {
		case "video":
			video = true
		case "audio":
			audio = true
		}
	}
	switch {
	case video:
		return glasshouse.KindVideo
	case audio:
		return glasshouse.KindAudio
	}
	return kind
}

func readHead(path string, n int) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, openErr("media.SniffFile", path, err)
	}
	defer f.Close()
	head := make([]byte, n)
	m, err := io.ReadFull(f, head)
	if err != nil && err != io.ErrUnexpectedEOF && err != io.EOF {
		return nil, fmt.Errorf("media.SniffFile: read %s: %w", path, err)
	}
	return head[:m], nil
}

func openErr(op, path string, err error) error {
	if os.IsNotExist(err) {
		return glasshouse.E(op, glasshouse.ErrNotExist, err, "")
	}
	if os.IsPermission(err) {
		return glasshouse.E(op, glasshouse.ErrPermission, err, "")
	}
	return fmt.Errorf("%s: open %s: %w", op, path, err)
}

// baseType drops parameters such as "; charset=utf-8".
func baseType(s string) string {
	if t, _, err := mime.ParseMediaType(s); err == nil {
		return t
	}
	return s
}

// isMPEGTS reports whether head looks like an MPEG transport stream: the
// sync byte 0x47 every 188 bytes.
func isMPEGTS(head []byte) bool {
	if len(head) < 188*3 {
		return false
	}
	for i := 0; i < len(head) && i < 188*8; i += 188 {
		if head[i] != 0x47 {
			return false
		}
	}
	return true
}
