package media_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"image"
	"image/jpeg"
	"image/png"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/glasshouse/glasshouse"
	"github.com/glasshouse/glasshouse/media"
)

var limits = media.Limits{Timeout: 2 * time.Minute, MaxBytes: 4 << 30}

// fixtures are generated once for the package by TestMain.
type fixtures struct {
	dir       string
	video     string // 6 s, 320x240 @25, cuts at 2 s and 4 s, 440 Hz sine audio (eng)
	rotated   string // 2 s 320x240 stored, rotate=90 in the container
	wav       string // 3 s 440 Hz sine, 44.1 kHz stereo
	m4aInMP4  string // audio-only AAC in an mp4 (isom brand)
	png       string // 640x480 testsrc
	jpg       string // 640x480 testsrc
	jpgExif6  string // 640x480 stored, EXIF orientation 6 (turn 90° clockwise)
	truncJPG  string // jpg cut in half
	bombPNG   string // a PNG header claiming 20000x20000
	text      string
	empty     string
	webm      string // 2 s vp8 video
	mkvAudio  string // audio-only matroska
	videoCuts []int64
}

var fx fixtures

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "media-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	err = makeFixtures(context.Background(), dir)
	code := 1
	if err != nil {
		fmt.Fprintln(os.Stderr, "making fixtures:", err)
	} else {
		code = m.Run()
	}
	if os.Getenv("KEEP") == "" {
		os.RemoveAll(dir)
	}
	os.Exit(code)
}

func ffmpeg(ctx context.Context, args ...string) error {
	_, err := media.Run(ctx, limits, "ffmpeg", append([]string{"-nostdin", "-v", "error", "-y"}, args...)...)
	return err
}

func makeFixtures(ctx context.Context, dir string) error {
	p := func(n string) string { return filepath.Join(dir, n) }
	fx = fixtures{dir: dir,
		video: p("cuts.mp4"), rotated: p("rot.mp4"), wav: p("sine.wav"), m4aInMP4: p("audio.mp4"),
		png: p("src.png"), jpg: p("src.jpg"), jpgExif6: p("exif6.jpg"), truncJPG: p("trunc.jpg"),
		bombPNG: p("bomb.png"), text: p("notes.mp4"), empty: p("empty.jpg"), webm: p("clip.webm"),
		mkvAudio: p("audio.mkv"), videoCuts: []int64{2000, 4000},
	}
	steps := [][]string{
		{"-f", "lavfi", "-i", "testsrc2=s=320x240:r=25:d=2", "-f", "lavfi", "-i", "smptebars=s=320x240:r=25:d=2",
			"-f", "lavfi", "-i", "color=c=0x2050a0:s=320x240:r=25:d=2", "-f", "lavfi", "-i", "sine=f=440:d=6",
			"-filter_complex", "[0:v][1:v][2:v]concat=n=3:v=1:a=0[v]", "-map", "[v]", "-map", "3:a",
			"-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac",
			"-metadata", "creation_time=2021-05-06T07:08:09Z", "-metadata:s:a:0", "language=eng", fx.video},
		{"-f", "lavfi", "-i", "testsrc2=s=320x240:r=25:d=2", "-c:v", "libx264", "-preset", "ultrafast", p("plain.mp4")},
		{"-i", p("plain.mp4"), "-c", "copy", "-metadata:s:v:0", "rotate=90", fx.rotated},
		{"-f", "lavfi", "-i", "sine=f=440:d=3:sample_rate=44100", "-ac", "2", fx.wav},
		{"-f", "lavfi", "-i", "sine=f=300:d=2", "-c:a", "aac", "-f", "mp4", fx.m4aInMP4},
		{"-f", "lavfi", "-i", "testsrc=s=640x480", "-frames:v", "1", fx.png},
		{"-f", "lavfi", "-i", "testsrc=s=640x480", "-frames:v", "1", fx.jpg},
		{"-f", "lavfi", "-i", "testsrc2=s=320x240:r=25:d=2", "-c:v", "libvpx", "-b:v", "200k", fx.webm},
		{"-f", "lavfi", "-i", "sine=f=500:d=2", "-c:a", "libvorbis", fx.mkvAudio},
	}
	for _, s := range steps {
		if err := ffmpeg(ctx, s...); err != nil {
			return err
		}
	}
	j, err := os.ReadFile(fx.jpg)
	if err != nil {
		return err
	}
	if err := os.WriteFile(fx.truncJPG, j[:len(j)/2], 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(fx.jpgExif6, withEXIFOrientation(j, 6), 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(fx.bombPNG, pngHeader(20000, 20000), 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(fx.text, []byte("these are meeting notes, not a video\n"), 0o644); err != nil {
		return err
	}
	return os.WriteFile(fx.empty, nil, 0o644)
}

// withEXIFOrientation inserts an APP1 Exif segment holding only the
// orientation tag right after the JPEG's SOI marker.
func withEXIFOrientation(j []byte, orient uint16) []byte {
	var t bytes.Buffer
	t.WriteString("MM\x00\x2a")
	binary.Write(&t, binary.BigEndian, uint32(8)) // IFD0 offset
	binary.Write(&t, binary.BigEndian, uint16(1)) // one entry
	binary.Write(&t, binary.BigEndian, []uint16{0x0112, 3})
	binary.Write(&t, binary.BigEndian, uint32(1))
	binary.Write(&t, binary.BigEndian, []uint16{orient, 0})
	binary.Write(&t, binary.BigEndian, uint32(0)) // no next IFD
	seg := append([]byte("Exif\x00\x00"), t.Bytes()...)
	var out bytes.Buffer
	out.Write(j[:2])
	out.Write([]byte{0xFF, 0xE1})
	binary.Write(&out, binary.BigEndian, uint16(len(seg)+2))
	out.Write(seg)
	out.Write(j[2:])
	return out.Bytes()
}

// pngHeader is a PNG signature and IHDR chunk for a w x h RGB image, with
// no pixel data: enough for image.DecodeConfig.
func pngHeader(w, h uint32) []byte {
	var b bytes.Buffer
	b.WriteString("\x89PNG\r\n\x1a\n")
	ihdr := make([]byte, 13)
	binary.BigEndian.PutUint32(ihdr[0:], w)
	binary.BigEndian.PutUint32(ihdr[4:], h)
	ihdr[8], ihdr[9] = 8, 2
	chunk := func(typ string, data []byte) {
		binary.Write(&b, binary.BigEndian, uint32(len(data)))
		crc := crc32.NewIEEE()
		crc.Write([]byte(typ))
		crc.Write(data)
		b.WriteString(typ)
		b.Write(data)
		binary.Write(&b, binary.BigEndian, crc.Sum32())
	}
	chunk("IHDR", ihdr)
	chunk("IEND", nil)
	return b.Bytes()
}

// sharedTestdata returns ../shared/testdata relative to the repo root, or
// skips the test when it is not there.
func sharedTestdata(t testing.TB) string {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	dir := filepath.Dir(file)
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Skip("repository root not found")
		}
		dir = parent
	}
	td := filepath.Join(dir, "..", "shared", "testdata")
	if _, err := os.Stat(td); err != nil {
		t.Skipf("shared test data not present: %v", err)
	}
	return td
}

func head(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b[:min(len(b), media.SniffLen)]
}

func TestSniff(t *testing.T) {
	cases := []struct {
		path string
		mime string
		kind glasshouse.MediaKind
	}{
		{fx.video, "video/mp4", glasshouse.KindVideo},
		{fx.webm, "video/webm", glasshouse.KindVideo},
		{fx.wav, "audio/wav", glasshouse.KindAudio},
		{fx.png, "image/png", glasshouse.KindImage},
		{fx.jpg, "image/jpeg", glasshouse.KindImage},
		{fx.jpgExif6, "image/jpeg", glasshouse.KindImage},
		{fx.truncJPG, "image/jpeg", glasshouse.KindImage}, // sniffing is not validation
	}
	for _, c := range cases {
		mt, kind, err := media.Sniff(head(t, c.path))
		if err != nil || mt != c.mime || kind != c.kind {
			t.Errorf("Sniff(%s) = %q, %q, %v; want %q, %q", filepath.Base(c.path), mt, kind, err, c.mime, c.kind)
		}
	}
	// The extension never counts: notes.mp4 is text, empty.jpg is empty.
	bad := []struct {
		name string
		data []byte
		want string
	}{
		{"text", []byte("these are meeting notes, not a video\n"), "file is text/plain, not an image, audio or video"},
		{"empty", nil, "file is empty"},
		{"pdf", []byte("%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n"), "file is application/pdf"},
		{"zip", []byte("PK\x03\x04\x14\x00\x00\x00\x08\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x05\x00\x00\x00a.txt"), "file is application/zip"},
	}
	for _, c := range bad {
		_, _, err := media.Sniff(c.data)
		if !errors.Is(err, glasshouse.ErrUnsupported) {
			t.Errorf("Sniff(%s): err = %v, want ErrUnsupported", c.name, err)
			continue
		}
		if !strings.Contains(err.Error(), c.want) {
			t.Errorf("Sniff(%s): err = %q, want it to contain %q", c.name, err, c.want)
		}
	}
	if _, _, err := media.SniffFile(fx.text); !errors.Is(err, glasshouse.ErrUnsupported) {
		t.Errorf("SniffFile(notes.mp4) = %v, want ErrUnsupported", err)
	}
	if _, _, err := media.SniffFile(fx.empty); !errors.Is(err, glasshouse.ErrUnsupported) {
		t.Errorf("SniffFile(empty.jpg) = %v, want ErrUnsupported", err)
	}
}

// TestSniffFormats makes one small file per container and checks that
// Sniff names it and its kind, and that Probe and RefineKind agree.
func TestSniffFormats(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	img := []string{"-f", "lavfi", "-i", "testsrc=s=64x48", "-frames:v", "1"}
	vid := []string{"-f", "lavfi", "-i", "testsrc2=s=64x48:r=10:d=1"}
	aud := []string{"-f", "lavfi", "-i", "sine=d=1"}
	cases := []struct {
		name string
		args []string
		mime string
		kind glasshouse.MediaKind // after RefineKind
	}{
		{"a.gif", img, "image/gif", glasshouse.KindImage},
		{"a.webp", img, "image/webp", glasshouse.KindImage},
		{"a.tiff", img, "image/tiff", glasshouse.KindImage},
		{"a.bmp", img, "image/bmp", glasshouse.KindImage},
		{"a.mp3", aud, "audio/mpeg", glasshouse.KindAudio},
		{"a.flac", aud, "audio/flac", glasshouse.KindAudio},
		{"a.ogg", append(aud, "-c:a", "libvorbis"), "audio/ogg", glasshouse.KindAudio},
		{"a.opus", append(aud, "-c:a", "libopus", "-f", "ogg"), "audio/ogg", glasshouse.KindAudio},
		{"a.m4a", append(aud, "-c:a", "aac"), "audio/x-m4a", glasshouse.KindAudio},
		{"a.avi", append(vid, "-c:v", "mjpeg"), "video/x-msvideo", glasshouse.KindVideo},
		{"a.mkv", append(vid, "-c:v", "libx264", "-preset", "ultrafast"), "video/matroska", glasshouse.KindVideo},
		{"a.mov", append(vid, "-c:v", "libx264", "-preset", "ultrafast"), "video/quicktime", glasshouse.KindVideo},
		{"a.ts", append(vid, "-c:v", "libx264", "-preset", "ultrafast"), "video/mp2t", glasshouse.KindVideo},
		{"a.mpg", append(vid, "-c:v", "mpeg2video"), "video/mpeg", glasshouse.KindVideo},
		{"a.ogv", append(vid, "-c:v", "libtheora"), "video/ogg", glasshouse.KindVideo},
	}
	for _, c := range cases {
		p := filepath.Join(dir, c.name)
		if err := ffmpeg(ctx, append(append([]string{}, c.args...), p)...); err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		mt, kind, err := media.SniffFile(p)
		if err != nil || mt != c.mime {
			t.Errorf("Sniff(%s) = %q, %q, %v; want %q", c.name, mt, kind, err, c.mime)
			continue
		}
		pi, err := media.Probe(ctx, limits, p)
		if err != nil {
			t.Errorf("Probe(%s) = %v", c.name, err)
			continue
		}
		if got := media.RefineKind(kind, pi); got != c.kind {
			t.Errorf("%s: kind %s, refined %s, want %s", c.name, kind, got, c.kind)
		}
		if err := media.Validate(ctx, limits, p, c.kind, pi); err != nil {
			t.Errorf("Validate(%s) = %v", c.name, err)
		}
	}
}

// TestCoverArt: an mp3 with a cover picture is audio; the picture is an
// "attachment" stream, not video.
func TestCoverArt(t *testing.T) {
	ctx := context.Background()
	p := filepath.Join(t.TempDir(), "song.mp3")
	if err := ffmpeg(ctx, "-f", "lavfi", "-i", "sine=d=2", "-i", fx.jpg, "-map", "0", "-map", "1", "-c:a", "libmp3lame",
		"-c:v", "copy", "-disposition:v", "attached_pic", "-id3v2_version", "3", p); err != nil {
		t.Fatal(err)
	}
	_, kind, err := media.SniffFile(p)
	if err != nil {
		t.Fatal(err)
	}
	pi, err := media.Probe(ctx, limits, p)
	if err != nil {
		t.Fatal(err)
	}
	types := map[string]int{}
	for _, s := range pi.Streams {
		types[s.Type]++
	}
	if types["audio"] != 1 || types["attachment"] != 1 || types["video"] != 0 || pi.Width != 0 {
		t.Errorf("streams %+v, want one audio and one attachment", pi.Streams)
	}
	if got := media.RefineKind(kind, pi); got != glasshouse.KindAudio {
		t.Errorf("kind %s", got)
	}
	th, err := media.Thumbnail(ctx, limits, p, glasshouse.KindAudio, pi, 320)
	if err != nil {
		t.Fatal(err)
	}
	if c := decodeJPEG(t, th); c.Width != 320 {
		t.Errorf("thumbnail width %d", c.Width)
	}
}

func TestRefineKindAudioOnlyContainers(t *testing.T) {
	ctx := context.Background()
	for _, path := range []string{fx.m4aInMP4, fx.mkvAudio} {
		mt, kind, err := media.SniffFile(path)
		if err != nil {
			t.Fatal(err)
		}
		pi, err := media.Probe(ctx, limits, path)
		if err != nil {
			t.Fatal(err)
		}
		if got := media.RefineKind(kind, pi); got != glasshouse.KindAudio {
			t.Errorf("%s sniffed as %s/%s: RefineKind = %s, want audio", filepath.Base(path), mt, kind, got)
		}
	}
	pi, err := media.Probe(ctx, limits, fx.video)
	if err != nil {
		t.Fatal(err)
	}
	if got := media.RefineKind(glasshouse.KindAudio, pi); got != glasshouse.KindVideo {
		t.Errorf("RefineKind(audio, video file) = %s, want video", got)
	}
}

func TestProbeVideo(t *testing.T) {
	pi, err := media.Probe(context.Background(), limits, fx.video)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(pi.Format, "mp4") {
		t.Errorf("Format = %q, want mp4", pi.Format)
	}
	if pi.DurationMS < 5900 || pi.DurationMS > 6200 {
		t.Errorf("DurationMS = %d, want ~6000", pi.DurationMS)
	}
	if pi.Width != 320 || pi.Height != 240 || pi.FrameRate != 25 || pi.Rotation != 0 {
		t.Errorf("size %dx%d @%v rot %d, want 320x240 @25 rot 0", pi.Width, pi.Height, pi.FrameRate, pi.Rotation)
	}
	if pi.BitRate <= 0 {
		t.Errorf("BitRate = %d", pi.BitRate)
	}
	want := time.Date(2021, 5, 6, 7, 8, 9, 0, time.UTC)
	if pi.CreationTime == nil || !pi.CreationTime.Equal(want) {
		t.Errorf("CreationTime = %v, want %v", pi.CreationTime, want)
	}
	if len(pi.Streams) != 2 {
		t.Fatalf("streams = %+v, want 2", pi.Streams)
	}
	v, a := pi.Streams[0], pi.Streams[1]
	if v.Type != "video" || v.Codec != "h264" || v.Width != 320 || v.Height != 240 || v.FrameRate != 25 || v.DurationMS < 5900 {
		t.Errorf("video stream = %+v", v)
	}
	if a.Type != "audio" || a.Codec != "aac" || a.SampleRate != 44100 || a.Channels != 1 || a.Language != "eng" || a.Index != 1 {
		t.Errorf("audio stream = %+v", a)
	}
}

func TestProbeRotated(t *testing.T) {
	pi, err := media.Probe(context.Background(), limits, fx.rotated)
	if err != nil {
		t.Fatal(err)
	}
	// The container turns the 320x240 picture a quarter: shown 240x320.
	if pi.Rotation != 90 && pi.Rotation != 270 {
		t.Errorf("Rotation = %d, want 90 or 270", pi.Rotation)
	}
	if pi.Width != 240 || pi.Height != 320 {
		t.Errorf("display size %dx%d, want 240x320", pi.Width, pi.Height)
	}
	if s := pi.Streams[0]; s.Width != 320 || s.Height != 240 || s.Rotation != pi.Rotation {
		t.Errorf("stream = %+v, want stored 320x240 with the rotation", s)
	}
}

func TestProbeAudioAndImage(t *testing.T) {
	ctx := context.Background()
	pi, err := media.Probe(ctx, limits, fx.wav)
	if err != nil {
		t.Fatal(err)
	}
	if pi.Format != "wav" || pi.DurationMS != 3000 || pi.Width != 0 || len(pi.Streams) != 1 ||
		pi.Streams[0].SampleRate != 44100 || pi.Streams[0].Channels != 2 || pi.Streams[0].Codec != "pcm_s16le" {
		t.Errorf("wav probe = %+v", pi)
	}
	pi, err = media.Probe(ctx, limits, fx.png)
	if err != nil {
		t.Fatal(err)
	}
	if pi.Width != 640 || pi.Height != 480 || pi.DurationMS != 0 || pi.FrameRate != 0 {
		t.Errorf("png probe = %+v", pi)
	}
	pi, err = media.Probe(ctx, limits, fx.jpgExif6)
	if err != nil {
		t.Fatal(err)
	}
	if pi.Rotation != 90 || pi.Width != 480 || pi.Height != 640 {
		t.Errorf("EXIF-6 jpeg probe = rot %d %dx%d, want rot 90 480x640", pi.Rotation, pi.Width, pi.Height)
	}
}

func TestProbeErrors(t *testing.T) {
	ctx := context.Background()
	_, err := media.Probe(ctx, limits, filepath.Join(fx.dir, "missing.mp4"))
	if !errors.Is(err, glasshouse.ErrNotExist) {
		t.Errorf("missing file: %v, want ErrNotExist", err)
	}
	_, err = media.Probe(ctx, limits, fx.text)
	if !errors.Is(err, glasshouse.ErrCorrupt) && !errors.Is(err, glasshouse.ErrUnsupported) {
		t.Errorf("text file: %v, want ErrCorrupt or ErrUnsupported", err)
	}
	// A path that looks like an option or a protocol is still read as a file.
	_, err = media.Probe(ctx, limits, "-version")
	if !errors.Is(err, glasshouse.ErrNotExist) {
		t.Errorf("path -version: %v, want ErrNotExist", err)
	}
}

func TestValidate(t *testing.T) {
	ctx := context.Background()
	ok := []struct {
		path string
		kind glasshouse.MediaKind
	}{
		{fx.video, glasshouse.KindVideo}, {fx.webm, glasshouse.KindVideo}, {fx.wav, glasshouse.KindAudio},
		{fx.png, glasshouse.KindImage}, {fx.jpg, glasshouse.KindImage}, {fx.jpgExif6, glasshouse.KindImage},
	}
	for _, c := range ok {
		if err := media.Validate(ctx, limits, c.path, c.kind, nil); err != nil {
			t.Errorf("Validate(%s) = %v", filepath.Base(c.path), err)
		}
	}
	err := media.Validate(ctx, limits, fx.truncJPG, glasshouse.KindImage, nil)
	if !errors.Is(err, glasshouse.ErrCorrupt) || !strings.Contains(err.Error(), "truncated") {
		t.Errorf("truncated jpeg: %v, want ErrCorrupt saying truncated", err)
	}
	err = media.Validate(ctx, limits, fx.video, glasshouse.KindImage, nil)
	if !errors.Is(err, glasshouse.ErrInvalid) || !strings.Contains(err.Error(), "video/mp4, not an image") {
		t.Errorf("video validated as image: %v, want ErrInvalid", err)
	}
	err = media.Validate(ctx, limits, fx.bombPNG, glasshouse.KindImage, nil)
	if !errors.Is(err, glasshouse.ErrTooLarge) || !strings.Contains(err.Error(), "20000x20000") {
		t.Errorf("20000x20000 png: %v, want ErrTooLarge naming the size", err)
	}
}

func TestValidateTruncatedVideo(t *testing.T) {
	ctx := context.Background()
	// A webm cut short keeps its header, so it probes, but does not decode.
	b, err := os.ReadFile(fx.webm)
	if err != nil {
		t.Fatal(err)
	}
	cut := filepath.Join(t.TempDir(), "cut.webm")
	if err := os.WriteFile(cut, b[:len(b)/3], 0o644); err != nil {
		t.Fatal(err)
	}
	// Corrupt the middle too, so that what remains cannot decode cleanly.
	c := b[:len(b)/3]
	for i := len(c) / 2; i < len(c); i += 7 {
		c[i] ^= 0x5a
	}
	if err := os.WriteFile(cut, c, 0o644); err != nil {
		t.Fatal(err)
	}
	err = media.Validate(ctx, limits, cut, glasshouse.KindVideo, nil)
	if !errors.Is(err, glasshouse.ErrCorrupt) {
		t.Errorf("damaged webm: %v, want ErrCorrupt", err)
	}

	// A 12 s webm cut at two thirds: its start decodes, its end does not.
	long := filepath.Join(t.TempDir(), "long.webm")
	if err := ffmpeg(ctx, "-f", "lavfi", "-i", "testsrc2=s=160x120:r=10:d=12", "-c:v", "libvpx", "-b:v", "200k", long); err != nil {
		t.Fatal(err)
	}
	if err := media.Validate(ctx, limits, long, glasshouse.KindVideo, nil); err != nil {
		t.Fatalf("whole webm: %v", err)
	}
	b, err = os.ReadFile(long)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(long, b[:len(b)*2/3], 0o644); err != nil {
		t.Fatal(err)
	}
	err = media.Validate(ctx, limits, long, glasshouse.KindVideo, nil)
	if !errors.Is(err, glasshouse.ErrCorrupt) || !strings.Contains(err.Error(), "end of the file") {
		t.Errorf("webm cut at 2/3: %v, want ErrCorrupt about its end", err)
	}
}

func decodeJPEG(t *testing.T, b []byte) image.Config {
	t.Helper()
	if len(b) < 2 || b[0] != 0xFF || b[1] != 0xD8 {
		t.Fatalf("not a JPEG (%d bytes)", len(b))
	}
	img, err := jpeg.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("JPEG does not decode: %v", err)
	}
	return image.Config{Width: img.Bounds().Dx(), Height: img.Bounds().Dy()}
}

func TestThumbnailAndPoster(t *testing.T) {
	ctx := context.Background()
	cases := []struct {
		path       string
		kind       glasshouse.MediaKind
		maxW       int
		thumbW     int
		thumbH     int
		posterW    int
		posterH    int
		posterDesc string
	}{
		{fx.video, glasshouse.KindVideo, 160, 160, 120, 320, 240, "video frame"},
		{fx.rotated, glasshouse.KindVideo, 200, 200, 266, 240, 320, "rotated video frame, turned upright"},
		{fx.png, glasshouse.KindImage, 320, 320, 240, 640, 480, "png"},
		{fx.png, glasshouse.KindImage, 2000, 640, 480, 640, 480, "png, never enlarged"},
		{fx.jpgExif6, glasshouse.KindImage, 240, 240, 320, 480, 640, "EXIF-oriented jpeg"},
		{fx.wav, glasshouse.KindAudio, 320, 320, 180, 1280, 720, "waveform"},
	}
	for _, c := range cases {
		th, err := media.Thumbnail(ctx, limits, c.path, c.kind, nil, c.maxW)
		if err != nil {
			t.Errorf("Thumbnail(%s): %v", c.posterDesc, err)
			continue
		}
		cfg := decodeJPEG(t, th)
		if cfg.Width != c.thumbW || abs(cfg.Height-c.thumbH) > 1 {
			t.Errorf("Thumbnail(%s) is %dx%d, want %dx%d", c.posterDesc, cfg.Width, cfg.Height, c.thumbW, c.thumbH)
		}
		po, err := media.Poster(ctx, limits, c.path, c.kind, nil)
		if err != nil {
			t.Errorf("Poster(%s): %v", c.posterDesc, err)
			continue
		}
		if cfg := decodeJPEG(t, po); cfg.Width != c.posterW || cfg.Height != c.posterH {
			t.Errorf("Poster(%s) is %dx%d, want %dx%d", c.posterDesc, cfg.Width, cfg.Height, c.posterW, c.posterH)
		}
	}
}

// TestThumbnailOrientationContent checks that the EXIF turn is applied the
// right way round: testsrc has its colour bars on top, so after a quarter
// turn clockwise they are on the right.
func TestThumbnailOrientationContent(t *testing.T) {
	ctx := context.Background()
	plain, err := media.Poster(ctx, limits, fx.jpg, glasshouse.KindImage, nil)
	if err != nil {
		t.Fatal(err)
	}
	turned, err := media.Poster(ctx, limits, fx.jpgExif6, glasshouse.KindImage, nil)
	if err != nil {
		t.Fatal(err)
	}
	a, _ := jpeg.Decode(bytes.NewReader(plain))
	b, _ := jpeg.Decode(bytes.NewReader(turned))
	// Pixel (x, y) of the original lands at (H-1-y, x) after a clockwise turn.
	h := a.Bounds().Dy()
	var diff, n float64
	for y := 10; y < h; y += 37 {
		for x := 10; x < a.Bounds().Dx(); x += 41 {
			r1, g1, b1, _ := a.At(x, y).RGBA()
			r2, g2, b2, _ := b.At(h-1-y, x).RGBA()
			diff += absf(float64(r1)-float64(r2)) + absf(float64(g1)-float64(g2)) + absf(float64(b1)-float64(b2))
			n += 3
		}
	}
	if mean := diff / n / 257; mean > 20 {
		t.Errorf("turned poster differs from the clockwise-turned original by %.1f per channel", mean)
	}
}

func TestThumbnailWaveformHasSignal(t *testing.T) {
	th, err := media.Thumbnail(context.Background(), limits, fx.wav, glasshouse.KindAudio, nil, 320)
	if err != nil {
		t.Fatal(err)
	}
	img, err := jpeg.Decode(bytes.NewReader(th))
	if err != nil {
		t.Fatal(err)
	}
	// A full-scale sine fills much of the height: the middle row is lit.
	lit := 0
	y := img.Bounds().Dy() / 2
	for x := 0; x < img.Bounds().Dx(); x++ {
		if _, _, b, _ := img.At(x, y).RGBA(); b > 0x8000 {
			lit++
		}
	}
	if lit < img.Bounds().Dx()/2 {
		t.Errorf("waveform middle row: %d of %d pixels lit", lit, img.Bounds().Dx())
	}
}

func TestExtractAudio(t *testing.T) {
	ctx := context.Background()
	out := filepath.Join(t.TempDir(), "a.wav")
	if err := media.ExtractAudio(ctx, limits, fx.video, 1, out); err != nil {
		t.Fatal(err)
	}
	pi, err := media.Probe(ctx, limits, out)
	if err != nil {
		t.Fatal(err)
	}
	s := pi.Streams[0]
	if s.Codec != "pcm_s16le" || s.SampleRate != 16000 || s.Channels != 1 || pi.DurationMS < 5900 || pi.DurationMS > 6100 {
		t.Errorf("extracted audio = %+v, %d ms", s, pi.DurationMS)
	}
	st, _ := os.Stat(out)
	if want := int64(6 * 16000 * 2); st.Size() < want-4000 || st.Size() > want+4000 {
		t.Errorf("wav size %d, want ~%d", st.Size(), want)
	}
	// Stream 0 is video: asking for it is invalid.
	err = media.ExtractAudio(ctx, limits, fx.video, 0, filepath.Join(t.TempDir(), "b.wav"))
	if !errors.Is(err, glasshouse.ErrInvalid) {
		t.Errorf("ExtractAudio(video stream) = %v, want ErrInvalid", err)
	}
	// -1: first audio stream.
	if err := media.ExtractAudio(ctx, limits, fx.wav, -1, filepath.Join(t.TempDir(), "c.wav")); err != nil {
		t.Errorf("ExtractAudio(-1) = %v", err)
	}
}

func TestSceneCuts(t *testing.T) {
	cuts, err := media.SceneCuts(context.Background(), limits, fx.video, 0.3)
	if err != nil {
		t.Fatal(err)
	}
	if len(cuts) != len(fx.videoCuts) {
		t.Fatalf("cuts = %v, want %v", cuts, fx.videoCuts)
	}
	for i, c := range cuts {
		if abs64(c-fx.videoCuts[i]) > 500 {
			t.Errorf("cut %d at %d ms, want %d ± 500", i, c, fx.videoCuts[i])
		}
	}
	if _, err := media.SceneCuts(context.Background(), limits, fx.video, 1.5); !errors.Is(err, glasshouse.ErrInvalid) {
		t.Errorf("threshold 1.5: %v, want ErrInvalid", err)
	}
}

func TestSceneCutsShared(t *testing.T) {
	td := sharedTestdata(t)
	cuts, err := media.SceneCuts(context.Background(), limits, filepath.Join(td, "video", "briefing.mp4"), 0.3)
	if err != nil {
		t.Fatal(err)
	}
	if len(cuts) != 1 || abs64(cuts[0]-5000) > 500 {
		t.Errorf("briefing.mp4 cuts = %v, want [5000 ± 500]", cuts)
	}
}

func TestStills(t *testing.T) {
	times := []int64{1000, 3000, 5000, 60000}
	got, err := media.Stills(context.Background(), limits, fx.video, times, []int{0, 100})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(times) {
		t.Fatalf("got %d stills, want %d", len(got), len(times))
	}
	var means []float64
	for i := range times[:3] {
		if len(got[i]) != 2 {
			t.Fatalf("still %d: %d versions", i, len(got[i]))
		}
		if c := decodeJPEG(t, got[i][0]); c.Width != 320 || c.Height != 240 {
			t.Errorf("still %d full size %dx%d", i, c.Width, c.Height)
		}
		if c := decodeJPEG(t, got[i][1]); c.Width != 100 {
			t.Errorf("still %d small width %d", i, c.Width)
		}
		img, _ := jpeg.Decode(bytes.NewReader(got[i][0]))
		means = append(means, meanBlue(img))
	}
	// The third segment is a flat 0x2050a0: its frame is strongly blue and uniform.
	if means[2] < 140 || means[2] > 180 {
		t.Errorf("frame at 5 s has mean blue %.0f, want ~160 (solid 0x2050a0)", means[2])
	}
	if got[3] != nil {
		t.Errorf("still past the end = %d versions, want nil", len(got[3]))
	}
}

func meanBlue(img image.Image) float64 {
	var s, n float64
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y += 4 {
		for x := b.Min.X; x < b.Max.X; x += 4 {
			_, _, bl, _ := img.At(x, y).RGBA()
			s += float64(bl >> 8)
			n++
		}
	}
	return s / n
}

func TestFrames(t *testing.T) {
	var times []int64
	var w, h int
	err := media.Frames(context.Background(), limits, fx.video, 5, 160, func(tMS int64, img *image.RGBA) error {
		times = append(times, tMS)
		w, h = img.Rect.Dx(), img.Rect.Dy()
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(times) < 29 || len(times) > 31 {
		t.Errorf("%d frames at 5 fps over 6 s, want 30", len(times))
	}
	if w != 160 || h != 120 {
		t.Errorf("frame size %dx%d, want 160x120", w, h)
	}
	for i, tm := range times {
		if tm != int64(i)*200 {
			t.Fatalf("frame %d at %d ms, want %d", i, tm, i*200)
		}
	}
	// Stopping early returns the callback's error and leaves no process.
	stop := errors.New("enough")
	n := 0
	err = media.Frames(context.Background(), limits, fx.video, 0, 0, func(int64, *image.RGBA) error {
		n++
		if n == 3 {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) || n != 3 {
		t.Errorf("early stop: err %v after %d frames", err, n)
	}
}

func TestSharedTestdata(t *testing.T) {
	td := sharedTestdata(t)
	ctx := context.Background()
	tree := filepath.Join(td, "video", "tree.avi")
	mt, kind, err := media.SniffFile(tree)
	if err != nil || mt != "video/x-msvideo" || kind != glasshouse.KindVideo {
		t.Errorf("Sniff(tree.avi) = %q %q %v", mt, kind, err)
	}
	pi, err := media.Probe(ctx, limits, tree)
	if err != nil {
		t.Fatal(err)
	}
	if pi.Format != "avi" || pi.Width != 320 || pi.Height != 240 || abs64(pi.DurationMS-29600) > 100 || pi.Streams[0].Codec != "cinepak" {
		t.Errorf("tree.avi probe = %+v", pi)
	}
	if err := media.Validate(ctx, limits, tree, glasshouse.KindVideo, pi); err != nil {
		t.Errorf("Validate(tree.avi) = %v", err)
	}
	err = media.Validate(ctx, limits, filepath.Join(td, "images", "truncated.jpg"), glasshouse.KindImage, nil)
	if !errors.Is(err, glasshouse.ErrCorrupt) || !strings.Contains(err.Error(), "truncated") {
		t.Errorf("truncated.jpg: %v, want ErrCorrupt saying truncated", err)
	}
	imgs, _ := filepath.Glob(filepath.Join(td, "images", "*.png"))
	for _, p := range imgs {
		_, kind, err := media.SniffFile(p)
		if err != nil || kind != glasshouse.KindImage {
			t.Errorf("Sniff(%s) = %q %v", filepath.Base(p), kind, err)
			continue
		}
		if err := media.Validate(ctx, limits, p, kind, nil); err != nil {
			t.Errorf("Validate(%s) = %v", filepath.Base(p), err)
		}
		f, _ := os.Open(p)
		cfg, _ := png.DecodeConfig(f)
		f.Close()
		th, err := media.Thumbnail(ctx, limits, p, kind, nil, 160)
		if err != nil {
			t.Errorf("Thumbnail(%s) = %v", filepath.Base(p), err)
			continue
		}
		if c := decodeJPEG(t, th); c.Width != min(160, cfg.Width) {
			t.Errorf("Thumbnail(%s) width %d", filepath.Base(p), c.Width)
		}
	}
	wavs, _ := filepath.Glob(filepath.Join(td, "speech", "*.wav"))
	for _, p := range wavs {
		_, kind, err := media.SniffFile(p)
		if err != nil || kind != glasshouse.KindAudio {
			t.Errorf("Sniff(%s) = %q %v", filepath.Base(p), kind, err)
		}
		if err := media.Validate(ctx, limits, p, kind, nil); err != nil {
			t.Errorf("Validate(%s) = %v", filepath.Base(p), err)
		}
	}
}

func BenchmarkSceneCuts(b *testing.B) {
	ctx := context.Background()
	p := filepath.Join(b.TempDir(), "bench.mp4")
	if err := ffmpeg(ctx, "-f", "lavfi", "-i", "testsrc2=s=1280x720:r=25:d=30", "-c:v", "libx264", "-preset", "ultrafast", p); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		if _, err := media.SceneCuts(ctx, limits, p, 0.3); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(30*float64(b.N)/b.Elapsed().Seconds(), "media-s/s")
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

func abs64(x int64) int64 {
	if x < 0 {
		return -x
	}
	return x
}

func absf(x float64) float64 {
	if x < 0 {
		return -x
	}
	return x
}
