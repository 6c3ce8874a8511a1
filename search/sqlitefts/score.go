package sqlitefts

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"

	"github.com/glasshouse/glasshouse/search"
)

// tagTokens is the number of tokens in a row's tags column.
const tagTokens = 4

// BM25 parameters, as FTS5's bm25().
const (
	bm25K1 = 1.2
	bm25B  = 0.75
)

// bm25TF is the term-frequency part of BM25 for tf occurrences in a
// segment of dl tokens when segments average avgdl tokens.
func bm25TF(tf, dl, avgdl float64) float64 {
	if avgdl <= 0 {
		avgdl = 1
	}
	return tf * (bm25K1 + 1) / (tf + bm25K1*(1-bm25B+bm25B*dl/avgdl))
}

// fold lower-cases a token and removes its diacritics, as the FTS5
// tokenizer (unicode61 remove_diacritics 2) does.
func fold(s string) string {
	ascii := true
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			ascii = false
			break
		}
	}
	if ascii {
		return strings.ToLower(s)
	}
	var b strings.Builder
	for _, r := range norm.NFD.String(s) {
		if !unicode.Is(unicode.Mn, r) {
			b.WriteRune(unicode.ToLower(r))
		}
	}
	return b.String()
}

func foldAll(ws []string) []string {
	for i, w := range ws {
		ws[i] = fold(w)
	}
	return ws
}

// phrase is one FTS5 phrase of a query: words in sequence, the last a
// prefix if prefix is set.
type phrase struct {
	words  []string
	prefix bool
	idf    float64
}

// scorer computes the score of package search for candidate segments:
// BM25 over the query's phrases (IDF from search_term and search_stat),
// times the confidence factor, times 2 for the exact phrase of an
// unquoted multi-word query.
type scorer struct {
	phrases []phrase
	boost   []string // Atom.Phrase, folded
	avgdl   float64
}

func collectPhrases(m *search.Match, out *[]phrase) {
	if m == nil {
		return
	}
	if m.Op == search.MatchWords {
		if len(m.Words) > 0 {
			ws := make([]string, len(m.Words))
			for i, w := range m.Words {
				ws[i] = fold(w)
			}
			*out = append(*out, phrase{words: ws, prefix: m.Prefix})
		}
		return
	}
	for _, k := range m.Kids {
		collectPhrases(k, out)
	}
}

// newScorer reads the statistics the atom's score needs.
func newScorer(ctx context.Context, db *sql.DB, a *search.Atom) (*scorer, error) {
	sc := &scorer{}
	collectPhrases(a.Match, &sc.phrases)
	for _, w := range a.Phrase {
		sc.boost = append(sc.boost, fold(w))
	}
	var docs, tokens int64
	if err := db.QueryRowContext(ctx, `SELECT docs, tokens FROM search_stat WHERE id = 1`).Scan(&docs, &tokens); err != nil {
		return nil, fmt.Errorf("read index statistics: %w", err)
	}
	if docs > 0 {
		sc.avgdl = float64(tokens)/float64(docs) + tagTokens
	}
	for i := range sc.phrases {
		p := &sc.phrases[i]
		// A phrase is in at most as many segments as its rarest word.
		df := int64(math.MaxInt64)
		for j, w := range p.words {
			var n int64
			var err error
			if p.prefix && j == len(p.words)-1 {
				err = db.QueryRowContext(ctx, `SELECT coalesce(sum(docs), 0) FROM search_term WHERE term >= ? AND term < ?`, w, prefixEnd(w)).Scan(&n)
			} else {
				err = db.QueryRowContext(ctx, `SELECT docs FROM search_term WHERE term = ?`, w).Scan(&n)
				if errors.Is(err, sql.ErrNoRows) {
					n, err = 0, nil
				}
			}
			if err != nil {
				return nil, fmt.Errorf("read term statistics: %w", err)
			}
			df = min(df, n)
		}
		df = min(df, docs)
		// As FTS5's bm25(): log((N - n + 0.5) / (n + 0.5)), at least 1e-6.
		p.idf = math.Log((float64(docs) - float64(df) + 0.5) / (float64(df) + 0.5))
		if p.idf <= 0 {
			p.idf = 1e-6
		}
	}
	return sc, nil
}

// prefixEnd returns the smallest string greater than every string that
// starts with p (p is letters and digits, so its last byte is < 0xff).
func prefixEnd(p string) string {
	b := []byte(p)
	b[len(b)-1]++
	return string(b)
}

// token is one word of a segment text: its bytes text[start:end], folded.
type token struct {
	start, end int
	s          string
}

// tokenize splits text into folded words the way search.Tokenize does
// (and FTS5 unicode61 with remove_diacritics), with their offsets; ASCII
// words without upper-case letters take no allocation.
func tokenize(text string, buf []token) []token {
	toks := buf[:0]
	start := -1
	ascii, upper := true, false
	flush := func(end int) {
		w := text[start:end]
		switch {
		case !ascii:
			w = fold(w)
		case upper:
			w = strings.ToLower(w)
		}
		toks = append(toks, token{start, end, w})
		start, ascii, upper = -1, true, false
	}
	for i := 0; i < len(text); {
		c := text[i]
		if c < utf8.RuneSelf {
			in := 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || 'A' <= c && c <= 'Z'
			switch {
			case in && start < 0:
				start = i
			case !in && start >= 0:
				flush(i)
			}
			if 'A' <= c && c <= 'Z' {
				upper = true
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(text[i:])
		in := unicode.IsLetter(r) || unicode.IsNumber(r) || unicode.Is(unicode.Mn, r) && start >= 0
		switch {
		case in && start < 0:
			start = i
			ascii = false
		case in:
			ascii = false
		case !in && start >= 0:
			flush(i)
		}
		i += size
	}
	if start >= 0 {
		flush(len(text))
	}
	return toks
}

// score returns the score of a segment with text and confidence.
func (sc *scorer) score(toks []token, confidence float64) float64 {
	// FTS5's bm25() takes the length of the whole row: text and tags.
	dl := float64(len(toks) + tagTokens)
	s := 0.0
	for _, p := range sc.phrases {
		if tf := len(occurrences(toks, p.words, p.prefix, nil)); tf > 0 {
			s += p.idf * bm25TF(float64(tf), dl, sc.avgdl)
		}
	}
	if s <= 0 {
		// FTS5 matched what this tokenizer does not see (a rare
		// Unicode difference): the segment still ranks, last.
		s = 1e-9
	}
	s *= 0.25 + 0.75*confidence
	if len(sc.boost) > 1 && len(occurrences(toks, sc.boost, false, nil)) > 0 {
		s *= 2
	}
	return s
}

// snippetTokens is the length of a snippet, in words, as FTS5's
// snippet(..., 24) in the exact search.
const snippetTokens = 24

// snippet returns the HTML snippet of a segment (see package search): the
// window of snippetTokens words with the most matched words, the
// occurrences of the query's phrases in <mark>. ok is false when no
// phrase was found (the caller then asks FTS5).
func (sc *scorer) snippet(text string, toks []token) (html string, ok bool) {
	var spans [][2]int // token ranges, [first, last]
	for _, p := range sc.phrases {
		for _, i := range occurrences(toks, p.words, p.prefix, nil) {
			spans = append(spans, [2]int{i, i + len(p.words) - 1})
		}
	}
	if len(spans) == 0 {
		return "", false
	}
	// Spans in order, overlapping ones merged.
	slices.SortFunc(spans, func(a, b [2]int) int { return cmp.Compare(a[0], b[0]) })
	merged := spans[:1]
	for _, sp := range spans[1:] {
		if last := &merged[len(merged)-1]; sp[0] <= last[1] {
			last[1] = max(last[1], sp[1])
		} else {
			merged = append(merged, sp)
		}
	}
	spans = merged
	marked := make([]bool, len(toks))
	for _, sp := range spans {
		for i := sp[0]; i <= sp[1]; i++ {
			marked[i] = true
		}
	}
	from, to := 0, len(toks) // window of tokens
	if len(toks) > snippetTokens {
		best, n := -1, 0
		for i := 0; i < snippetTokens; i++ {
			if marked[i] {
				n++
			}
		}
		for w := 0; w+snippetTokens <= len(toks); w++ {
			if w > 0 {
				if marked[w-1] {
					n--
				}
				if marked[w+snippetTokens-1] {
					n++
				}
			}
			if n > best {
				best, from = n, w
			}
		}
		to = from + snippetTokens
	}
	var b strings.Builder
	lo, hi := 0, len(text)
	if from > 0 {
		b.WriteString("…")
		lo = toks[from].start
	}
	if to < len(toks) {
		hi = toks[to-1].end
	}
	pos := lo
	for _, sp := range spans {
		i, j := max(sp[0], from), min(sp[1], to-1)
		if i > j {
			continue
		}
		b.WriteString(text[pos:toks[i].start])
		b.WriteString(markOpen)
		b.WriteString(text[toks[i].start:toks[j].end])
		b.WriteString(markClose)
		pos = toks[j].end
	}
	b.WriteString(text[pos:hi])
	if to < len(toks) {
		b.WriteString("…")
	}
	return search.MarkSnippet(b.String(), markOpen, markClose), true
}

// occurrences appends to out the positions in toks where words occur in
// sequence (the last word a prefix if prefix is set).
func occurrences(toks []token, words []string, prefix bool, out []int) []int {
	last := len(words) - 1
outer:
	for i := 0; i+len(words) <= len(toks); i++ {
		for j, w := range words {
			t := toks[i+j].s
			if j == last && prefix {
				if !strings.HasPrefix(t, w) {
					continue outer
				}
			} else if t != w {
				continue outer
			}
		}
		out = append(out, i)
	}
	return out
}
