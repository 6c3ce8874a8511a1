package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/glasshouse/glasshouse"
	"github.com/glasshouse/glasshouse/audittest"
	"github.com/glasshouse/glasshouse/catalogtest"
	"github.com/glasshouse/glasshouse/governancetest"
	"github.com/glasshouse/glasshouse/internal/pgtest"
	"github.com/glasshouse/glasshouse/postgres"
	"github.com/glasshouse/glasshouse/queuetest"
	"github.com/glasshouse/glasshouse/redact/redacttest"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

func testLogger(t testing.TB) *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

func openTemp(t testing.TB) *postgres.DB {
	t.Helper()
	dsn := pgtest.NewDB(t)
	db, err := postgres.Open(context.Background(), dsn, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func TestCatalog(t *testing.T) {
	catalogtest.Run(t, func(t *testing.T) glasshouse.Catalog { return openTemp(t) })
}

func TestQueue(t *testing.T) {
	queuetest.Run(t, func(t *testing.T) queuetest.Backend { return openTemp(t) })
}

// tamperDB damages the stored chain with raw SQL, for audittest.
type tamperDB struct{ *postgres.DB }

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

// TestMigrateTwice: a second Open of the same database (another process
// starting) applies nothing and keeps the data.
func TestMigrateTwice(t *testing.T) {
	ctx := context.Background()
	dsn := pgtest.NewDB(t)
	db1, err := postgres.Open(ctx, dsn, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db1.Close()
	a := catalogtest.NewAsset("default", "a.mp4")
	if err := db1.CreateAsset(ctx, a, nil, glasshouse.NewEvent(glasshouse.System("default"), "upload", string(a.ID), nil)); err != nil {
		t.Fatal(err)
	}
	db2, err := postgres.Open(ctx, dsn, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db2.Close()
	if _, err := db2.GetAsset(ctx, "default", a.ID); err != nil {
		t.Fatalf("asset after second open: %v", err)
	}
}

func TestOpenBadDSN(t *testing.T) {
	ctx := context.Background()
	if _, err := postgres.Open(ctx, "mysql://x", nil); !errors.Is(err, glasshouse.ErrInvalid) {
		t.Fatalf("want ErrInvalid, got %v", err)
	}
	// Nothing listens on port 1: unavailable, with the reason.
	_, err := postgres.Open(ctx, "postgres://u@127.0.0.1:1/x?sslmode=disable&connect_timeout=2", nil)
	if !errors.Is(err, glasshouse.ErrUnavailable) {
		t.Fatalf("unreachable server: want ErrUnavailable, got %v", err)
	}
}

func TestGovernance(t *testing.T) {
	governancetest.Run(t, func(t *testing.T) governancetest.Backend { return openTemp(t) })
}

func TestRedactStore(t *testing.T) {
	redacttest.Run(t, func(t *testing.T) redacttest.Backend { return openTemp(t) })
}
