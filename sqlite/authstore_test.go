package sqlite_test

import (
	"path/filepath"
	"testing"

	"github.com/glasshouse/glasshouse/auth/authtest"
	"github.com/glasshouse/glasshouse/sqlite"
)

func TestAuthStoreConformance(t *testing.T) {
	authtest.Run(t, func(t *testing.T) authtest.Backend {
		db, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "auth.db"), nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return db
	})
}
