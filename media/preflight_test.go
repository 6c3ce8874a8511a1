package media_test

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/glasshouse/glasshouse"
	"github.com/glasshouse/glasshouse/media"
)

// TestPreflight: limits on frame size, duration and streams are checked on
// what ffprobe read from the headers of a real file, and the header of a
// decompression bomb is refused before any decoder sees its pixels.
func TestPreflight(t *testing.T) {
	pi, err := media.Probe(context.Background(), limits, fx.video) // 6 s, 320x240, video + audio
	if err != nil {
		t.Fatal(err)
	}
	if err := media.Preflight(pi, glasshouse.KindVideo, media.PreflightLimits{}); err != nil {
		t.Fatalf("default limits: %v", err)
	}
	for _, c := range []struct {
		l    media.PreflightLimits
		want string
	}{
		{media.PreflightLimits{MaxVideoPixels: 320*240 - 1}, "320x240"},
		{media.PreflightLimits{MaxDuration: 5 * time.Second}, "longer than the limit of 5s"},
		{media.PreflightLimits{MaxStreams: 1}, "2 streams"},
	} {
		err := media.Preflight(pi, glasshouse.KindVideo, c.l)
		if !errors.Is(err, glasshouse.ErrTooLarge) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("limits %+v: %v, want too large naming %q", c.l, err, c.want)
		}
	}
	if err := media.Preflight(pi, glasshouse.KindVideo, media.PreflightLimits{MaxVideoPixels: 320 * 240, MaxDuration: 6 * time.Second, MaxStreams: 2}); err != nil {
		t.Errorf("at the limits: %v", err)
	}

	head, err := os.ReadFile(fx.bombPNG)
	if err != nil {
		t.Fatal(err)
	}
	if err := media.PreflightHeader(head[:min(len(head), media.SniffLen)], "image/png", media.PreflightLimits{}); !errors.Is(err, glasshouse.ErrTooLarge) || !strings.Contains(err.Error(), "before decoding") {
		t.Errorf("bomb header: %v", err)
	}
	head, _ = os.ReadFile(fx.png)
	if err := media.PreflightHeader(head, "image/png", media.PreflightLimits{}); err != nil {
		t.Errorf("small png: %v", err)
	}
}

func TestTypeAllowed(t *testing.T) {
	for _, c := range []struct {
		mt    string
		allow []string
		want  bool
	}{
		{"video/mp4", nil, true},
		{"video/mp4", []string{"video/*"}, true},
		{"video/mp4", []string{"image/*", "audio/wav"}, false},
		{"audio/wav", []string{" Audio/WAV "}, true},
		{"image/png", []string{"*"}, true},
		{"image/png", []string{"image/pn*"}, false},
	} {
		if got := media.TypeAllowed(c.mt, c.allow); got != c.want {
			t.Errorf("TypeAllowed(%s, %q) = %v", c.mt, c.allow, got)
		}
	}
	if err := media.CheckAllowList([]string{"video/*", "image/jpeg"}); err != nil {
		t.Error(err)
	}
	if err := media.CheckAllowList([]string{"vdieo/*"}); err == nil {
		t.Error("a pattern matching nothing was accepted")
	}
	if err := media.CheckTypeAllowed("image/png", []string{"video/*"}); !errors.Is(err, glasshouse.ErrUnsupported) || !strings.Contains(err.Error(), "image/png") {
		t.Errorf("CheckTypeAllowed: %v", err)
	}
}
