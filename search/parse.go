package search

import (
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/glasshouse/glasshouse"
)

// ParseError is a syntax error in a query. Pos is the byte offset in the
// query where the problem is. It is a glasshouse.ErrInvalid.
type ParseError struct {
	Pos int
	Msg string
}

func (e *ParseError) Error() string { return fmt.Sprintf("%s at %d", e.Msg, e.Pos) }

// Unwrap makes errors.Is(err, glasshouse.ErrInvalid) true.
func (e *ParseError) Unwrap() error { return glasshouse.ErrInvalid }

// Expr is a parsed query: *Text, *Field, *And, *Or or *Not.
type Expr interface {
	// String returns the query in canonical form; parsing it gives the
	// same expression.
	String() string
	expr()
}

// Text is a word, a prefix or a phrase. Words are lower-cased tokens of
// letters and digits (what the index tokenizer sees); a typed word that
// holds punctuation ("e-mail") becomes a phrase of its tokens.
type Text struct {
	Words  []string
	Prefix bool // the last word is a prefix (word*)
	Quoted bool // typed as "a phrase"
	Pos    int
}

// Field is a filter such as in:speech, label:dog, collection:x, type:video,
// after:2025-07-01 or before:2025-07-01.
type Field struct {
	Name       string                 // in, label, collection, type, after, before
	Pos        int                    // where the field name starts
	Kinds      []string               // in: segment kinds (glasshouse.Seg*)
	Types      []glasshouse.MediaKind // type:
	Label      *Text                  // label:
	Collection string                 // collection:
	Time       time.Time              // after:, before: (midnight UTC)
}

// And holds conditions that must all hold.
type And struct{ Kids []Expr }

// Or holds alternatives.
type Or struct{ Kids []Expr }

// Not excludes assets that match Kid.
type Not struct {
	Kid Expr
	Pos int
}

func (*Text) expr()  {}
func (*Field) expr() {}
func (*And) expr()   {}
func (*Or) expr()    {}
func (*Not) expr()   {}

func (t *Text) String() string {
	s := strings.Join(t.Words, " ")
	if t.Quoted || len(t.Words) > 1 {
		s = `"` + s + `"`
	}
	if t.Prefix {
		s += "*"
	}
	return s
}

func (f *Field) String() string {
	switch f.Name {
	case "in":
		return "in:" + strings.Join(f.Kinds, ",")
	case "type":
		ks := make([]string, len(f.Types))
		for i, k := range f.Types {
			ks[i] = string(k)
		}
		return "type:" + strings.Join(ks, ",")
	case "label":
		return "label:" + f.Label.String()
	case "collection":
		if needsQuote(f.Collection) {
			return `collection:"` + f.Collection + `"`
		}
		return "collection:" + f.Collection
	default: // after, before
		return f.Name + ":" + f.Time.Format(time.DateOnly)
	}
}

func needsQuote(s string) bool {
	return s == "" || strings.ContainsAny(s, " \t\r\n()\"") || strings.HasPrefix(s, "-")
}

func (a *And) String() string { return joinExprs(a.Kids, " ", true) }
func (o *Or) String() string  { return joinExprs(o.Kids, " OR ", false) }
func (n *Not) String() string {
	switch n.Kid.(type) {
	case *And, *Or:
		return "-(" + n.Kid.String() + ")"
	}
	return "-" + n.Kid.String()
}

func joinExprs(kids []Expr, sep string, parenOr bool) string {
	parts := make([]string, len(kids))
	for i, k := range kids {
		s := k.String()
		switch k.(type) {
		case *Or:
			if parenOr {
				s = "(" + s + ")"
			}
		}
		parts[i] = s
	}
	return strings.Join(parts, sep)
}

// Fields are the filter names the language knows.
var fieldNames = []string{"in", "label", "collection", "type", "after", "before"}

// segKinds are the values of in:, with aliases.
var segKinds = map[string]string{
	glasshouse.SegSpeech: glasshouse.SegSpeech, "transcript": glasshouse.SegSpeech,
	glasshouse.SegText: glasshouse.SegText, "ocr": glasshouse.SegText,
	glasshouse.SegLabel: glasshouse.SegLabel, "labels": glasshouse.SegLabel,
	glasshouse.SegKeyword: glasshouse.SegKeyword, "keywords": glasshouse.SegKeyword,
	glasshouse.SegName: glasshouse.SegName, "filename": glasshouse.SegName,
	glasshouse.SegNote: glasshouse.SegNote, "notes": glasshouse.SegNote,
}

var mediaKinds = map[string]glasshouse.MediaKind{
	"video": glasshouse.KindVideo, "audio": glasshouse.KindAudio, "image": glasshouse.KindImage,
	"videos": glasshouse.KindVideo, "images": glasshouse.KindImage, "photo": glasshouse.KindImage,
}

// ---------------------------------------------------------------------------
// Lexer

type tokKind int

const (
	tEOF tokKind = iota
	tWord
	tQuote
	tField // name: (the value follows as the next token)
	tLParen
	tRParen
	tAnd
	tOr
	tNot // NOT or a leading "-"
)

type token struct {
	kind   tokKind
	text   string // word text, phrase content, field name
	pos    int
	end    int  // byte offset after the token
	prefix bool // a quoted phrase followed by *
}

func isSpace(r rune) bool { return unicode.IsSpace(r) }

// lex splits s into tokens.
func lex(s string) ([]token, error) {
	var toks []token
	i := 0
	for i < len(s) {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case isSpace(r):
			i += n
		case r == '(':
			toks = append(toks, token{kind: tLParen, pos: i, end: i + 1})
			i++
		case r == ')':
			toks = append(toks, token{kind: tRParen, pos: i, end: i + 1})
			i++
		case r == '"':
			t, err := lexQuote(s, i)
			if err != nil {
				return nil, err
			}
			toks = append(toks, t)
			i = t.end
		case r == '-' && i+1 < len(s) && startsTerm(s[i+1:]):
			toks = append(toks, token{kind: tNot, text: "-", pos: i, end: i + 1})
			i++
		default:
			j := i
			colon := -1
			for j < len(s) {
				r, n := utf8.DecodeRuneInString(s[j:])
				if isSpace(r) || r == '(' || r == ')' || r == '"' {
					break
				}
				j += n
				if r == ':' && colon < 0 {
					colon = j - 1
					if isFieldName(s[i:colon]) {
						break
					}
				}
			}
			w := s[i:j]
			if colon >= 0 && colon == j-1 && isFieldName(s[i:colon]) {
				toks = append(toks, token{kind: tField, text: strings.ToLower(s[i:colon]), pos: i, end: j})
				i = j
				// The value is lexed raw: no keywords, no "-".
				if i < len(s) && s[i] == '"' {
					t, err := lexQuote(s, i)
					if err != nil {
						return nil, err
					}
					toks = append(toks, t)
					i = t.end
					continue
				}
				k := i
				for k < len(s) {
					r, n := utf8.DecodeRuneInString(s[k:])
					if isSpace(r) || r == '(' || r == ')' || r == '"' {
						break
					}
					k += n
				}
				if k > i {
					toks = append(toks, token{kind: tWord, text: s[i:k], pos: i, end: k})
					i = k
				}
				continue
			}
			k := tWord
			switch w {
			case "AND":
				k = tAnd
			case "OR":
				k = tOr
			case "NOT":
				k = tNot
			}
			toks = append(toks, token{kind: k, text: w, pos: i, end: j})
			i = j
		}
	}
	toks = append(toks, token{kind: tEOF, pos: len(s), end: len(s)})
	return toks, nil
}

// startsTerm reports whether s (after a "-") begins something that can be
// excluded: not a space, not another "-", not ")".
func startsTerm(s string) bool {
	r, _ := utf8.DecodeRuneInString(s)
	return !isSpace(r) && r != ')' && r != '-'
}

func isFieldName(s string) bool {
	if s == "" || len(s) > 20 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			return false
		}
	}
	return true
}

func lexQuote(s string, i int) (token, error) {
	j := strings.IndexByte(s[i+1:], '"')
	if j < 0 {
		return token{}, &ParseError{Pos: i, Msg: "unterminated quote"}
	}
	end := i + 1 + j + 1
	t := token{kind: tQuote, text: s[i+1 : end-1], pos: i, end: end}
	if end < len(s) && s[end] == '*' {
		t.prefix = true
		t.end++
	}
	return t, nil
}

// ---------------------------------------------------------------------------
// Parser

type parser struct {
	s    string
	toks []token
	i    int
}

func (p *parser) peek() token { return p.toks[p.i] }
func (p *parser) next() token {
	t := p.toks[p.i]
	if t.kind != tEOF {
		p.i++
	}
	return t
}

// Bounds of a query, so that one request cannot build a huge SQL statement.
const (
	MaxQueryBytes = 1000
	maxTokens     = 100
	maxDepth      = 10
)

// Parse parses a query. Errors are *ParseError.
func Parse(s string) (Expr, error) {
	if strings.TrimSpace(s) == "" {
		return nil, &ParseError{Pos: 0, Msg: "empty query"}
	}
	if len(s) > MaxQueryBytes {
		return nil, &ParseError{Pos: MaxQueryBytes, Msg: fmt.Sprintf("query longer than %d bytes", MaxQueryBytes)}
	}
	toks, err := lex(s)
	if err != nil {
		return nil, err
	}
	if len(toks) > maxTokens+1 {
		return nil, &ParseError{Pos: toks[maxTokens].pos, Msg: fmt.Sprintf("query has more than %d terms and operators", maxTokens)}
	}
	depth := 0
	for _, t := range toks {
		if t.kind == tLParen {
			if depth++; depth > maxDepth {
				return nil, &ParseError{Pos: t.pos, Msg: fmt.Sprintf("parentheses nested deeper than %d", maxDepth)}
			}
		} else if t.kind == tRParen {
			depth--
		}
	}
	p := &parser{s: s, toks: toks}
	e, err := p.parseOr()
	if err != nil {
		return nil, err
	}
	if t := p.peek(); t.kind != tEOF {
		// Only an unmatched ")" can stop parseOr before the end.
		return nil, &ParseError{Pos: t.pos, Msg: `unbalanced ")"`}
	}
	if e == nil {
		return nil, &ParseError{Pos: 0, Msg: "nothing to search for (no words or filters)"}
	}
	return e, nil
}

func endsGroup(k tokKind) bool { return k == tEOF || k == tRParen }

func (p *parser) parseOr() (Expr, error) {
	var kids []Expr
	if t := p.peek(); t.kind == tOr {
		return nil, &ParseError{Pos: t.pos, Msg: "dangling OR"}
	}
	e, err := p.parseAnd()
	if err != nil {
		return nil, err
	}
	if e != nil {
		kids = append(kids, e)
	}
	for p.peek().kind == tOr {
		or := p.next()
		if k := p.peek().kind; endsGroup(k) || k == tOr || k == tAnd {
			return nil, &ParseError{Pos: or.pos, Msg: "dangling OR"}
		}
		e, err := p.parseAnd()
		if err != nil {
			return nil, err
		}
		if e != nil {
			kids = append(kids, e)
		}
	}
	switch len(kids) {
	case 0:
		return nil, nil
	case 1:
		return kids[0], nil
	}
	var flat []Expr
	for _, k := range kids {
		if o, ok := k.(*Or); ok {
			flat = append(flat, o.Kids...)
		} else {
			flat = append(flat, k)
		}
	}
	return &Or{Kids: flat}, nil
}

func (p *parser) parseAnd() (Expr, error) {
	var kids []Expr
	seen := false // an operand was parsed (even one that had no words)
	for {
		t := p.peek()
		if endsGroup(t.kind) || t.kind == tOr {
			break
		}
		if t.kind == tAnd {
			p.next()
			if k := p.peek().kind; !seen || endsGroup(k) || k == tOr || k == tAnd {
				return nil, &ParseError{Pos: t.pos, Msg: "dangling AND"}
			}
			continue
		}
		e, err := p.parseUnary()
		if err != nil {
			return nil, err
		}
		seen = true
		if e != nil {
			kids = append(kids, e)
		}
	}
	switch len(kids) {
	case 0:
		return nil, nil
	case 1:
		return kids[0], nil
	}
	var flat []Expr
	for _, k := range kids {
		if a, ok := k.(*And); ok {
			flat = append(flat, a.Kids...)
		} else {
			flat = append(flat, k)
		}
	}
	return &And{Kids: flat}, nil
}

func (p *parser) parseUnary() (Expr, error) {
	t := p.peek()
	if t.kind != tNot {
		return p.parsePrimary()
	}
	p.next()
	if k := p.peek().kind; endsGroup(k) || k == tOr || k == tAnd {
		name := "NOT"
		if t.text == "-" {
			name = `"-"`
		}
		return nil, &ParseError{Pos: t.pos, Msg: "dangling " + name}
	}
	kid, err := p.parseUnary()
	if err != nil || kid == nil {
		return nil, err
	}
	if n, ok := kid.(*Not); ok { // double negation
		return n.Kid, nil
	}
	return &Not{Kid: kid, Pos: t.pos}, nil
}

func (p *parser) parsePrimary() (Expr, error) {
	t := p.next()
	switch t.kind {
	case tLParen:
		if p.peek().kind == tRParen {
			return nil, &ParseError{Pos: t.pos, Msg: `empty parentheses "()"`}
		}
		e, err := p.parseOr()
		if err != nil {
			return nil, err
		}
		if p.peek().kind != tRParen {
			return nil, &ParseError{Pos: t.pos, Msg: `missing ")" for "("`}
		}
		p.next()
		return e, nil
	case tRParen:
		return nil, &ParseError{Pos: t.pos, Msg: `unbalanced ")"`}
	case tQuote:
		return newText(t.text, t.prefix, true, t.pos), nil
	case tWord:
		w, prefix := t.text, false
		if strings.HasSuffix(w, "*") {
			w, prefix = strings.TrimRight(w, "*"), true
		}
		return newText(w, prefix, false, t.pos), nil
	case tField:
		return p.parseField(t)
	}
	// tEOF, tAnd, tOr, tNot are handled by the callers.
	return nil, &ParseError{Pos: t.pos, Msg: "unexpected " + describe(t)}
}

func describe(t token) string {
	switch t.kind {
	case tEOF:
		return "end of query"
	case tAnd, tOr, tNot:
		return t.text
	}
	return fmt.Sprintf("%q", t.text)
}

// newText builds a Text of the tokens of s, or returns nil (no Expr) if s
// has no letters or digits.
func newText(s string, prefix, quoted bool, pos int) Expr {
	words := Tokenize(s)
	if len(words) == 0 {
		return nil
	}
	return &Text{Words: words, Prefix: prefix, Quoted: quoted, Pos: pos}
}

// Tokenize splits s into lower-cased words of letters and digits, the way
// the index tokenizer does (FTS5 unicode61).
func Tokenize(s string) []string {
	var words []string
	start := -1
	for i, r := range s {
		in := unicode.IsLetter(r) || unicode.IsNumber(r) || unicode.Is(unicode.Mn, r) && start >= 0
		switch {
		case in && start < 0:
			start = i
		case !in && start >= 0:
			words = append(words, strings.ToLower(s[start:i]))
			start = -1
		}
	}
	if start >= 0 {
		words = append(words, strings.ToLower(s[start:]))
	}
	return words
}

func (p *parser) parseField(ft token) (Expr, error) {
	name := ft.text
	known := false
	for _, f := range fieldNames {
		if f == name {
			known = true
		}
	}
	if !known {
		msg := fmt.Sprintf("unknown field %q", name)
		if s := suggest(name, fieldNames); s != "" {
			msg += " (did you mean " + s + "?)"
		} else {
			msg += " (fields: " + strings.Join(fieldNames, ", ") + `; put text with ":" in quotes)`
		}
		return nil, &ParseError{Pos: ft.pos, Msg: msg}
	}
	// The value must follow the colon directly.
	v := p.peek()
	if v.pos != ft.end || v.kind != tWord && v.kind != tQuote {
		return nil, &ParseError{Pos: ft.end, Msg: "missing value for " + name + ":"}
	}
	p.next()
	f := &Field{Name: name, Pos: ft.pos}
	val := v.text
	bad := func(what string) error {
		return &ParseError{Pos: v.pos, Msg: fmt.Sprintf("invalid %s %q for %s:", what, val, name)}
	}
	switch name {
	case "in":
		for _, part := range splitList(val) {
			k, ok := segKinds[strings.ToLower(part)]
			if !ok {
				msg := fmt.Sprintf("unknown kind %q for in:", part)
				if s := suggest(strings.ToLower(part), []string{"speech", "text", "label", "keyword", "name", "note"}); s != "" {
					msg += " (did you mean " + s + "?)"
				} else {
					msg += " (speech, text, label, keyword, name or note)"
				}
				return nil, &ParseError{Pos: v.pos, Msg: msg}
			}
			f.Kinds = appendUnique(f.Kinds, k)
		}
		if len(f.Kinds) == 0 {
			return nil, bad("kind")
		}
	case "type":
		for _, part := range splitList(val) {
			k, ok := mediaKinds[strings.ToLower(part)]
			if !ok {
				return nil, &ParseError{Pos: v.pos, Msg: fmt.Sprintf("unknown media type %q for type: (video, audio or image)", part)}
			}
			if !containsKind(f.Types, k) {
				f.Types = append(f.Types, k)
			}
		}
		if len(f.Types) == 0 {
			return nil, bad("media type")
		}
	case "label":
		prefix := v.prefix
		if v.kind == tWord && strings.HasSuffix(val, "*") {
			val, prefix = strings.TrimRight(val, "*"), true
		}
		t := newText(val, prefix, v.kind == tQuote, v.pos)
		if t == nil {
			return nil, bad("label")
		}
		f.Label = t.(*Text)
	case "collection":
		if v.prefix { // collection:"x"* is not a thing
			return nil, &ParseError{Pos: v.end - 1, Msg: "prefix * not allowed for collection:"}
		}
		if val == "" {
			return nil, bad("collection")
		}
		f.Collection = val
	case "after", "before":
		d, err := time.Parse(time.DateOnly, val)
		if err != nil || v.prefix {
			return nil, bad("date")
		}
		f.Time = d.UTC()
	}
	return f, nil
}

func splitList(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == '|' })
}

func appendUnique(ss []string, s string) []string {
	for _, x := range ss {
		if x == s {
			return ss
		}
	}
	return append(ss, s)
}

func containsKind(ks []glasshouse.MediaKind, k glasshouse.MediaKind) bool {
	for _, x := range ks {
		if x == k {
			return true
		}
	}
	return false
}

// suggest returns the candidate closest to s within edit distance 2.
func suggest(s string, candidates []string) string {
	best, bestD := "", 3
	for _, c := range candidates {
		if d := editDistance(s, c); d < bestD {
			best, bestD = c, d
		}
	}
	return best
}

// editDistance is the Damerau-Levenshtein (optimal string alignment)
// distance between a and b.
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	if len(ra) > 40 || len(rb) > 40 {
		return 99
	}
	d := make([][]int, len(ra)+1)
	for i := range d {
		d[i] = make([]int, len(rb)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(ra); i++ {
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(ra)][len(rb)]
}
