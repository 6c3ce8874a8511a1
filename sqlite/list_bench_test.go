package sqlite_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/glasshouse/glasshouse"
	"github.com/glasshouse/glasshouse/catalogtest"
)

// BenchmarkListAssets100k lists one library page (50 assets) out of 100,000
// of one tenant, for each sort order, at the start and deep inside (after
// following 200 cursors' worth of keyset position), and filtered by
// collection. The rows are bulk-inserted with SQL to set up quickly.
func BenchmarkListAssets100k(b *testing.B) {
	ctx := context.Background()
	db := openTemp(b)
	tx, err := db.SQL().BeginTx(ctx, nil)
	if err != nil {
		b.Fatal(err)
	}
	st, err := tx.PrepareContext(ctx, `INSERT INTO gh_assets (id, tenant, collection, name, media_type, kind, size, hash, created) VALUES (?,?,?,?,?,?,?,?,?)`)
	if err != nil {
		b.Fatal(err)
	}
	t0 := time.Now().UnixNano()
	const n = 100_000
	for i := 0; i < n; i++ {
		_, err := st.ExecContext(ctx, string(catalogtest.NewID()), "lib", fmt.Sprintf("c%d", i%20), fmt.Sprintf("clip-%07d.mp4", (i*7919)%n),
			"video/mp4", "video", int64((i*104729)%1_000_000), string(catalogtest.Ref(fmt.Sprint(i))), t0+int64(i)*1000)
		if err != nil {
			b.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		b.Fatal(err)
	}
	for _, sort := range []string{"newest", "oldest", "name", "size"} {
		// A cursor deep in the listing: follow pages of 500 for a while.
		deep := ""
		for i := 0; i < 100; i++ {
			p, err := db.ListAssets(ctx, glasshouse.AssetFilter{Tenant: "lib", Sort: sort, Limit: 500, Cursor: deep})
			if err != nil {
				b.Fatal(err)
			}
			deep = p.Next
		}
		for _, c := range []struct{ name, cursor, coll string }{{"first", "", ""}, {"deep", deep, ""}, {"collection", "", "c7"}} {
			b.Run(sort+"/"+c.name, func(b *testing.B) {
				for b.Loop() {
					p, err := db.ListAssets(ctx, glasshouse.AssetFilter{Tenant: "lib", Sort: sort, Limit: 50, Cursor: c.cursor, Collection: c.coll})
					if err != nil || len(p.Assets) != 50 {
						b.Fatalf("%v, %d assets", err, len(p.Assets))
					}
				}
			})
		}
	}
}
