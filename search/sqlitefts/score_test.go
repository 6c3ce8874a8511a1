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

// An index of the first layout (text in FTS5, no tags) is converted by
// New without losing a segment.
func TestMigrateV1(t *testing.T) {
	db, err := sql.Open("sqlite", "file:"+filepath.Join(t.TempDir(), "gh.db")+"?_pragma=journal_mode(WAL)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	for _, q := range []string{
		`CREATE TABLE search_seg (id INTEGER PRIMARY KEY, tenant TEXT NOT NULL, asset TEXT NOT NULL, collection TEXT NOT NULL,
			media_kind TEXT NOT NULL, kind TEXT NOT NULL, source TEXT NOT NULL, start_ms INTEGER NOT NULL, end_ms INTEGER NOT NULL,
			confidence REAL NOT NULL, created INTEGER NOT NULL, thash INTEGER NOT NULL)`,
		`CREATE UNIQUE INDEX search_seg_key ON search_seg(asset, source, kind, start_ms, end_ms, thash)`,
		`CREATE INDEX search_seg_tenant ON search_seg(tenant, kind, asset)`,
		`CREATE VIRTUAL TABLE search_fts USING fts5(text, tokenize='unicode61 remove_diacritics 2', prefix='2 3')`,
		`INSERT INTO search_seg VALUES (1, 't1', 'a1', 'news', 'video', 'speech', 'speech', 0, 1000, 0.9, 1750000000000, 1)`,
		`INSERT INTO search_fts(rowid, text) VALUES (1, 'the evacuation route')`,
		`INSERT INTO search_seg VALUES (2, 't1', 'a2', 'archive', 'audio', 'label', 'labels', 0, 1000, 0.5, 0, 2)`,
		`INSERT INTO search_fts(rowid, text) VALUES (2, 'dog')`,
	} {
		if _, err := db.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	x, err := New(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		q    string
		want []glasshouse.AssetID
	}{{"evacuation", []glasshouse.AssetID{"a1"}}, {"label:dog", []glasshouse.AssetID{"a2"}}, {"collection:archive", []glasshouse.AssetID{"a2"}}, {"after:2025-01-01 route", []glasshouse.AssetID{"a1"}}} {
		h, err := x.Search(ctx, search.Query{Tenant: "t1", Text: c.q})
		if err != nil {
			t.Fatal(err)
		}
		var got []glasshouse.AssetID
		for _, g := range h.Assets {
			got = append(got, g.Asset)
		}
		if !slices.Equal(got, c.want) {
			t.Errorf("%q after conversion: %v, want %v", c.q, got, c.want)
		}
	}
	// Opening again changes nothing.
	if _, err := New(ctx, db); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := db.QueryRow(`SELECT count(*) FROM search_seg`).Scan(&n); err != nil || n != 2 {
		t.Errorf("segments after reopening: %d (%v), want 2", n, err)
	}
}

// Tags narrow FTS5 matching for a small tenant and collection; moving an
// asset, changing a segment's confidence and deleting keep the tags and
// the term counts right.
func TestTagsAndCounts(t *testing.T) {
	x, db := testIndex(t)
	corpus(t, x, 200, 3) // tenants t1 and t2
	ctx := context.Background()
	small := func(asset, text string, conf float64) glasshouse.Segment {
		return glasshouse.Segment{Tenant: "t9", Asset: glasshouse.AssetID(asset), Collection: "tiny", MediaKind: glasshouse.KindAudio,
			Kind: glasshouse.SegSpeech, Source: "s", EndMS: 1, Text: text, Confidence: conf}
	}
	if err := x.Upsert(ctx, small("z1", "harbour walrus", 0.9), small("z2", "walrus", 0.2)); err != nil {
		t.Fatal(err)
	}
	ids := func(q search.Query) []glasshouse.AssetID {
		h, err := x.Search(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		var out []glasshouse.AssetID
		for _, g := range h.Assets {
			out = append(out, g.Asset)
		}
		return out
	}
	b := &builder{tenant: "t9", filter: search.Filter{Collections: []string{"tiny"}}}
	if err := b.loadTags(ctx, db); err != nil {
		t.Fatal(err)
	}
	plan, _ := search.Compile("harbour")
	if m := b.ftsMatch(plan.Root.Atom); !strings.Contains(m, tenantTag("t9")) || !strings.Contains(m, collectionTag("tiny")) {
		t.Fatalf("MATCH %q lacks the tags of a small tenant and collection", m)
	}
	if got := ids(search.Query{Tenant: "t9", Text: "harbour", Collections: []string{"tiny"}}); !slices.Equal(got, []glasshouse.AssetID{"z1"}) {
		t.Errorf("t9 harbour: %v", got)
	}
	if err := x.SetCollection(ctx, "t9", "z1", "other"); err != nil {
		t.Fatal(err)
	}
	if got := ids(search.Query{Tenant: "t9", Text: "harbour", Collections: []string{"tiny"}}); len(got) != 0 {
		t.Errorf("t9 harbour in tiny after the move: %v", got)
	}
	if got := ids(search.Query{Tenant: "t9", Text: "collection:other walrus"}); !slices.Equal(got, []glasshouse.AssetID{"z1"}) {
		t.Errorf("t9 walrus in other after the move: %v", got)
	}
	// A new confidence may move the segment to another bucket (a new id).
	if err := x.Upsert(ctx, small("z2", "walrus", 1)); err != nil {
		t.Fatal(err)
	}
	if got := ids(search.Query{Tenant: "t9", Text: "walrus"}); !slices.Equal(got, []glasshouse.AssetID{"z2", "z1"}) {
		t.Errorf("t9 walrus after raising z2's confidence: %v, want [z2 z1]", got)
	}
	docs := func(term string) int {
		var n int
		err := db.QueryRow(`SELECT docs FROM search_term WHERE term = ?`, term).Scan(&n)
		if err != nil && err != sql.ErrNoRows {
			t.Fatal(err)
		}
		return n
	}
	if n := docs("walrus"); n != 2 {
		t.Errorf("walrus in %d segments, want 2", n)
	}
	if n := docs(collectionTag("other")); n != 1 {
		t.Errorf("collection other tagged on %d segments, want 1", n)
	}
	if err := x.Delete(ctx, "z1", "z2"); err != nil {
		t.Fatal(err)
	}
	if n := docs("walrus") + docs(tenantTag("t9")) + docs(collectionTag("other")) + docs(collectionTag("tiny")); n != 0 {
		t.Errorf("counts left after deleting every t9 segment: %d", n)
	}
	var segs, ftsRows int
	db.QueryRow(`SELECT docs FROM search_stat`).Scan(&segs)
	db.QueryRow(`SELECT count(*) FROM search_seg`).Scan(&ftsRows)
	if segs != ftsRows || segs != 200 {
		t.Errorf("search_stat counts %d segments, table holds %d, want 200", segs, ftsRows)
	}
	if _, err := db.Exec(`INSERT INTO search_fts(search_fts, rank) VALUES ('integrity-check', 1)`); err != nil {
		t.Errorf("FTS5 integrity check: %v", err)
	}
}

// An exact label condition next to text reads index search_seg_label,
// not FTS5 and not the table.
func TestLabelPlan(t *testing.T) {
	x, db := testIndex(t)
	corpus(t, x, 50, 4)
	b := &builder{tenant: "t1", filter: search.Filter{Collections: []string{"news"}}}
	plan, err := search.Compile(`label:"traffic light" AND in:text harbour`)
	if err != nil {
		t.Fatal(err)
	}
	var args []any
	q := b.setSQL(plan.Root.Kids[1], &args)
	rows, err := db.Query("EXPLAIN QUERY PLAN "+q, args...)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var plans []string
	for rows.Next() {
		var id, parent, notused int
		var detail string
		if err := rows.Scan(&id, &parent, &notused, &detail); err != nil {
			t.Fatal(err)
		}
		plans = append(plans, detail)
	}
	if len(plans) != 1 || !strings.Contains(plans[0], "COVERING INDEX search_seg_label") {
		t.Errorf("plan of %s: %q, want the covering index search_seg_label", q, plans)
	}
}
