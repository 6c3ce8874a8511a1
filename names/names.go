// Package names checks and cleans the names clients give files and
// collections, before they are stored or shown.
package names

import (
	"path/filepath"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/glasshouse/glasshouse"
)

// Sanitize turns a client-supplied file name into a safe display name:
// directory parts ("../", "a/b", "C:\x") are dropped, and names with control
// characters or invalid UTF-8 are refused with an ErrInvalid error.
func Sanitize(name string) (string, error) {
	const op = "ingest"
	if !utf8.ValidString(name) {
		return "", glasshouse.Errorf(op, glasshouse.ErrInvalid, "file name %q is not valid UTF-8", name)
	}
	for _, r := range name {
		if unicode.IsControl(r) {
			return "", glasshouse.Errorf(op, glasshouse.ErrInvalid, "file name %q contains control character %U", name, r)
		}
		if IsBidiControl(r) {
			// "invoice\u202Egpj.exe" shows as "invoiceexe.jpg".
			return "", glasshouse.Errorf(op, glasshouse.ErrInvalid, "file name %q contains bidirectional control character %U, which can disguise it", name, r)
		}
	}
	name = strings.ReplaceAll(name, "\\", "/")
	if i := strings.LastIndex(name, "/"); i >= 0 {
		name = name[i+1:]
	}
	name = strings.TrimSpace(name)
	if name == "" || name == "." || name == ".." {
		return "", glasshouse.Errorf(op, glasshouse.ErrInvalid, "file name is empty once directory parts are removed")
	}
	if len(name) > 255 {
		// cut at a rune boundary, keep the extension
		ext := filepath.Ext(name)
		if len(ext) > 16 {
			ext = ""
		}
		b := name[:255-len(ext)]
		for !utf8.ValidString(b) {
			b = b[:len(b)-1]
		}
		// A cut may end on a space; the name must stay what a second
		// sanitising would make of it (found by FuzzSanitize).
		name = strings.TrimRightFunc(b, unicode.IsSpace) + ext
	}
	return name, nil
}

// IsBidiControl reports the characters that reorder displayed text: the
// embeddings, overrides and isolates (U+202A..U+202E, U+2066..U+2069) and
// the marks U+200E, U+200F and U+061C.
func IsBidiControl(r rune) bool {
	return (r >= 0x202A && r <= 0x202E) || (r >= 0x2066 && r <= 0x2069) || r == 0x200E || r == 0x200F || r == 0x061C
}

// ValidCollection checks a collection name.
func ValidCollection(c string) error {
	if len(c) > 128 {
		return glasshouse.Errorf("ingest", glasshouse.ErrInvalid, "collection name longer than 128 bytes")
	}
	for _, r := range c {
		if unicode.IsControl(r) || IsBidiControl(r) || r == '/' || r == '\\' {
			return glasshouse.Errorf("ingest", glasshouse.ErrInvalid, "collection %q contains %q; use letters, digits, spaces, - _ .", c, r)
		}
	}
	return nil
}
