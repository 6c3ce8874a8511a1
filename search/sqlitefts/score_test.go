package sqlitefts

import (
	"context"
	"database/sql"
	"fmt"
	"math"
	"math/rand"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	_ "modernc.org/sqlite"

	"github.com/glasshouse/glasshouse"
	"github.com/glasshouse/glasshouse/search"
)

func testIndex(t *testing.T) (*Index, *sql.DB) {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(t.TempDir(), "gh.db")+"?_pragma=journal_mode(WAL)&_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	x, err := New(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	return x, db
}

// corpus writes n segments of words drawn unevenly from a small
// vocabulary, over 40 assets of two tenants.
func corpus(t *testing.T, x *Index, n int, seed int64) {
	t.Helper()
	r := rand.New(rand.NewSource(seed))
	vocab := []string{"harbour", "crane", "fire", "flood", "river", "bridge", "Évacuation", "evacuation", "city", "council", "north", "route", "truck", "smoke", "alarm", "crowd"}
	zipf := rand.NewZipf(r, 1.3, 1, uint64(len(vocab)-1))
	var segs []glasshouse.Segment
	for i := range n {
		words := make([]string, 1+r.Intn(15))
		for j := range words {
			words[j] = vocab[zipf.Uint64()]
		}
		a := i % 40
		segs = append(segs, glasshouse.Segment{
			Tenant: glasshouse.TenantID([]string{"t1", "t2"}[a%2]), Asset: glasshouse.AssetID(fmt.Sprintf("a%02d", a)),
			Collection: []string{"news", "archive"}[a%3%2], MediaKind: glasshouse.KindVideo,
			Kind: []string{glasshouse.SegSpeech, glasshouse.SegText}[r.Intn(2)], Source: "s",
			StartMS: int64(i) * 1000, EndMS: int64(i)*1000 + 500, Text: strings.Join(words, " ") + ".", Confidence: r.Float64(),
		})
	}
	if err := x.Upsert(context.Background(), segs...); err != nil {
		t.Fatal(err)
	}
}

// The score computed in Go for the bounded search equals FTS5's bm25()
// (the ground truth of the exact search) times the confidence factor.
func TestScoreMatchesFTS5(t *testing.T) {
	x, db := testIndex(t)
	corpus(t, x, 600, 1)
	ctx := context.Background()
	for _, q := range []string{"harbour", "crane", "evacuation", "Évacuation", "alarm", "fire smoke", "cit*", "crane OR alarm"} {
		plan, err := search.Compile(q)
		if err != nil {
			t.Fatal(err)
		}
		a := plan.Root.Atom
		a.Phrase = nil // FTS5 knows no phrase bonus
		sc, err := newScorer(ctx, db, a)
		if err != nil {
			t.Fatal(err)
		}
		rows, err := db.Query(`SELECT s.text, s.confidence, -bm25(search_fts) FROM search_fts JOIN search_seg s ON s.id = search_fts.rowid WHERE search_fts MATCH ?`, textMatch(a.Match))
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for rows.Next() {
			var text string
			var conf, want float64
			if err := rows.Scan(&text, &conf, &want); err != nil {
				t.Fatal(err)
			}
			want *= 0.25 + 0.75*conf
			got := sc.score(tokenize(text, nil), conf)
			if math.Abs(got-want) > 1e-9*math.Max(1, math.Abs(want)) {
				t.Errorf("%q on %q: score %v, FTS5 bm25 gives %v", q, text, got, want)
			}
			n++
		}
		rows.Close()
		if n == 0 {
			t.Errorf("%q matched nothing", q)
		}
	}
}

// With a bound below the number of matches, the bounded search returns
// a lower-bound total, and its pages are the best of the candidates; with
// a bound above it, the same results as without a bound.
func TestBound(t *testing.T) {
	x, _ := testIndex(t)
	corpus(t, x, 600, 2)
	ctx := context.Background()
	all := func(q search.Query) (ids []glasshouse.AssetID, total int, est bool) {
		for {
			h, err := x.Search(ctx, q)
			if err != nil {
				t.Fatal(err)
			}
			for _, g := range h.Assets {
				ids = append(ids, g.Asset)
			}
			total, est = h.Total, h.TotalEstimated
			if h.Next == "" {
				return ids, total, est
			}
			q.Cursor = h.Next
		}
	}
	q := search.Query{Tenant: "t1", Text: "harbour", Limit: 3}
	exact, total, est := all(q)
	if est || total != len(exact) || total == 0 {
		t.Fatalf("unbounded: total %d (estimated %v), %d assets", total, est, len(exact))
	}
	x.SetBound(10)
	got, total, est := all(q)
	if !est || total != len(got) || total > 10 || total == 0 {
		t.Errorf("bound 10: total %d (estimated %v), %d assets", total, est, len(got))
	}
	for _, a := range got {
		if !slices.Contains(exact, a) {
			t.Errorf("bound 10: asset %s not in the exact result", a)
		}
	}
	x.SetBound(100000)
	got, _, est = all(q)
	if est || !slices.Equal(got, exact) {
		t.Errorf("large bound: %v (estimated %v), want %v", got, est, exact)
	}
}

func TestSnippet(t *testing.T) {
	for _, c := range []struct{ q, text, want string }{
		{"fire", "Fire & smoke <now>", "<mark>Fire</mark> &amp; smoke &lt;now&gt;"},
		{`"red car"`, "the red car was red", "the <mark>red car</mark> was red"},
		{"red car", "the red car was red", "the <mark>red</mark> <mark>car</mark> was <mark>red</mark>"},
		{"evac*", "Évacuation now", "<mark>Évacuation</mark> now"},
		{"x", strings.Repeat("a ", 30) + "x " + strings.Repeat("b ", 30), "…a a a a a a a a a a a a a a a a a a a a a a a <mark>x</mark>…"},
	} {
		plan, err := search.Compile(c.q)
		if err != nil {
			t.Fatal(err)
		}
		sc := &scorer{}
		collectPhrases(plan.Root.Atom.Match, &sc.phrases)
		got, ok := sc.snippet(c.text, tokenize(c.text, nil))
		if !ok || got != c.want {
			t.Errorf("%q in %q: snippet %q (%v), want %q", c.q, c.text, got, ok, c.want)
		}
	}
}
