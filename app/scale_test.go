package app_test

import (
	"context"
	"encoding/json"
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
	"github.com/glasshouse/glasshouse/redact"
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

// TestRedactionOnPostgres: a redaction render end to end on PostgreSQL +
// S3: the plan is saved and the render queued through one app, a River
// worker app renders it (reading the original from S3), the redacted copy
// lands in S3 as a new asset with the box blacked out for its second, and
// the render, its job, its manifest and the audit chain agree.
func TestRedactionOnPostgres(t *testing.T) {
	ctx := context.Background()
	dsn := pgtest.NewDB(t)
	bucket := s3test.NewBucketURL(t)
	dir := t.TempDir()
	video := filepath.Join(dir, "street.mp4")
	ffmpeg(t, "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25:duration=3", "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000:duration=3",
		"-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest", video)
	open := func(name string) *app.App {
		a, err := app.Open(ctx, app.Config{
			DataDir: filepath.Join(dir, name), DBURL: dsn, BlobsURL: bucket, Lease: 3 * time.Second, Workers: 1,
			Analyzers: []glasshouse.Analyzer{probe.New(media.Limits{})},
			Redactor:  redact.NewRenderer(redact.Config{Limits: redactLim}),
			Logger:    slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
		})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { a.Close() })
		return a
	}
	api := open("api")
	f, err := os.Open(video)
	if err != nil {
		t.Fatal(err)
	}
	as, _, err := api.Ingest(ctx, actor, "street.mp4", "news", f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	plan, err := api.RedactionPlan(ctx, actor, as.ID)
	if err != nil {
		t.Fatal(err)
	}
	box := glasshouse.Box{X: 0.25, Y: 0.25, W: 0.25, H: 0.25}
	plan.Faces = false
	plan.Regions = append(plan.Regions, redact.Region{Kind: redact.KindManual, StartMS: 1000, EndMS: 2000, Box: box})
	if plan, err = api.SaveRedactionPlan(ctx, actor, as.ID, plan); err != nil || plan.Revision != 1 {
		t.Fatalf("save plan: revision %d, %v", plan.Revision, err)
	}
	r, err := api.StartRedaction(ctx, actor, as.ID, nil)
	if err != nil {
		t.Fatal(err)
	}

	w := open("worker")
	wctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- w.Run(wctx) }()
	deadline := time.Now().Add(3 * time.Minute)
	for {
		if r, err = api.Redaction(ctx, actor, r.ID); err != nil {
			t.Fatal(err)
		}
		if r.State == redact.StateDone || r.State == redact.StateFailed {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("render not finished after 3 min: %+v", r)
		}
		time.Sleep(200 * time.Millisecond)
	}
	stop()
	if err := <-done; err != nil {
		t.Errorf("worker: %v", err)
	}
	if r.State != redact.StateDone || r.Output == "" || r.Error != "" {
		t.Fatalf("render: state %s output %q error %q", r.State, r.Output, r.Error)
	}
	jobs, err := api.Jobs(ctx, actor, as.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, j := range jobs {
		if j.Kind == app.RedactJobKind && (j.Version != r.ID || j.State != glasshouse.JobDone) {
			t.Errorf("redact job %+v, want done for render %s", j, r.ID)
		}
	}
	out, err := api.GetAsset(ctx, actor, r.Output)
	if err != nil {
		t.Fatal(err)
	}
	if out.Collection != "news" || out.Hash != r.OutputHash || out.Hash == as.Hash || !strings.Contains(out.Note, string(as.Hash)) {
		t.Fatalf("redacted copy %+v", out)
	}
	// The copy is in S3 (no local path): fetch it and look at the box.
	if _, ok := api.Blobs().LocalPath(out.Hash); ok {
		t.Fatal("S3 store claims a local path")
	}
	rc, err := api.Blobs().Open(ctx, out.Hash, 0, -1)
	if err != nil {
		t.Fatal(err)
	}
	copyPath := filepath.Join(dir, "copy.mp4")
	cf, err := os.Create(copyPath)
	if err != nil {
		t.Fatal(err)
	}
	_, err = io.Copy(cf, rc)
	rc.Close()
	cf.Close()
	if err != nil {
		t.Fatal(err)
	}
	before, after := decodeFrames(t, video), decodeFrames(t, copyPath)
	if len(after) != len(before) {
		t.Fatalf("copy has %d frames, original %d", len(after), len(before))
	}
	for i := range after {
		tMS := int64(i) * 40
		mean, diff := regionStats(after[i], before[i], box)
		if tMS >= 1000 && tMS < 2000 {
			if mean > 20 {
				t.Errorf("frame %d (%d ms): box not covered (mean %.1f)", i, tMS, mean)
			}
		} else if diff > 12 {
			t.Errorf("frame %d (%d ms): box changed outside its time (diff %.1f)", i, tMS, diff)
		}
	}
	var m redact.Manifest
	if err := json.Unmarshal(r.Manifest, &m); err != nil {
		t.Fatal(err)
	}
	if m.Render != r.ID || m.Source.Hash != as.Hash || m.Output.Hash != out.Hash || len(m.Regions) != 1 || m.Frames != len(before) {
		t.Fatalf("manifest %s", r.Manifest)
	}
	rep, err := audit.Verify(ctx, audit.LogSource{Log: api.DB()})
	if err != nil || !rep.OK {
		t.Fatalf("audit chain: %+v %v", rep, err)
	}
	evs, err := api.AuditEvents(ctx, actor, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	n := map[string]int{}
	for _, e := range evs {
		n[e.Action]++
	}
	if n["redaction_plan"] != 1 || n["redact"] != 1 || n["redacted"] != 1 {
		t.Errorf("audit events: %d redaction_plan, %d redact, %d redacted; want one each", n["redaction_plan"], n["redact"], n["redacted"])
	}
}
