package search

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/glasshouse/glasshouse"
)

func TestParse(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"fire", "fire"},
		{"Fire TRUCK", "fire truck"},
		{`"fire truck"`, `"fire truck"`},
		{"evacu*", "evacu*"},
		{`"fire tr"*`, `"fire tr"*`},
		{"fire OR flood", "fire OR flood"},
		{"fire or flood", "fire or flood"}, // lower-case or is a word
		{"fire AND flood", "fire flood"},
		{"a b OR c d", "a b OR c d"},
		{"a (b OR c) d", "a (b OR c) d"},
		{"(a OR b) OR c", "a OR b OR c"},
		{"((a b))", "a b"},
		{"-smoke fire", "-smoke fire"},
		{"NOT smoke fire", "-smoke fire"},
		{"fire -(smoke OR ash)", "fire -(smoke OR ash)"},
		{"NOT NOT fire", "fire"},
		{"e-mail", `"e mail"`},
		{"well - known", "well known"}, // a lone "-" is punctuation
		{"in:speech fire", "in:speech fire"},
		{"in:ocr,transcript fire", "in:text,speech fire"},
		{"IN:Speech fire", "in:speech fire"},
		{"label:dog", "label:dog"},
		{`label:"Traffic Light"`, `label:"traffic light"`},
		{"label:traf*", "label:traf*"},
		{"collection:news", "collection:news"},
		{`collection:"my stuff"`, `collection:"my stuff"`},
		{"collection:-x", `collection:"-x"`},
		{"type:video|audio", "type:video,audio"},
		{"after:2025-07-01 before:2025-08-01", "after:2025-07-01 before:2025-08-01"},
		{"label:person AND in:text evacuation", "label:person in:text evacuation"},
		{"10:30 meeting", `"10 30" meeting`},
		{"café", "café"},
		{"fire &&", "fire"},
		{"label:OR", "label:or"},
	} {
		e, err := Parse(c.in)
		if err != nil {
			t.Errorf("Parse(%q): %v", c.in, err)
			continue
		}
		if got := e.String(); got != c.want {
			t.Errorf("Parse(%q) = %s, want %s", c.in, got, c.want)
		}
	}
}

func TestParseStructure(t *testing.T) {
	e, err := Parse("a b OR c -d")
	if err != nil {
		t.Fatal(err)
	}
	or, ok := e.(*Or)
	if !ok || len(or.Kids) != 2 {
		t.Fatalf("got %#v, want Or of two", e)
	}
	and, ok := or.Kids[1].(*And)
	if !ok || len(and.Kids) != 2 {
		t.Fatalf("second kid %#v, want And(c, -d)", or.Kids[1])
	}
	if n, ok := and.Kids[1].(*Not); !ok || n.Pos != 9 {
		t.Errorf("got %#v, want Not at 9", and.Kids[1])
	}
	f, err := Parse("after:2025-07-01")
	if err != nil {
		t.Fatal(err)
	}
	if got := f.(*Field).Time; got.Format("2006-01-02T15:04:05Z07:00") != "2025-07-01T00:00:00Z" {
		t.Errorf("after time %v", got)
	}
}

func TestParseErrors(t *testing.T) {
	for _, c := range []struct {
		in  string
		pos int
		msg string
	}{
		{``, 0, "empty query"},
		{`evacuation "route`, 11, "unterminated quote"},
		{`fire "ab" "cd`, 10, "unterminated quote"},
		{`lable:dog`, 0, `unknown field "lable" (did you mean label?)`},
		{`fire colection:x`, 5, `did you mean collection?`},
		{`http://example.org`, 0, `unknown field "http"`},
		{`after:2025-13-01`, 6, `invalid date "2025-13-01" for after:`},
		{`fire before:yesterday`, 12, `invalid date "yesterday" for before:`},
		{`fire OR`, 5, "dangling OR"},
		{`OR fire`, 0, "dangling OR"},
		{`fire OR OR flood`, 5, "dangling OR"},
		{`(fire OR) x`, 6, "dangling OR"},
		{`fire AND`, 5, "dangling AND"},
		{`AND fire`, 0, "dangling AND"},
		{`fire NOT`, 5, "dangling NOT"},
		{`fire -)`, 6, `unbalanced ")"`}, // "-" before ")" is punctuation
		{`(fire`, 0, `missing ")" for "("`},
		{`a (b (c)`, 2, `missing ")" for "("`},
		{`fire)`, 4, `unbalanced ")"`},
		{`()`, 0, `empty parentheses`},
		{`in:speach`, 3, `unknown kind "speach" for in: (did you mean speech?)`},
		{`in:`, 3, `missing value for in:`},
		{`label: dog`, 6, `missing value for label:`},
		{`type:movie`, 5, `unknown media type "movie"`},
		{`label:"dog`, 6, `unterminated quote`},
		{`&& ||`, 0, `nothing to search for`},
		{strings.Repeat("(", 11) + "a" + strings.Repeat(")", 11), 10, "nested deeper"},
		{strings.Repeat("a ", 101), 200, "more than 100 terms"},
		{strings.Repeat("a", 1001), 1000, "longer than 1000 bytes"},
	} {
		_, err := Parse(c.in)
		var pe *ParseError
		if !errors.As(err, &pe) {
			t.Errorf("Parse(%q): err = %v, want *ParseError", c.in, err)
			continue
		}
		if !errors.Is(err, glasshouse.ErrInvalid) {
			t.Errorf("Parse(%q): error is not ErrInvalid", c.in)
		}
		if pe.Pos != c.pos || !strings.Contains(pe.Error(), c.msg) {
			t.Errorf("Parse(%q) = %q (pos %d), want pos %d containing %q", c.in, pe.Error(), pe.Pos, c.pos, c.msg)
		}
	}
}

func TestParseErrorMessage(t *testing.T) {
	_, err := Parse(`fire "route north`)
	if err == nil || err.Error() != "unterminated quote at 5" {
		t.Errorf("err = %v, want %q", err, "unterminated quote at 5")
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"fire", `"fire truck"`, "evac*", "a OR b", "-a b", "NOT a", "(a OR b) c", "in:speech fire",
		"label:dog", `label:"traffic light"`, "collection:x type:video", "after:2025-07-01 before:2025-08-01",
		`"unterminated`, "lable:dog", "a OR", "(a", "a)", "()", "in:", "é*", "-(a OR -b)",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		e, err := Parse(s)
		if err != nil {
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("Parse(%q): %T %v, want *ParseError", s, err, err)
			}
			if pe.Pos < 0 || pe.Pos > len(s) {
				t.Fatalf("Parse(%q): Pos %d outside 0..%d", s, pe.Pos, len(s))
			}
			return
		}
		if e == nil {
			t.Fatalf("Parse(%q): nil expression and nil error", s)
		}
		// The canonical form parses to itself.
		c := e.String()
		e2, err := Parse(c)
		if err != nil {
			t.Fatalf("Parse(%q) ok, but its String %q fails: %v", s, c, err)
		}
		if c2 := e2.String(); c2 != c {
			t.Fatalf("Parse(%q): String %q reparses as %q", s, c, c2)
		}
		if !utf8.ValidString(s) {
			return
		}
		// Compiling never panics; it may refuse pure exclusions.
		if _, err := CompileExpr(e); err != nil {
			var pe *ParseError
			if !errors.As(err, &pe) || pe.Pos < 0 || pe.Pos > len(s) {
				t.Fatalf("CompileExpr(%q): %v", s, err)
			}
		}
	})
}
