package postgres_test

import (
	"context"
	"testing"
	"time"

	"github.com/glasshouse/glasshouse"
	"github.com/glasshouse/glasshouse/catalogtest"
)

// BenchmarkCreateAssetQuota measures what the quota check costs an upload
// on PostgreSQL: two tenants each already store 100,000 assets; "free" has
// no policy (the baseline), "capped" has a quota, so every create locks its
// policy row and sums its stored bytes. Creates alternate between the two
// so both see the same machine load; reported: ms per create of each and
// the ratio capped/free.
func BenchmarkCreateAssetQuota(b *testing.B) {
	ctx := context.Background()
	db := openTemp(b)
	const pre = 100000
	for _, t := range []string{"free", "capped"} {
		if _, err := db.SQL().ExecContext(ctx, `INSERT INTO gh_assets (id, tenant, collection, name, media_type, kind, size, hash, created)
			SELECT ? || g, ?, '', 'pre.mp4', 'video/mp4', 'video', 1000, ?, g FROM generate_series(1, ?::int) g`,
			t+"-", t, string(catalogtest.Ref("pre")), pre); err != nil {
			b.Fatal(err)
		}
	}
	if _, err := db.SQL().ExecContext(ctx, `ANALYZE gh_assets`); err != nil {
		b.Fatal(err)
	}
	if err := db.SetPolicy(ctx, &glasshouse.Policy{Tenant: "capped", QuotaBytes: 1 << 50}, glasshouse.NewEvent(glasshouse.System("capped"), "policy_set", "capped", nil)); err != nil {
		b.Fatal(err)
	}
	create := func(t glasshouse.TenantID) time.Duration {
		a := catalogtest.NewAsset(t, "bench.mp4")
		start := time.Now()
		if err := db.CreateAsset(ctx, a, nil, glasshouse.NewEvent(glasshouse.System(t), "upload", string(a.ID), nil)); err != nil {
			b.Fatal(err)
		}
		return time.Since(start)
	}
	var free, capped time.Duration
	n := 0
	b.ResetTimer()
	for b.Loop() {
		free += create("free")
		capped += create("capped")
		n++
	}
	b.ReportMetric(float64(free.Microseconds())/1000/float64(n), "free_ms/create")
	b.ReportMetric(float64(capped.Microseconds())/1000/float64(n), "capped_ms/create")
	b.ReportMetric(float64(capped)/float64(free), "ratio")
}
