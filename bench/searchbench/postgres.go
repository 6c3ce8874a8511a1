package main

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/glasshouse/glasshouse"
	"github.com/glasshouse/glasshouse/internal/pgtest"
	"github.com/glasshouse/glasshouse/search"
	"github.com/glasshouse/glasshouse/search/pgsearch"
)

var (
	pgBackend bool
	seedUsed  int64
)

// runPostgres builds the same n segments into pgsearch on a throwaway
// PostgreSQL cluster and runs the same queries on both indexes, one after
// the other, printing p50/p99 of each and their ratio.
func runPostgres(ctx context.Context, log *slog.Logger, c *corpus, n, batch int, shapes []shape, fts search.Index) error {
	cl, err := pgtest.Start()
	if err != nil {
		return fmt.Errorf("start PostgreSQL: %w", err)
	}
	defer cl.Stop()
	dsn, err := cl.NewDatabase(ctx)
	if err != nil {
		return err
	}
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		return err
	}
	defer db.Close()
	x, err := pgsearch.New(ctx, db)
	if err != nil {
		return err
	}
	src := newCorpus(seedUsed, n) // the same segments as the FTS5 build
	sampled := 0
	start := time.Now()
	buf := make([]glasshouse.Segment, 0, batch)
	for i := range n {
		seg := src.segment(i)
		if seg.Kind == glasshouse.SegSpeech && sampled < 5000 && src.r.Intn(50) == 0 {
			sampled++ // the FTS5 build drew this number too: keep the sequence
		}
		buf = append(buf, seg)
		if len(buf) == batch || i == n-1 {
			if err := x.Upsert(ctx, buf...); err != nil {
				return err
			}
			buf = buf[:0]
		}
		if (i+1)%200000 == 0 {
			log.Info("building postgres index", "segments", i+1, "elapsed", time.Since(start).Round(time.Second))
		}
	}
	build := time.Since(start)
	if _, err := db.ExecContext(ctx, "VACUUM ANALYZE search_seg"); err != nil {
		return err
	}
	// Write out what the build and VACUUM left dirty, as a server's
	// checkpointer does in time; otherwise the first queries pay for
	// evicting dirty buffers.
	if _, err := db.ExecContext(ctx, "CHECKPOINT"); err != nil {
		return err
	}
	var size int64
	db.QueryRowContext(ctx, "SELECT pg_total_relation_size('search_seg')").Scan(&size)
	fmt.Printf("\npostgres: build %v (%.0f segments/s), %.1f MiB table+indexes (%.0f bytes/segment)\n",
		build.Round(time.Millisecond), float64(n)/build.Seconds(), float64(size)/(1<<20), float64(size)/float64(n))
	fmt.Printf("%-12s | %9s %9s | %9s %9s | %6s %6s | %s\n", "shape", "fts5 p50", "fts5 p99", "pg p50", "pg p99", "×p50", "×p99", "same groups")
	fmt.Println(strings.Repeat("-", 90))
	for _, s := range shapes {
		var a, b []time.Duration
		same := 0
		for _, text := range s.queries {
			t0 := time.Now()
			h1, err := fts.Search(ctx, search.Query{Tenant: "t0", Text: text})
			if err != nil {
				return err
			}
			a = append(a, time.Since(t0))
			t0 = time.Now()
			h2, err := x.Search(ctx, search.Query{Tenant: "t0", Text: text})
			if err != nil {
				return fmt.Errorf("postgres %s %q: %w", s.name, text, err)
			}
			b = append(b, time.Since(t0))
			if h1.Total == h2.Total {
				same++
			}
		}
		pa, pb := pct(a), pct(b)
		fmt.Printf("%-12s | %9s %9s | %9s %9s | %6.1f %6.1f | %d/%d\n", s.name, ms(pa[0]), ms(pa[1]), ms(pb[0]), ms(pb[1]),
			float64(pb[0])/float64(pa[0]), float64(pb[1])/float64(pa[1]), same, len(s.queries))
	}
	fmt.Println("× = postgres / fts5; same groups = queries where both found the same number of matching assets")
	return nil
}
