package sqlite_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/glasshouse/glasshouse"
	"github.com/glasshouse/glasshouse/audit"
	"github.com/glasshouse/glasshouse/audittest"
	"github.com/glasshouse/glasshouse/catalogtest"
	"github.com/glasshouse/glasshouse/governancetest"
	"github.com/glasshouse/glasshouse/queuetest"
	"github.com/glasshouse/glasshouse/redact/redacttest"
	"github.com/glasshouse/glasshouse/sqlite"
)

func testLogger(t testing.TB) *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

func openTemp(t testing.TB) *sqlite.DB {
	t.Helper()
	path := filepath.Join(t.TempDir(), "glasshouse.db")
	db, err := sqlite.Open(context.Background(), "sqlite://"+path, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := db.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return db
}

func TestCatalog(t *testing.T) {
	catalogtest.Run(t, func(t *testing.T) glasshouse.Catalog { return openTemp(t) })
}

func TestQueue(t *testing.T) {
	queuetest.Run(t, func(t *testing.T) queuetest.Backend { return openTemp(t) })
}

// tamperDB damages the stored chain with raw SQL, for audittest.
type tamperDB struct{ *sqlite.DB }

func (d tamperDB) TamperOverwrite(ctx context.Context, ev glasshouse.AuditEvent) error {
	var detail any
	if len(ev.Detail) > 0 {
		detail = string(ev.Detail)
	}
	res, err := d.SQL().ExecContext(ctx, `UPDATE gh_audit SET time = ?, tenant = ?, actor = ?, remote = ?, action = ?, target = ?,
		detail = ?, prev_hash = ?, hash = ? WHERE seq = ?`,
		ev.Time.UTC().Format(time.RFC3339Nano), string(ev.Tenant), ev.Actor, ev.Remote, ev.Action, ev.Target, detail, ev.PrevHash, ev.Hash, ev.Seq)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return fmt.Errorf("no event %d", ev.Seq)
	}
	return nil
}

func (d tamperDB) TamperDelete(ctx context.Context, seq int64) error {
	_, err := d.SQL().ExecContext(ctx, `DELETE FROM gh_audit WHERE seq = ?`, seq)
	return err
}

func TestAudit(t *testing.T) {
	audittest.Run(t, func(t *testing.T) audittest.Backend { return tamperDB{openTemp(t)} })
}

func TestOpenDSN(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	for _, dsn := range []string{
		"sqlite://" + filepath.Join(dir, "a.db"),
		"sqlite:" + filepath.Join(dir, "b.db"),
		filepath.Join(dir, "c.db"),
	} {
		db, err := sqlite.Open(ctx, dsn, nil)
		if err != nil {
			t.Fatalf("Open(%q): %v", dsn, err)
		}
		var mode string
		var sync, fk, version int
		q := db.SQL()
		if err := q.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
			t.Fatal(err)
		}
		if err := q.QueryRowContext(ctx, "PRAGMA synchronous").Scan(&sync); err != nil {
			t.Fatal(err)
		}
		if err := q.QueryRowContext(ctx, "PRAGMA foreign_keys").Scan(&fk); err != nil {
			t.Fatal(err)
		}
		if err := q.QueryRowContext(ctx, "PRAGMA user_version").Scan(&version); err != nil {
			t.Fatal(err)
		}
		if mode != "wal" || sync != 2 || fk != 1 || version != sqlite.SchemaVersion() {
			t.Fatalf("%s: journal_mode %s synchronous %d foreign_keys %d user_version %d", dsn, mode, sync, fk, version)
		}
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
	}
	for _, bad := range []string{"", "sqlite://", "sqlite://host/x.db", "sqlite:///x.db?mode=ro", ":memory:", "file:x.db"} {
		if _, err := sqlite.Open(ctx, bad, nil); !errors.Is(err, glasshouse.ErrInvalid) {
			t.Errorf("Open(%q): want ErrInvalid, got %v", bad, err)
		}
	}
}

func TestReopenPersists(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "g.db")
	db, err := sqlite.Open(ctx, path, nil)
	if err != nil {
		t.Fatal(err)
	}
	a := catalogtest.NewAsset("default", "a.jpg")
	if err := db.CreateAsset(ctx, a, []glasshouse.Job{{Kind: "ocr", Version: "1"}}, glasshouse.NewEvent(glasshouse.System("default"), "upload", string(a.ID), nil)); err != nil {
		t.Fatal(err)
	}
	db.Close()
	db, err = sqlite.Open(ctx, path, nil) // migrations already applied: a no-op
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	got, err := db.GetAsset(ctx, "default", a.ID)
	if err != nil || got.Name != "a.jpg" {
		t.Fatalf("after reopen: %+v %v", got, err)
	}
	if js, _ := db.Jobs(ctx, "default", a.ID); len(js) != 1 || js[0].Tenant != "default" || js[0].Asset != a.ID {
		t.Fatalf("jobs after reopen: %+v", js)
	}
	if rep, err := audit.Verify(ctx, db); err != nil || !rep.OK || rep.Events != 1 {
		t.Fatalf("audit after reopen: %+v %v", rep, err)
	}
}

func TestNewerSchemaRefused(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "g.db")
	db, err := sqlite.Open(ctx, path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.SQL().ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", sqlite.SchemaVersion()+1)); err != nil {
		t.Fatal(err)
	}
	db.Close()
	if _, err := sqlite.Open(ctx, path, nil); !errors.Is(err, glasshouse.ErrUnsupported) {
		t.Fatalf("opening a newer schema: want ErrUnsupported, got %v", err)
	}
}

func TestNotADatabase(t *testing.T) {
	path := filepath.Join(t.TempDir(), "junk.db")
	if err := os.WriteFile(path, []byte("this is not an SQLite database, just some text long enough to have a header............................................"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := sqlite.Open(context.Background(), path, nil)
	if !errors.Is(err, glasshouse.ErrCorrupt) {
		t.Fatalf("opening junk: want ErrCorrupt, got %v", err)
	}
}

func mkAsset(t testing.TB, db *sqlite.DB, kinds ...string) *glasshouse.Asset {
	t.Helper()
	a := catalogtest.NewAsset("default", "x")
	var jobs []glasshouse.Job
	for _, k := range kinds {
		jobs = append(jobs, glasshouse.Job{Kind: k, Version: "1"})
	}
	if err := db.CreateAsset(context.Background(), a, jobs, glasshouse.NewEvent(glasshouse.System("default"), "upload", string(a.ID), nil)); err != nil {
		t.Fatal(err)
	}
	return a
}

func TestJobCountsResetRetry(t *testing.T) {
	ctx := context.Background()
	db := openTemp(t)
	a := mkAsset(t, db, "ocr", "speech", "labels", "faces")
	if err := db.Enqueue(ctx, glasshouse.Job{Asset: a.ID, Tenant: "default", Kind: "shots", Version: "1", MaxAttempts: 1}); err != nil {
		t.Fatal(err)
	}
	ls, err := db.Claim(ctx, []string{"ocr", "speech", "labels", "shots"}, 10, time.Hour)
	if err != nil || len(ls) != 4 {
		t.Fatalf("claim: %d %v", len(ls), err)
	}
	byKind := map[string]*glasshouse.Lease{}
	for _, l := range ls {
		byKind[l.Job.Kind] = l
	}
	if err := db.Ack(ctx, byKind["ocr"]); err != nil {
		t.Fatal(err)
	}
	counts, err := db.JobCounts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := map[glasshouse.JobState]int{glasshouse.JobQueued: 1, glasshouse.JobRunning: 3, glasshouse.JobDone: 1, glasshouse.JobFailed: 0}
	if fmt.Sprint(counts) != fmt.Sprint(want) {
		t.Fatalf("counts %v, want %v", counts, want)
	}
	// Restart: speech and labels go back to the queue; shots used its only
	// attempt and fails.
	n, err := db.ResetRunning(ctx)
	if err != nil || n != 3 {
		t.Fatalf("ResetRunning: %d %v", n, err)
	}
	counts, _ = db.JobCounts(ctx)
	want = map[glasshouse.JobState]int{glasshouse.JobQueued: 3, glasshouse.JobRunning: 0, glasshouse.JobDone: 1, glasshouse.JobFailed: 1}
	if fmt.Sprint(counts) != fmt.Sprint(want) {
		t.Fatalf("counts after reset %v, want %v", counts, want)
	}
	if err := db.Ack(ctx, byKind["speech"]); !errors.Is(err, glasshouse.ErrConflict) {
		t.Fatalf("Ack of a reset lease: want ErrConflict, got %v", err)
	}
	ls, err = db.Claim(ctx, []string{"speech"}, 10, time.Hour)
	if err != nil || len(ls) != 1 || ls[0].Job.Attempts != 2 {
		t.Fatalf("claim after reset: %+v %v", ls, err)
	}
	n, err = db.RetryFailed(ctx, "default", "")
	if err != nil || n != 1 {
		t.Fatalf("RetryFailed: %d %v", n, err)
	}
	ls, err = db.Claim(ctx, []string{"shots"}, 10, time.Hour)
	if err != nil || len(ls) != 1 || ls[0].Job.Attempts != 1 {
		t.Fatalf("claim after retry: %+v %v", ls, err)
	}
}

func TestIntegrityCheck(t *testing.T) {
	db := openTemp(t)
	mkAsset(t, db, "ocr")
	if err := db.IntegrityCheck(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// Two handles on one file (as two processes would have) write at once:
// BEGIN IMMEDIATE and busy_timeout serialise them without SQLITE_BUSY
// errors, and the audit chain stays intact.
func TestTwoHandles(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "g.db")
	db1, err := sqlite.Open(ctx, path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db1.Close()
	db2, err := sqlite.Open(ctx, path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db2.Close()
	errc := make(chan error, 2)
	for _, db := range []*sqlite.DB{db1, db2} {
		go func() {
			for range 30 {
				a := catalogtest.NewAsset("default", "x")
				if err := db.CreateAsset(ctx, a, []glasshouse.Job{{Kind: "ocr", Version: "1"}}, glasshouse.NewEvent(glasshouse.System("default"), "upload", string(a.ID), nil)); err != nil {
					errc <- err
					return
				}
				if ls, err := db.Claim(ctx, []string{"ocr"}, 1, time.Hour); err != nil {
					errc <- err
					return
				} else if len(ls) == 1 {
					if err := db.Ack(ctx, ls[0]); err != nil {
						errc <- err
						return
					}
				}
			}
			errc <- nil
		}()
	}
	for range 2 {
		if err := <-errc; err != nil {
			t.Fatal(err)
		}
	}
	rep, err := audit.Verify(ctx, db1)
	if err != nil || !rep.OK || rep.Events != 60 {
		t.Fatalf("audit: %+v %v", rep, err)
	}
	page, err := db2.ListAssets(ctx, glasshouse.AssetFilter{Tenant: "default"})
	if err != nil || page.Total != 60 {
		t.Fatalf("assets: %+v %v", page, err)
	}
}

func TestTakeOrphansAndUsage(t *testing.T) {
	ctx := context.Background()
	db := openTemp(t)
	a := mkAsset(t, db)
	b := mkAsset(t, db)
	k1, k2, shared := catalogtest.Ref("k1"), catalogtest.Ref("k2"), catalogtest.Ref("shared")
	put := func(asset *glasshouse.Asset, version string, blobs ...glasshouse.Ref) {
		t.Helper()
		r := &glasshouse.Result{Asset: asset.ID, Tenant: "default", Run: glasshouse.AnalyzerRun{Name: "shots", Version: version}, Blobs: blobs}
		if err := db.PutResult(ctx, r, glasshouse.NewEvent(glasshouse.System("default"), "analyze", string(asset.ID), nil)); err != nil {
			t.Fatal(err)
		}
	}
	put(a, "1", k1, shared)
	put(b, "1", shared)
	put(a, "2", k2) // releases k1; shared is still b's
	orphans, err := db.TakeOrphans(ctx)
	if err != nil || fmt.Sprint(orphans) != fmt.Sprint([]glasshouse.Ref{k1}) {
		t.Fatalf("TakeOrphans: %v %v, want [%s]", orphans, err, k1)
	}
	if orphans, _ := db.TakeOrphans(ctx); len(orphans) != 0 {
		t.Fatalf("orphans returned twice: %v", orphans)
	}
	// Released, then referenced again before collection: not an orphan.
	put(b, "2")
	put(a, "3", shared)
	if orphans, _ := db.TakeOrphans(ctx); len(orphans) != 1 || orphans[0] != k2 {
		t.Fatalf("TakeOrphans: %v, want only %s", orphans, k2)
	}
	usage, err := db.Usage(ctx)
	if err != nil || len(usage) != 1 || usage[0].Tenant != "default" || usage[0].Assets != 2 || usage[0].Bytes != 2*1234 {
		t.Fatalf("Usage: %+v %v", usage, err)
	}
}

func TestRedactStore(t *testing.T) {
	redacttest.Run(t, func(t *testing.T) redacttest.Backend { return openTemp(t) })
}

func TestGovernance(t *testing.T) {
	governancetest.Run(t, func(t *testing.T) governancetest.Backend { return openTemp(t) })
}
