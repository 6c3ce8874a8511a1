package sqlite_test

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/glasshouse/glasshouse"
	"github.com/glasshouse/glasshouse/auth"
	"github.com/glasshouse/glasshouse/sqlite"
)

// authBench is a database with one tenant, one user, a token and a session.
func authBench(b *testing.B) (*sqlite.DB, *auth.Service, string, string) {
	db, err := sqlite.Open(b.Context(), filepath.Join(b.TempDir(), "a.db"), nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	svc := auth.NewService(db, auth.Config{AccountBurst: 1 << 20, RemoteBurst: 1 << 20})
	local := auth.LocalPrincipal("default", "bench")
	ctx := b.Context()
	if _, err := svc.CreateTenant(ctx, local, "default", "", ""); err != nil {
		b.Fatal(err)
	}
	if _, err := svc.CreateUser(ctx, local, "default", "ed", auth.Editor, "bench password 123", ""); err != nil {
		b.Fatal(err)
	}
	_, tok, err := svc.CreateToken(ctx, local, "ed", "bench", auth.ScopeWrite, time.Hour, "")
	if err != nil {
		b.Fatal(err)
	}
	sess, _, err := svc.SignIn(ctx, "ed", "bench password 123", "127.0.0.1:1")
	if err != nil {
		b.Fatal(err)
	}
	return db, svc, tok, sess
}

// BenchmarkTokenCheck is what every API request with a Bearer token costs:
// SHA-256 of the token, one indexed join (token + user), checks.
func BenchmarkTokenCheck(b *testing.B) {
	_, svc, tok, _ := authBench(b)
	for b.Loop() {
		if _, err := svc.Token(b.Context(), tok); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSessionCheck is what every request of the web page costs.
func BenchmarkSessionCheck(b *testing.B) {
	_, svc, _, sess := authBench(b)
	for b.Loop() {
		if _, err := svc.Session(b.Context(), sess); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAuthBaselineGetAsset is the baseline for the two above: one
// plain catalog read by primary key on the same kind of database.
func BenchmarkAuthBaselineGetAsset(b *testing.B) {
	db, _, _, _ := authBench(b)
	ctx := b.Context()
	a := &glasshouse.Asset{ID: "0193a5c2-7b1e-7c3d-8e4f-123456789abc", Tenant: "default", Name: "x", Hash: glasshouse.RefFromSum(make([]byte, 32))}
	if err := db.CreateAsset(ctx, a, nil, glasshouse.NewEvent(glasshouse.System("default"), "upload", string(a.ID), nil)); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := db.GetAsset(ctx, "default", a.ID); err != nil {
			b.Fatal(err)
		}
	}
}
