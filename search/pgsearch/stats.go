package pgsearch

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/glasshouse/glasshouse/search"
)

// termStats are PostgreSQL's statistics of the tsv column (the most common
// lexemes and their share of rows, from ANALYZE) and the table's row
// count, read at most once a minute. searchBounded uses them to choose how
// to read a word's candidates.
type termStats struct {
	mu      sync.Mutex
	loaded  time.Time
	rows    float64
	freq    map[string]float64
	sorted  []string // the lexemes of freq, sorted, for prefixes
	minFreq float64  // the least frequency a common lexeme has
}

const statsTTL = time.Minute

func (st *termStats) get(ctx context.Context, db *sql.DB) (*termStats, error) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if !st.loaded.IsZero() && time.Since(st.loaded) < statsTTL {
		return st, nil
	}
	var (
		rows         float64
		elems, freqs sql.NullString
		parsedElems  []string
		parsedFreqs  []float64
	)
	err := db.QueryRowContext(ctx, `SELECT c.reltuples::float8,
			(SELECT array_to_json(s.most_common_elems::text::text[])::text FROM pg_stats s WHERE s.schemaname = n.nspname AND s.tablename = 'search_seg' AND s.attname = 'tsv'),
			(SELECT array_to_json(s.most_common_elem_freqs)::text FROM pg_stats s WHERE s.schemaname = n.nspname AND s.tablename = 'search_seg' AND s.attname = 'tsv')
		FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = 'search_seg'::regclass`).Scan(&rows, &elems, &freqs)
	if err != nil {
		return nil, fmt.Errorf("read term statistics: %w", err)
	}
	if elems.Valid && freqs.Valid {
		if err := json.Unmarshal([]byte(elems.String), &parsedElems); err != nil {
			return nil, fmt.Errorf("decode term statistics: %w", err)
		}
		if err := json.Unmarshal([]byte(freqs.String), &parsedFreqs); err != nil {
			return nil, fmt.Errorf("decode term frequencies: %w", err)
		}
	}
	st.rows, st.freq, st.sorted, st.minFreq = max(rows, 0), map[string]float64{}, nil, 0
	// most_common_elem_freqs holds one frequency per element, then the
	// least and the greatest of them and the share of nulls.
	if len(parsedFreqs) >= len(parsedElems)+2 {
		for i, e := range parsedElems {
			st.freq[e] = parsedFreqs[i]
			st.sorted = append(st.sorted, e)
		}
		sort.Strings(st.sorted)
		st.minFreq = parsedFreqs[len(parsedElems)]
	}
	st.loaded = time.Now()
	return st, nil
}

// share estimates the share of rows that match m: common lexemes by their
// frequency, others as half the least common frequency, prefixes as the
// sum of the common lexemes they cover, words in one segment as if
// independent.
func (st *termStats) share(m *search.Match) float64 {
	if m == nil {
		return 1
	}
	switch m.Op {
	case search.MatchWords:
		var toks []string
		for _, w := range m.Words {
			toks = append(toks, search.Tokenize(fold(w))...)
		}
		f := 1.0
		for i, t := range toks {
			if m.Prefix && i == len(toks)-1 {
				f *= st.prefixShare(t)
			} else {
				f *= st.word(t)
			}
		}
		return f
	case search.MatchAnd:
		f := 1.0
		for _, k := range m.Kids {
			f *= st.share(k)
		}
		return f
	case search.MatchOr:
		f := 0.0
		for _, k := range m.Kids {
			f += st.share(k)
		}
		return min(f, 1)
	}
	return 1
}

func (st *termStats) word(w string) float64 {
	if f, ok := st.freq[w]; ok {
		return f
	}
	return st.minFreq / 2
}

func (st *termStats) prefixShare(p string) float64 {
	f := 0.0
	i := sort.SearchStrings(st.sorted, p)
	for ; i < len(st.sorted) && strings.HasPrefix(st.sorted[i], p); i++ {
		f += st.freq[st.sorted[i]]
	}
	return min(max(f, st.minFreq/2), 1)
}

// walk reports whether reading the table in quality order and testing
// each row finds bound matches of m sooner than reading every match
// through the GIN index: about lengthBias × bound/share rows against
// share × rows.
func (st *termStats) walk(m *search.Match, bound int) bool {
	f := st.share(m)
	return f > 0 && lengthBias*float64(bound)/f < f*st.rows
}

// lengthBias is how much rarer a word is among the first segments in
// quality order than in the whole table: the best buckets are the
// shortest segments, which hold fewer words. Measured on the benchmark
// corpus (bench/searchbench, 1M segments): about 20.
const lengthBias = 20
