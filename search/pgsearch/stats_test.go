package pgsearch

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"testing"

	"github.com/glasshouse/glasshouse"
	"github.com/glasshouse/glasshouse/internal/pgtest"
	"github.com/glasshouse/glasshouse/search"
)

// After ANALYZE, a word in every segment is read by walking the quality
// index and a word in a few by the GIN index, and both give the results of
// the exact (unbounded) search where they can.
func TestPlanChoice(t *testing.T) {
	db, err := sql.Open("pgx", pgtest.NewDB(t))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	x, err := New(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	var segs []glasshouse.Segment
	for i := range 4000 {
		text := fmt.Sprintf("common words w%d", i%50)
		if i%1000 == 7 {
			text += " zebra"
		}
		segs = append(segs, glasshouse.Segment{Asset: glasshouse.AssetID(fmt.Sprintf("a%03d", i/20)), Tenant: "t", Collection: "c",
			MediaKind: glasshouse.KindVideo, Kind: glasshouse.SegSpeech, Source: "speech", StartMS: int64(i%20) * 1000, EndMS: int64(i%20)*1000 + 900,
			Text: text, Confidence: min(1, 0.2+0.8*float64(i%97)/97)})
	}
	if err := x.Upsert(ctx, segs...); err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, "ANALYZE search_seg"); err != nil {
		t.Fatal(err)
	}
	st, err := x.stats.get(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	if st.rows < 3000 || st.freq["common"] < 0.9 {
		t.Fatalf("statistics: %v rows, common %v", st.rows, st.freq["common"])
	}
	plan := func(q string) *search.Match {
		p, err := search.Compile(q)
		if err != nil {
			t.Fatal(err)
		}
		return p.Root.Atom.Match
	}
	for q, want := range map[string]bool{"common": true, "comm*": true, "zebra": false, `"common zebra"`: false, "w1 OR w2": false} {
		if got := st.walk(plan(q), 101); got != want {
			t.Errorf("walk(%q) = %v (share %v), want %v", q, got, st.share(plan(q)), want)
		}
	}
	first := func(q string) []glasshouse.AssetID {
		h, err := x.Search(ctx, search.Query{Tenant: "t", Text: q, Limit: 5})
		if err != nil {
			t.Fatal(err)
		}
		var ids []glasshouse.AssetID
		for _, g := range h.Assets {
			ids = append(ids, g.Asset)
		}
		return ids
	}
	for _, q := range []string{"common", "zebra", "comm*"} {
		x.SetBound(100000)
		exact := first(q)
		x.SetBound(5000)
		if got := first(q); !slices.Equal(got, exact) || len(got) == 0 {
			t.Errorf("%q: bounded %v, exact %v", q, got, exact)
		}
	}
	// With a bound of 5, whichever plan reads them, the candidates are the
	// 5 best-quality matches.
	for _, word := range []string{"w1", "w17", "zebra"} {
		rows, err := db.QueryContext(ctx, "SELECT DISTINCT asset FROM (SELECT asset FROM search_seg WHERE tenant = 't' AND tsv @@ $1::tsquery ORDER BY quality DESC, id DESC LIMIT 5) AS t", word)
		if err != nil {
			t.Fatal(err)
		}
		var want []glasshouse.AssetID
		for rows.Next() {
			var a string
			rows.Scan(&a)
			want = append(want, glasshouse.AssetID(a))
		}
		rows.Close()
		x.SetBound(5)
		h, err := x.Search(ctx, search.Query{Tenant: "t", Text: word, Limit: 50})
		if err != nil {
			t.Fatal(err)
		}
		var got []glasshouse.AssetID
		for _, g := range h.Assets {
			got = append(got, g.Asset)
		}
		slices.Sort(got)
		slices.Sort(want)
		if !slices.Equal(got, want) || len(got) == 0 {
			t.Errorf("%q bound 5: assets %v, want those of the 5 best-quality matches %v", word, got, want)
		}
	}
}
