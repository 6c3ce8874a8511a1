package sqlitefts_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"

	_ "modernc.org/sqlite"

	"github.com/glasshouse/glasshouse/search"
	"github.com/glasshouse/glasshouse/search/indextest"
	"github.com/glasshouse/glasshouse/search/sqlitefts"
)

func openDB(t testing.TB) *sql.DB {
	t.Helper()
	path := filepath.Join(t.TempDir(), "gh.db")
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=journal_mode(WAL)&_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func newIndex(t *testing.T) search.Index {
	x, err := sqlitefts.New(context.Background(), openDB(t))
	if err != nil {
		t.Fatal(err)
	}
	return x
}

func TestConformance(t *testing.T) {
	indextest.Run(t, newIndex)
}
