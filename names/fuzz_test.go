package names_test

import (
	"errors"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/glasshouse/glasshouse"
	"github.com/glasshouse/glasshouse/names"
)

// FuzzSanitize: a name either is refused as invalid, or comes out as a
// safe display name: valid UTF-8, no directory part, no control or bidi
// control characters, at most 255 bytes, not empty or a dot name, and
// sanitising it again changes nothing.
func FuzzSanitize(f *testing.F) {
	for _, s := range []string{"clip.mp4", "../../etc/passwd", `C:\Users\x\a.jpg`, "a/b/", " . ", "..", "invoice\u202egpj.exe",
		"tab\there", "\xff\xfe.png", strings.Repeat("é", 200) + ".jpeg", strings.Repeat("a", 254) + " .png", "x\u2066y", "名前.png"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		out, err := names.Sanitize(in)
		if err != nil {
			if !errors.Is(err, glasshouse.ErrInvalid) {
				t.Fatalf("Sanitize(%q): %v, want ErrInvalid", in, err)
			}
			return
		}
		if !utf8.ValidString(out) || out == "" || out == "." || out == ".." || len(out) > 255 {
			t.Fatalf("Sanitize(%q) = %q", in, out)
		}
		if strings.ContainsAny(out, `/\`) {
			t.Fatalf("Sanitize(%q) = %q keeps a path separator", in, out)
		}
		for _, r := range out {
			if unicode.IsControl(r) || (r >= 0x202A && r <= 0x202E) || (r >= 0x2066 && r <= 0x2069) || r == 0x200E || r == 0x200F || r == 0x061C {
				t.Fatalf("Sanitize(%q) = %q keeps %U", in, out, r)
			}
		}
		again, err := names.Sanitize(out)
		if err != nil || again != out {
			t.Fatalf("Sanitize(%q) = %q, but again gives %q, %v", in, out, again, err)
		}
	})
}
