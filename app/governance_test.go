package app_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/glasshouse/glasshouse"
	"github.com/glasshouse/glasshouse/analyze/keywords"
	"github.com/glasshouse/glasshouse/analyze/probe"
	"github.com/glasshouse/glasshouse/analyze/shots"
	"github.com/glasshouse/glasshouse/app"
	"github.com/glasshouse/glasshouse/audit"
	"github.com/glasshouse/glasshouse/internal/pgtest"
	"github.com/glasshouse/glasshouse/media"
	"github.com/glasshouse/glasshouse/search"
)

// smallMedia writes a 2 s video (two colours: a cut, so keyframes) and two
// different still images, returning their bytes.
func smallMedia(t *testing.T, dir string) (video, img1, img2 []byte) {
	t.Helper()
	v := filepath.Join(dir, "v.mp4")
	ffmpeg(t, "-f", "lavfi", "-i", "color=c=red:size=160x120:rate=10:duration=1",
		"-f", "lavfi", "-i", "color=c=blue:size=160x120:rate=10:duration=1",
		"-filter_complex", "[0:v][1:v]concat=n=2:v=1:a=0[v]", "-map", "[v]", "-c:v", "libx264", "-pix_fmt", "yuv420p", v)
	ffmpeg(t, "-f", "lavfi", "-i", "testsrc2=size=64x48", "-frames:v", "1", filepath.Join(dir, "a.png"))
	ffmpeg(t, "-f", "lavfi", "-i", "mandelbrot=size=64x48", "-frames:v", "1", filepath.Join(dir, "b.png"))
	read := func(p string) []byte {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	return read(v), read(filepath.Join(dir, "a.png")), read(filepath.Join(dir, "b.png"))
}

func ingest(t *testing.T, a *app.App, name, coll string, b []byte) *glasshouse.Asset {
	t.Helper()
	as, dup, err := a.Ingest(context.Background(), actor, name, coll, bytes.NewReader(b))
	if err != nil || dup {
		t.Fatalf("ingest %s into %q: %v dup=%v", name, coll, err, dup)
	}
	return as
}

func blobExists(t *testing.T, a *app.App, ref glasshouse.Ref) bool {
	t.Helper()
	_, err := a.Blobs().Stat(context.Background(), ref)
	if err != nil && !errors.Is(err, glasshouse.ErrNotExist) {
		t.Fatal(err)
	}
	return err == nil
}

func nameHits(t *testing.T, a *app.App, word string) int {
	t.Helper()
	h, err := a.Search(context.Background(), actor, search.Query{Text: "in:name " + word})
	if err != nil {
		t.Fatal(err)
	}
	return len(h.Assets)
}

// TestRetentionAndLegalHold: retention deletes only what is due; legal
// holds (asset and collection) block both retention and manual deletion
// with a conflict naming the hold; a blob another asset still uses is
// kept; deletion records and audit events are written; the index forgets.
// governanceBackends opens the app on the embedded backend and on
// PostgreSQL (a throwaway cluster; file blobs), so the governance paths are
// checked end to end on both.
var governanceBackends = []struct {
	name string
	open func(t *testing.T, dir string, ans []glasshouse.Analyzer) *app.App
}{
	{"sqlite", openApp},
	{"postgres", func(t *testing.T, dir string, ans []glasshouse.Analyzer) *app.App {
		t.Helper()
		a, err := app.Open(context.Background(), app.Config{
			DataDir:   dir,
			DBURL:     pgtest.NewDB(t),
			Logger:    slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
			Analyzers: ans,
			Derived:   []glasshouse.Analyzer{keywords.New()},
			Lease:     time.Minute,
		})
		if err != nil {
			t.Fatal(err)
		}
		return a
	}},
}

func TestRetentionAndLegalHold(t *testing.T) {
	for _, be := range governanceBackends {
		t.Run(be.name, func(t *testing.T) { testRetentionAndLegalHold(t, be.open) })
	}
}

func testRetentionAndLegalHold(t *testing.T, openApp func(t *testing.T, dir string, ans []glasshouse.Analyzer) *app.App) {
	ctx := context.Background()
	dir := t.TempDir()
	video, img1, img2 := smallMedia(t, dir)
	a := openApp(t, filepath.Join(dir, "data"), []glasshouse.Analyzer{probe.New(media.Limits{}), shots.New(media.Limits{}, shots.Options{})})
	defer a.Close()

	short := ingest(t, a, "alphaclip.mp4", "short", video)     // due after 1 day
	shared := ingest(t, a, "betaclip.mp4", "keep", video)      // same content: shares the blob; tenant rule (5 days)
	heldAsset := ingest(t, a, "gammapic.png", "short", img1)   // due, but held
	heldColl := ingest(t, a, "deltapic.png", "evidence", img2) // tenant rule, collection held
	long := ingest(t, a, "epsilonclip.mp4", "long", video)     // same content again, 30 days
	if err := a.RunPending(ctx); err != nil {
		t.Fatal(err)
	}
	ins, err := a.Insights(ctx, actor, shared.ID)
	if err != nil || len(ins.Keyframes) == 0 {
		t.Fatalf("no keyframes to check deletion with: %v %+v", err, ins)
	}
	keyframe := ins.Keyframes[0].Image

	for _, r := range []glasshouse.RetentionRule{{Collection: "short", Days: 1}, {Collection: "long", Days: 30}, {All: true, Days: 5}} {
		if _, err := a.SetRetention(ctx, actor, r); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := a.SetHold(ctx, actor, glasshouse.HoldAsset, string(heldAsset.ID), "case 2026-17"); err != nil {
		t.Fatal(err)
	}
	if _, err := a.SetHold(ctx, actor, glasshouse.HoldCollection, "evidence", "subpoena 88"); err != nil {
		t.Fatal(err)
	}
	if nameHits(t, a, "alphaclip") != 1 {
		t.Fatal("asset not found by name before deletion")
	}

	// Nothing is due today.
	now := time.Now()
	res, err := a.SweepRetention(ctx, now)
	if err != nil || res.Due != 0 || res.Deleted != 0 {
		t.Fatalf("sweep today: %+v %v, want nothing due", res, err)
	}
	// Two days on: the collection "short" is due (1 day); its held asset stays.
	res, err = a.SweepRetention(ctx, now.Add(48*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if res.Due != 2 || res.Deleted != 1 || res.Held != 1 || res.Failed != 0 {
		t.Fatalf("sweep +2d: %+v, want 2 due, 1 deleted, 1 held", res)
	}
	if _, err := a.DB().GetAsset(ctx, actor.Tenant, short.ID); !errors.Is(err, glasshouse.ErrNotExist) {
		t.Fatalf("due asset still there: %v", err)
	}
	for _, as := range []*glasshouse.Asset{shared, heldAsset, heldColl, long} {
		if _, err := a.DB().GetAsset(ctx, actor.Tenant, as.ID); err != nil {
			t.Fatalf("asset %s (%s) deleted though not due or held: %v", as.Name, as.Collection, err)
		}
	}
	if !blobExists(t, a, short.Hash) || !blobExists(t, a, keyframe) {
		t.Fatal("blob still used by other assets was deleted")
	}
	if nameHits(t, a, "alphaclip") != 0 {
		t.Fatal("index still finds the deleted asset")
	}

	// Manual deletion of held assets: refused, naming the hold.
	err = a.DeleteAsset(ctx, actor, heldAsset.ID)
	if !errors.Is(err, glasshouse.ErrConflict) || !strings.Contains(err.Error(), "case 2026-17") {
		t.Fatalf("delete of held asset: %v, want conflict naming the hold", err)
	}
	err = a.DeleteAsset(ctx, actor, heldColl.ID)
	if !errors.Is(err, glasshouse.ErrConflict) || !strings.Contains(err.Error(), `"evidence"`) || !strings.Contains(err.Error(), "subpoena 88") {
		t.Fatalf("delete in held collection: %v, want conflict naming the collection hold", err)
	}

	// Six days on: the tenant-wide rule (5 days) takes "keep" and
	// "evidence" ("long" has its own 30-day rule).
	res, err = a.SweepRetention(ctx, now.Add(6*24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if res.Deleted != 1 || res.Held != 2 {
		t.Fatalf("sweep +6d: %+v, want 1 deleted (keep), 2 held", res)
	}
	if _, err := a.DB().GetAsset(ctx, actor.Tenant, long.ID); err != nil {
		t.Fatalf("collection rule of 30 days did not override the tenant's 5: %v", err)
	}
	// "long" still uses the same original: kept. Release the hold and
	// delete by hand, then the last user of the video is "long".
	if err := a.ReleaseHold(ctx, actor, glasshouse.HoldAsset, string(heldAsset.ID)); err != nil {
		t.Fatal(err)
	}
	if err := a.DeleteAsset(ctx, actor, heldAsset.ID); err != nil {
		t.Fatalf("delete after release: %v", err)
	}
	if blobExists(t, a, heldAsset.Hash) {
		t.Fatal("blob of a deleted asset that nobody else uses is still stored")
	}
	if heldAsset.Thumb != "" && blobExists(t, a, heldAsset.Thumb) {
		t.Fatal("thumbnail of a deleted asset is still stored")
	}
	if err := a.DeleteAsset(ctx, actor, long.ID); err != nil {
		t.Fatal(err)
	}
	if blobExists(t, a, short.Hash) || blobExists(t, a, keyframe) {
		t.Fatal("original or keyframe still stored after its last asset was deleted")
	}

	// Deletion records: what, when, who, why; each with its audit event.
	recs, err := a.DeletionRecords(ctx, actor, now.AddDate(0, 0, -1), now.AddDate(0, 0, 1))
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 4 {
		t.Fatalf("%d deletion records, want 4: %+v", len(recs), recs)
	}
	evs, err := a.AuditEvents(ctx, actor, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	bySeq := map[int64]glasshouse.AuditEvent{}
	for _, ev := range evs {
		bySeq[ev.Seq] = ev
	}
	want := map[glasshouse.AssetID]string{short.ID: "retention", shared.ID: "retention", heldAsset.ID: "user", long.ID: "user"}
	for _, r := range recs {
		if want[r.Asset] != r.Reason {
			t.Errorf("record %s: reason %q, want %q", r.Asset, r.Reason, want[r.Asset])
		}
		if r.Hash == "" || r.Size <= 0 || r.Name == "" || r.Deleted.IsZero() {
			t.Errorf("record incomplete: %+v", r)
		}
		wantActor := "tester"
		if r.Reason == "retention" {
			wantActor = "system"
		}
		if r.Actor != wantActor {
			t.Errorf("record %s: actor %q, want %q", r.Asset, r.Actor, wantActor)
		}
		ev, ok := bySeq[r.AuditSeq]
		if !ok || ev.Action != "delete" || ev.Target != string(r.Asset) {
			t.Errorf("record %s: audit event %d is %+v, want its delete event", r.Asset, r.AuditSeq, ev)
			continue
		}
		var d struct{ Reason string }
		json.Unmarshal(ev.Detail, &d)
		if d.Reason != r.Reason {
			t.Errorf("audit event of %s says reason %q, record %q", r.Asset, d.Reason, r.Reason)
		}
	}
	rep, err := audit.Verify(ctx, audit.LogSource{Log: a.DB()})
	if err != nil || !rep.OK {
		t.Fatalf("audit chain after deletions: %+v %v", rep, err)
	}
}

func TestQuotaAndAnalyzerPolicy(t *testing.T) {
	for _, be := range governanceBackends {
		t.Run(be.name, func(t *testing.T) { testQuotaAndAnalyzerPolicy(t, be.open) })
	}
}

func testQuotaAndAnalyzerPolicy(t *testing.T, openApp func(t *testing.T, dir string, ans []glasshouse.Analyzer) *app.App) {
	ctx := context.Background()
	dir := t.TempDir()
	video, img1, img2 := smallMedia(t, dir)
	a := openApp(t, filepath.Join(dir, "data"), []glasshouse.Analyzer{probe.New(media.Limits{}), shots.New(media.Limits{}, shots.Options{})})
	defer a.Close()
	op := glasshouse.Actor{Tenant: "operator", User: "op"}

	if _, err := a.SetPolicy(ctx, op, glasshouse.Policy{Tenant: actor.Tenant, Analyzers: []string{"nosuch"}}); !errors.Is(err, glasshouse.ErrInvalid) {
		t.Fatalf("unknown analyzer accepted: %v", err)
	}
	quota := int64(len(video) + len(img1) + 10)
	if _, err := a.SetPolicy(ctx, op, glasshouse.Policy{Tenant: actor.Tenant, QuotaBytes: quota, Analyzers: []string{"probe"}}); err != nil {
		t.Fatal(err)
	}
	v := ingest(t, a, "v.mp4", "", video)
	if err := a.RunPending(ctx); err != nil {
		t.Fatal(err)
	}
	got, err := a.GetAsset(ctx, actor, v.ID)
	if err != nil {
		t.Fatal(err)
	}
	states := map[string]glasshouse.AnalyzerRun{}
	for _, r := range got.Runs {
		states[r.Name] = r
	}
	if states["probe"].State != glasshouse.JobDone || states["shots"].State != glasshouse.JobSkipped ||
		!strings.Contains(states["shots"].Error, "policy") || states["keywords"].State != glasshouse.JobSkipped {
		t.Fatalf("runs %+v: want probe done, shots skipped by policy", got.Runs)
	}
	ingest(t, a, "a.png", "", img1)
	if err := a.RunPending(ctx); err != nil {
		t.Fatal(err)
	}
	// The third file takes the tenant over its quota: refused, nothing stored.
	_, _, err = a.Ingest(ctx, actor, "b.png", "", bytes.NewReader(img2))
	if !errors.Is(err, glasshouse.ErrQuota) || glasshouse.ErrorCode(err) != "quota_exceeded" || !strings.Contains(err.Error(), "quota") {
		t.Fatalf("over quota: %v (code %s)", err, glasshouse.ErrorCode(err))
	}
	page, err := a.DB().ListAssets(ctx, glasshouse.AssetFilter{Tenant: actor.Tenant})
	if err != nil || len(page.Assets) != 2 {
		t.Fatalf("after refusal: %v, %d assets, want 2", err, len(page.Assets))
	}
	sum := func(b []byte) glasshouse.Ref {
		s := sha256.Sum256(b)
		return glasshouse.RefFromSum(s[:])
	}
	if blobExists(t, a, sum(img2)) {
		t.Fatal("refused upload left its blob")
	}

	// Usage: figures for today, and the bytes series drops after a deletion.
	u, err := a.Usage(ctx, actor, time.Now().AddDate(0, 0, -2), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if n := len(u.StoredBytes); n != 3 || u.StoredBytes[0].Bytes != 0 || u.StoredBytes[n-1].Bytes != int64(len(video)+len(img1)) {
		t.Fatalf("stored bytes %+v, want 0 two days ago and %d today", u.StoredBytes, len(video)+len(img1))
	}
	kinds := map[glasshouse.MediaKind]glasshouse.KindUsage{}
	for _, k := range u.Kinds {
		kinds[k.Kind] = k
	}
	if kinds["video"].Assets != 1 || kinds["image"].Assets != 1 || kinds["video"].MediaHours <= 0 {
		t.Fatalf("kinds %+v", u.Kinds)
	}
	if u.Analyses["probe"] != 2 || u.Analyses["shots"] != 0 || u.Analyses["keywords"] != 0 || u.Uploads != 2 {
		t.Fatalf("analyses %v uploads %d, want probe 2, shots 0, uploads 2", u.Analyses, u.Uploads)
	}
	if err := a.DeleteAsset(ctx, actor, v.ID); err != nil {
		t.Fatal(err)
	}
	u, _ = a.Usage(ctx, actor, time.Now(), time.Now())
	if u.StoredBytes[0].Bytes != int64(len(img1)) || u.Deletions != 1 {
		t.Fatalf("after deletion: %+v deletions %d", u.StoredBytes, u.Deletions)
	}
	all, err := a.OperatorUsage(ctx, op, time.Now(), time.Now())
	if err != nil || all.Total.StoredBytes[0].Bytes != int64(len(img1)) {
		t.Fatalf("operator usage: %+v %v", all, err)
	}
	b, _ := json.Marshal(all)
	if strings.Contains(string(b), "a.png") || strings.Contains(string(b), "v.mp4") {
		t.Fatalf("operator usage names content: %s", b)
	}
}

func TestIngestLimits(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	_, img1, _ := smallMedia(t, dir)
	a, err := app.Open(ctx, app.Config{DataDir: filepath.Join(dir, "data"), AllowedTypes: []string{"video/*"},
		Preflight: media.PreflightLimits{MaxImagePixels: 64 * 48}})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if _, _, err := a.Ingest(ctx, actor, "a.png", "", bytes.NewReader(img1)); !errors.Is(err, glasshouse.ErrUnsupported) || !strings.Contains(err.Error(), "not allowed") {
		t.Fatalf("image with a video-only allow list: %v", err)
	}
	if _, err := app.Open(ctx, app.Config{DataDir: filepath.Join(dir, "d2"), AllowedTypes: []string{"vidoe/*"}}); err == nil {
		t.Fatal("a typo in the allow list was accepted")
	}
	b, err := app.Open(ctx, app.Config{DataDir: filepath.Join(dir, "d3"), Preflight: media.PreflightLimits{MaxImagePixels: 64*48 - 1}})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if _, _, err := b.Ingest(ctx, actor, "a.png", "", bytes.NewReader(img1)); !errors.Is(err, glasshouse.ErrTooLarge) || !strings.Contains(err.Error(), "before decoding") {
		t.Fatalf("image over the pixel limit: %v", err)
	}
	for _, bad := range []string{"invoice\u202Egpj.exe", "a\u2066b.png", "x\x00.png"} {
		if _, _, err := b.Ingest(ctx, actor, bad, "", bytes.NewReader(img1)); !errors.Is(err, glasshouse.ErrInvalid) {
			t.Errorf("name %q: %v, want invalid", bad, err)
		}
	}
}
