package app_test

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/glasshouse/glasshouse"
	"github.com/glasshouse/glasshouse/analyze/keywords"
	"github.com/glasshouse/glasshouse/analyze/ocr"
	"github.com/glasshouse/glasshouse/analyze/probe"
	"github.com/glasshouse/glasshouse/analyze/shots"
	"github.com/glasshouse/glasshouse/app"
	"github.com/glasshouse/glasshouse/audit"
	"github.com/glasshouse/glasshouse/internal/pgtest"
	"github.com/glasshouse/glasshouse/internal/s3test"
	"github.com/glasshouse/glasshouse/media"
	"github.com/glasshouse/glasshouse/postgres"
	"github.com/glasshouse/glasshouse/search"
)

func TestMain(m *testing.M) {
	code := pgtest.Main(m)
	s3test.StopShared()
	os.Exit(code)
}

// TestScaleOutPipeline runs the pipeline on PostgreSQL + S3 (a throwaway
// cluster and versitygw on loopback): an API-only app ingests, two River
// worker apps (as on two machines) analyze, reading the video from S3
// through presigned range-read URLs; results, search (tsvector), range
// reads of the original and the audit chain are checked.
func TestScaleOutPipeline(t *testing.T) {
	ctx := context.Background()
	dsn := pgtest.NewDB(t)
	bucket := s3test.NewBucketURL(t)
	dir := t.TempDir()
	video := captionVideo(t, dir)
	o, err := ocr.New(ocr.Config{})
	if err != nil {
		t.Fatal(err)
	}
	if !o.Model().Available {
		t.Skipf("tesseract missing: %s", o.Model().Problem)
	}
	ans := []glasshouse.Analyzer{probe.New(media.Limits{}), shots.New(media.Limits{}, shots.Options{}), o}
	open := func(name string, withAnalyzers bool) *app.App {
		cfg := app.Config{
			DataDir: filepath.Join(dir, name), DBURL: dsn, BlobsURL: bucket, Lease: 3 * time.Second, Workers: 2,
			Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
		}
		if withAnalyzers {
			cfg.Analyzers, cfg.Derived = ans, []glasshouse.Analyzer{keywords.New()}
		}
		a, err := app.Open(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { a.Close() })
		return a
	}
	api := open("api", false)
	if _, ok := api.DB().(*postgres.DB); !ok {
		t.Fatalf("backend is %T, want *postgres.DB", api.DB())
	}
	f, err := os.Open(video)
	if err != nil {
		t.Fatal(err)
	}
	as, _, err := api.Ingest(ctx, actor, "briefing.mp4", "news", f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := api.Blobs().LocalPath(as.Hash); ok {
		t.Fatal("S3 store claims a local path")
	}

	wctx, stop := context.WithCancel(ctx)
	done := make(chan error, 2)
	for _, name := range []string{"w1", "w2"} {
		w := open(name, true)
		go func() { done <- w.Run(wctx) }()
	}
	deadline := time.Now().Add(5 * time.Minute)
	for {
		jobs, err := api.Jobs(ctx, actor, as.ID)
		if err != nil {
			t.Fatal(err)
		}
		finished := len(jobs) == len(ans)
		for _, j := range jobs {
			if j.State == glasshouse.JobFailed {
				t.Fatalf("job %s failed: %s", j.Kind, j.LastError)
			}
			finished = finished && j.State == glasshouse.JobDone
		}
		if finished {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("jobs not done after 5 min: %+v", jobs)
		}
		time.Sleep(300 * time.Millisecond)
	}
	stop()
	for range 2 {
		if err := <-done; err != nil {
			t.Errorf("worker: %v", err)
		}
	}

	ins, err := api.Insights(ctx, actor, as.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(ins.Shots) != 2 || len(ins.Keyframes) < 2 || len(ins.OCR) < 2 || ins.Probe == nil || ins.Probe.DurationMS < 7000 {
		t.Fatalf("insights incomplete: %d shots %d keyframes %d ocr probe %+v", len(ins.Shots), len(ins.Keyframes), len(ins.OCR), ins.Probe)
	}
	hits, err := api.Search(ctx, actor, search.Query{Text: "in:text council"})
	if err != nil {
		t.Fatal(err)
	}
	if len(hits.Assets) != 1 || len(hits.Assets[0].Hits) == 0 {
		t.Fatalf("search council: %+v", hits)
	}
	if h := hits.Assets[0].Hits[0]; h.StartMS < 3500 || h.StartMS > 4500 || !strings.Contains(strings.ToLower(h.Snippet), "<mark>council</mark>") {
		t.Errorf("hit %+v: want OCR text starting at the 4 s cut", h)
	}
	// The original is served with range reads from S3.
	c, err := api.OpenContent(ctx, actor, as.ID, "original")
	if err != nil {
		t.Fatal(err)
	}
	want, _ := os.ReadFile(video)
	if _, err := c.Seek(int64(len(want)/2), io.SeekStart); err != nil {
		t.Fatal(err)
	}
	tail, err := io.ReadAll(c)
	c.Close()
	if err != nil || string(tail) != string(want[len(want)/2:]) {
		t.Fatalf("range read of the original: %v (%d bytes)", err, len(tail))
	}
	rep, err := audit.Verify(ctx, audit.LogSource{Log: api.DB()})
	if err != nil || !rep.OK {
		t.Fatalf("audit chain: %+v %v", rep, err)
	}
}
