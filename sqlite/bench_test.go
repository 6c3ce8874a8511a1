package sqlite_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/glasshouse/glasshouse"
	"github.com/glasshouse/glasshouse/catalogtest"
)

// BenchmarkCreateAsset: one asset with 5 jobs and its audit event per
// transaction (synchronous=FULL: one fsync of the WAL per commit).
func BenchmarkCreateAsset(b *testing.B) {
	ctx := context.Background()
	db := openTemp(b)
	jobs := []glasshouse.Job{{Kind: "probe", Version: "1"}, {Kind: "shots", Version: "1"}, {Kind: "ocr", Version: "1"}, {Kind: "speech", Version: "1"}, {Kind: "labels", Version: "1"}}
	b.ResetTimer()
	for b.Loop() {
		a := catalogtest.NewAsset("default", "bench.mp4")
		if err := db.CreateAsset(ctx, a, jobs, glasshouse.NewEvent(glasshouse.System("default"), "upload", string(a.ID), nil)); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "assets/s")
}

// BenchmarkClaimAck: claim one job and ack it (two write transactions).
func BenchmarkClaimAck(b *testing.B) {
	ctx := context.Background()
	db := openTemp(b)
	a := mkAsset(b, db)
	// Enqueue enough jobs up front, outside the timer.
	var batch []glasshouse.Job
	for i := range b.N {
		batch = append(batch, glasshouse.Job{Asset: a.ID, Tenant: "default", Kind: "ocr", Version: "v" + strconv.Itoa(i)})
		if len(batch) == 500 || i == b.N-1 {
			if err := db.Enqueue(ctx, batch...); err != nil {
				b.Fatal(err)
			}
			batch = batch[:0]
		}
	}
	b.ResetTimer()
	for range b.N {
		ls, err := db.Claim(ctx, []string{"ocr"}, 1, time.Minute)
		if err != nil || len(ls) != 1 {
			b.Fatalf("claim: %d %v", len(ls), err)
		}
		if err := db.Ack(ctx, ls[0]); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "jobs/s")
}
