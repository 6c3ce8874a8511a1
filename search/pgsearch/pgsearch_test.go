package pgsearch_test

import (
	"context"
	"database/sql"
	"os"
	"testing"

	"github.com/glasshouse/glasshouse/internal/pgtest"
	"github.com/glasshouse/glasshouse/search"
	"github.com/glasshouse/glasshouse/search/indextest"
	"github.com/glasshouse/glasshouse/search/pgsearch"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

func newIndex(t *testing.T) search.Index {
	db, err := sql.Open("pgx", pgtest.NewDB(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	x, err := pgsearch.New(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	return x
}

func TestIndex(t *testing.T) {
	indextest.Run(t, newIndex)
}
