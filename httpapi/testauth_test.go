package httpapi

import (
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/glasshouse/glasshouse"
	"github.com/glasshouse/glasshouse/auth"
	"github.com/glasshouse/glasshouse/sqlite"
)

// testAccounts is a real auth service on a throwaway SQLite database with
// tenant "default" and its admin "local"; it returns the admin's API token.
// The admin's password hash is never checked (tests sign in with tokens,
// or create users with real passwords where sign-in is the subject).
func testAccounts(t testing.TB, cfg auth.Config) (*auth.Service, *sqlite.DB, string) {
	t.Helper()
	// Subtest names may put '#' into t.TempDir(), which a DSN cannot hold.
	dir, err := os.MkdirTemp("", "gh-auth-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	db, err := sqlite.Open(t.Context(), filepath.Join(dir, "auth.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	svc := auth.NewService(db, cfg)
	ctx := t.Context()
	now := time.Now().UTC()
	sys := glasshouse.System(glasshouse.DefaultTenant)
	if err := db.CreateTenant(ctx, auth.Tenant{ID: glasshouse.DefaultTenant, Created: now}, glasshouse.NewEvent(sys, "tenant.create", "default", nil)); err != nil {
		t.Fatal(err)
	}
	if err := db.CreateUser(ctx, auth.User{Name: "local", Tenant: glasshouse.DefaultTenant, Role: auth.Admin, PasswordHash: "unused", Created: now},
		glasshouse.NewEvent(sys, "user.create", "local", nil)); err != nil {
		t.Fatal(err)
	}
	_, secret, err := svc.CreateToken(ctx, auth.LocalPrincipal(glasshouse.DefaultTenant, "test"), "local", "test", auth.ScopeAdmin, time.Hour, "")
	if err != nil {
		t.Fatal(err)
	}
	return svc, db, secret
}

// withToken sends token with every request that brings no credentials of
// its own: the existing tests act as the default tenant's admin.
func withToken(h http.Handler, token string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") == "" && r.Header.Get("Cookie") == "" {
			r.Header.Set("Authorization", "Bearer "+token)
		}
		h.ServeHTTP(w, r)
	})
}

// newAuthed is New with a test auth service, authenticated as the admin.
func newAuthed(t testing.TB, svc Service, opts Options) http.Handler {
	accts, _, tok := testAccounts(t, auth.Config{})
	opts.Accounts = accts
	return withToken(New(svc, opts), tok)
}
