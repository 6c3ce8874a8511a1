package sqlitefts

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"

	"github.com/glasshouse/glasshouse/search"
)

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
		sc.avgdl = float64(tokens) / float64(docs)
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

// score returns the score of a segment with text and confidence.
func (sc *scorer) score(text string, confidence float64) float64 {
	toks := foldAll(search.Tokenize(text))
	dl := float64(len(toks))
	s := 0.0
	for _, p := range sc.phrases {
		if tf := count(toks, p.words, p.prefix); tf > 0 {
			s += p.idf * bm25TF(float64(tf), dl, sc.avgdl)
		}
	}
	if s <= 0 {
		// FTS5 matched what this tokenizer does not see (a rare
		// Unicode difference): the segment still ranks, last.
		s = 1e-9
	}
	s *= 0.25 + 0.75*confidence
	if len(sc.boost) > 1 && count(toks, sc.boost, false) > 0 {
		s *= 2
	}
	return s
}

// count returns the occurrences of words in sequence in toks.
func count(toks, words []string, prefix bool) int {
	n := 0
	last := len(words) - 1
outer:
	for i := 0; i+len(words) <= len(toks); i++ {
		for j, w := range words {
			t := toks[i+j]
			if j == last && prefix {
				if !strings.HasPrefix(t, w) {
					continue outer
				}
			} else if t != w {
				continue outer
			}
		}
		n++
	}
	return n
}
