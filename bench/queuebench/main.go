// Command queuebench measures analyzer jobs per second through the app's job
// path (claim or fetch, load the asset, store the result, index, audit, ack)
// with N concurrent workers: River on PostgreSQL (a throwaway cluster) next
// to the embedded SQLite lease queue, in the same run. The analyzer does no
// work, so the figures are the queue's and the catalog's.
//
//	go run ./bench/queuebench -jobs 2000 -workers 1,4,16
package main

import (
	"context"
	"crypto/sha256"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/glasshouse/glasshouse"
	"github.com/glasshouse/glasshouse/app"
	"github.com/glasshouse/glasshouse/internal/pgtest"
)

type noop struct{}

func (noop) Name() string                      { return "noop" }
func (noop) Version() string                   { return "1" }
func (noop) Accepts(glasshouse.MediaKind) bool { return true }
func (noop) Analyze(context.Context, glasshouse.Input) (*glasshouse.Result, error) {
	return &glasshouse.Result{}, nil
}

func main() {
	jobs := flag.Int("jobs", 2000, "jobs per run")
	workers := flag.String("workers", "1,4,16", "worker counts to measure")
	flag.Parse()
	ctx := context.Background()
	cl, err := pgtest.Start()
	if err != nil {
		fail(err)
	}
	defer cl.Stop()
	tmp, err := os.MkdirTemp("", "queuebench-*")
	if err != nil {
		fail(err)
	}
	defer os.RemoveAll(tmp)
	fmt.Printf("queuebench: %d no-op jobs per run; load average %s", *jobs, loadavg())
	fmt.Printf("%8s | %14s | %14s | %8s\n", "workers", "sqlite jobs/s", "river jobs/s", "ratio")
	fmt.Println(strings.Repeat("-", 56))
	for _, ws := range strings.Split(*workers, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(ws))
		if err != nil {
			fail(err)
		}
		sq := measure(ctx, filepath.Join(tmp, "sqlite-"+ws), "", n, *jobs)
		dsn, err := cl.NewDatabase(ctx)
		if err != nil {
			fail(err)
		}
		pg := measure(ctx, filepath.Join(tmp, "pg-"+ws), dsn, n, *jobs)
		fmt.Printf("%8d | %14.1f | %14.1f | %8.2f\n", n, sq, pg, pg/sq)
	}
	fmt.Println("ratio = river / sqlite; each job: fetch, GetAsset, PutResult (+audit event), index replace, orphan check, ack")
}

func measure(ctx context.Context, dir, dsn string, workers, jobs int) float64 {
	log := slog.New(slog.DiscardHandler)
	a, err := app.Open(ctx, app.Config{DataDir: dir, DBURL: dsn, Analyzers: []glasshouse.Analyzer{noop{}}, Workers: workers, Lease: time.Minute, Logger: log})
	if err != nil {
		fail(err)
	}
	defer a.Close()
	for i := range jobs {
		sum := sha256.Sum256([]byte(fmt.Sprint(dir, i)))
		as := &glasshouse.Asset{ID: glasshouse.AssetID(fmt.Sprintf("a%07d", i)), Tenant: "default", Name: "x", Kind: glasshouse.KindImage, Hash: glasshouse.RefFromSum(sum[:])}
		ev := glasshouse.NewEvent(glasshouse.System("default"), "upload", string(as.ID), nil)
		if err := a.DB().CreateAsset(ctx, as, []glasshouse.Job{{Kind: "noop", Version: "1"}}, ev); err != nil {
			fail(err)
		}
	}
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	start := time.Now()
	go func() { done <- a.Run(rctx) }()
	for {
		c, err := a.DB().JobCounts(ctx)
		if err == nil && c[glasshouse.JobDone]+c[glasshouse.JobFailed] >= jobs {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	d := time.Since(start)
	cancel()
	<-done
	return float64(jobs) / d.Seconds()
}

func loadavg() string {
	b, _ := os.ReadFile("/proc/loadavg")
	return string(b)
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "queuebench:", err)
	os.Exit(1)
}
