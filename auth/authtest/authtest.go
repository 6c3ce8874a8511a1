// Package authtest is the conformance suite of auth.Store: every backend
// (sqlite today, PostgreSQL later) runs it, together with the auth.Service
// behaviour that depends on the store (sign-in, sessions, tokens, audit).
package authtest

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/glasshouse/glasshouse"
	"github.com/glasshouse/glasshouse/auth"
)

// Backend is a store that also reads back the audit log it writes.
type Backend interface {
	auth.Store
	Events(ctx context.Context, tenant glasshouse.TenantID, after int64, limit int) ([]glasshouse.AuditEvent, error)
}

// clock is a settable time source for the service under test.
type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

// Run runs the suite; open returns an empty backend for each subtest.
func Run(t *testing.T, open func(t *testing.T) Backend) {
	t.Run("Tenants", func(t *testing.T) { testTenants(t, open(t)) })
	t.Run("Users", func(t *testing.T) { testUsers(t, open(t)) })
	t.Run("Sessions", func(t *testing.T) { testSessions(t, open(t)) })
	t.Run("Tokens", func(t *testing.T) { testTokens(t, open(t)) })
	t.Run("SignIn", func(t *testing.T) { testSignIn(t, open(t)) })
	t.Run("RateLimit", func(t *testing.T) { testRateLimit(t, open(t)) })
	t.Run("TokenScopeExpiryRevocation", func(t *testing.T) { testTokenLifecycle(t, open(t)) })
	t.Run("UserManagement", func(t *testing.T) { testUserManagement(t, open(t)) })
}

func actions(t *testing.T, b Backend, tenant glasshouse.TenantID) []string {
	t.Helper()
	evs, err := b.Events(t.Context(), tenant, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range evs {
		if tenant == "" || e.Tenant == tenant {
			out = append(out, e.Action+":"+e.Target)
		}
	}
	return out
}

func ev(action, target string, tenant glasshouse.TenantID) glasshouse.AuditEvent {
	return glasshouse.NewEvent(glasshouse.Actor{Tenant: tenant, User: "suite"}, action, target, nil)
}

func wantKind(t *testing.T, err, kind error, what string) {
	t.Helper()
	if !errors.Is(err, kind) {
		t.Fatalf("%s: err = %v, want %v", what, err, kind)
	}
}

func mustTenant(t *testing.T, b Backend, id glasshouse.TenantID) {
	t.Helper()
	if err := b.CreateTenant(t.Context(), auth.Tenant{ID: id, Name: strings.ToUpper(string(id)), Created: time.Now().UTC()}, ev("tenant.create", string(id), id)); err != nil {
		t.Fatal(err)
	}
}

func mustUser(t *testing.T, b Backend, tenant glasshouse.TenantID, name string, role auth.Role) auth.User {
	t.Helper()
	u := auth.User{Name: name, Tenant: tenant, Role: role, PasswordHash: "$argon2id$x", Created: time.Now().UTC().Truncate(time.Microsecond)}
	if err := b.CreateUser(t.Context(), u, ev("user.create", name, tenant)); err != nil {
		t.Fatal(err)
	}
	return u
}

func testTenants(t *testing.T, b Backend) {
	ctx := t.Context()
	mustTenant(t, b, "acme")
	mustTenant(t, b, "beta")
	wantKind(t, b.CreateTenant(ctx, auth.Tenant{ID: "acme"}, ev("tenant.create", "acme", "acme")), glasshouse.ErrExist, "duplicate tenant")
	ts, err := b.ListTenants(ctx)
	if err != nil || len(ts) != 2 || ts[0].ID != "acme" || ts[1].ID != "beta" || ts[0].Name != "ACME" {
		t.Fatalf("ListTenants = %+v, %v", ts, err)
	}
	if _, err := b.GetTenant(ctx, "nope"); !errors.Is(err, glasshouse.ErrNotExist) {
		t.Fatalf("GetTenant(nope) = %v", err)
	}
	// The failed duplicate left no event behind: change and event are one transaction.
	if got := actions(t, b, "acme"); !slices.Equal(got, []string{"tenant.create:acme"}) {
		t.Fatalf("acme events = %v", got)
	}
}

func testUsers(t *testing.T, b Backend) {
	ctx := t.Context()
	mustTenant(t, b, "acme")
	want := mustUser(t, b, "acme", "Alice", auth.Editor)
	mustUser(t, b, "acme", "bob", auth.Viewer)
	mustUser(t, b, "", "op", auth.Operator)
	wantKind(t, b.CreateUser(ctx, auth.User{Name: "alice", Tenant: "acme", Role: auth.Viewer, PasswordHash: "x"}, ev("user.create", "alice", "acme")),
		glasshouse.ErrExist, "user name differing in case only")
	wantKind(t, b.CreateUser(ctx, auth.User{Name: "carol", Tenant: "ghost", Role: auth.Viewer, PasswordHash: "x"}, ev("user.create", "carol", "ghost")),
		glasshouse.ErrNotExist, "user of a missing tenant")
	got, err := b.GetUser(ctx, "ALICE")
	if err != nil || got.Name != "Alice" || got.Tenant != "acme" || got.Role != auth.Editor || got.PasswordHash != want.PasswordHash || !got.Created.Equal(want.Created) {
		t.Fatalf("GetUser = %+v, %v; want %+v", got, err, want)
	}
	if _, err := b.GetUser(ctx, "nobody"); !errors.Is(err, glasshouse.ErrNotExist) {
		t.Fatalf("GetUser(nobody) = %v", err)
	}
	us, _ := b.ListUsers(ctx, "acme")
	if len(us) != 2 || us[0].Name != "Alice" || us[1].Name != "bob" {
		t.Fatalf("ListUsers(acme) = %+v", us)
	}
	ops, _ := b.ListUsers(ctx, "")
	if len(ops) != 1 || ops[0].Role != auth.Operator {
		t.Fatalf("ListUsers(operators) = %+v", ops)
	}
	if n, err := b.CountUsers(ctx); err != nil || n != 3 {
		t.Fatalf("CountUsers = %d, %v", n, err)
	}
	got.Role, got.Disabled, got.PasswordHash = auth.Admin, true, "$argon2id$new"
	if err := b.UpdateUser(ctx, got, false, ev("user.role", "Alice", "acme")); err != nil {
		t.Fatal(err)
	}
	again, _ := b.GetUser(ctx, "alice")
	if again.Role != auth.Admin || !again.Disabled || again.PasswordHash != "$argon2id$new" {
		t.Fatalf("after UpdateUser: %+v", again)
	}
	wantKind(t, b.UpdateUser(ctx, auth.User{Name: "ghost", Role: auth.Viewer}, false, ev("user.role", "ghost", "acme")), glasshouse.ErrNotExist, "update missing user")
	if got := actions(t, b, "acme"); !slices.Equal(got, []string{"tenant.create:acme", "user.create:Alice", "user.create:bob", "user.role:Alice"}) {
		t.Fatalf("acme events = %v", got)
	}
}

func testSessions(t *testing.T, b Backend) {
	ctx := t.Context()
	mustTenant(t, b, "acme")
	mustUser(t, b, "acme", "alice", auth.Viewer)
	now := time.Now().UTC().Truncate(time.Microsecond)
	s := auth.Session{Hash: auth.HashSecret("s1"), User: "alice", Created: now, LastSeen: now, Remote: "10.0.0.1:5"}
	if err := b.CreateSession(ctx, s, ev("signin", "alice", "acme")); err != nil {
		t.Fatal(err)
	}
	wantKind(t, b.CreateSession(ctx, auth.Session{Hash: "x", User: "nobody", Created: now, LastSeen: now}, ev("signin", "nobody", "acme")), glasshouse.ErrNotExist, "session of a missing user")
	gs, gu, err := b.GetSession(ctx, s.Hash)
	if err != nil || gs.User != "alice" || !gs.Created.Equal(now) || gs.Remote != s.Remote || gu.Role != auth.Viewer {
		t.Fatalf("GetSession = %+v %+v %v", gs, gu, err)
	}
	later := now.Add(time.Hour)
	if err := b.TouchSession(ctx, s.Hash, later); err != nil {
		t.Fatal(err)
	}
	if err := b.TouchSession(ctx, s.Hash, now); err != nil { // never goes back
		t.Fatal(err)
	}
	gs, _, _ = b.GetSession(ctx, s.Hash)
	if !gs.LastSeen.Equal(later) {
		t.Fatalf("LastSeen = %v, want %v", gs.LastSeen, later)
	}
	// A new password ends every session of the user.
	u, _ := b.GetUser(ctx, "alice")
	if err := b.UpdateUser(ctx, u, true, ev("user.password", "alice", "acme")); err != nil {
		t.Fatal(err)
	}
	if _, _, err := b.GetSession(ctx, s.Hash); !errors.Is(err, glasshouse.ErrNotExist) {
		t.Fatalf("session after endSessions: %v", err)
	}
	s.Hash = auth.HashSecret("s2")
	if err := b.CreateSession(ctx, s, ev("signin", "alice", "acme")); err != nil {
		t.Fatal(err)
	}
	if err := b.DeleteSession(ctx, s.Hash, ev("signout", "alice", "acme")); err != nil {
		t.Fatal(err)
	}
	wantKind(t, b.DeleteSession(ctx, s.Hash, ev("signout", "alice", "acme")), glasshouse.ErrNotExist, "second delete")
	if got := actions(t, b, "acme"); !slices.Equal(got[2:], []string{"signin:alice", "user.password:alice", "signin:alice", "signout:alice"}) {
		t.Fatalf("events = %v", got)
	}
}

func testTokens(t *testing.T, b Backend) {
	ctx := t.Context()
	mustTenant(t, b, "acme")
	mustTenant(t, b, "beta")
	mustUser(t, b, "acme", "alice", auth.Editor)
	mustUser(t, b, "beta", "bert", auth.Admin)
	now := time.Now().UTC().Truncate(time.Microsecond)
	tok := auth.Token{ID: "t1", Tenant: "acme", User: "alice", Name: "ci", Scope: auth.ScopeWrite, Hash: auth.HashSecret("secret1"), Created: now, Expires: now.Add(time.Hour)}
	if err := b.CreateToken(ctx, tok, ev("token.create", "t1", "acme")); err != nil {
		t.Fatal(err)
	}
	bad := tok
	bad.ID, bad.Hash, bad.Tenant = "t2", auth.HashSecret("secret2"), "beta"
	wantKind(t, b.CreateToken(ctx, bad, ev("token.create", "t2", "beta")), glasshouse.ErrInvalid, "token for a user of another tenant")
	dup := tok
	dup.ID = "t3"
	wantKind(t, b.CreateToken(ctx, dup, ev("token.create", "t3", "acme")), glasshouse.ErrExist, "token with a duplicate hash")
	gt, gu, err := b.GetToken(ctx, tok.Hash)
	if err != nil || gt.ID != "t1" || gt.Scope != auth.ScopeWrite || !gt.Expires.Equal(tok.Expires) || !gt.Revoked.IsZero() || gu.Name != "alice" {
		t.Fatalf("GetToken = %+v %+v %v", gt, gu, err)
	}
	if err := b.TouchToken(ctx, "t1", now.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	bt := auth.Token{ID: "b1", Tenant: "beta", User: "bert", Scope: auth.ScopeRead, Hash: auth.HashSecret("b"), Created: now, Expires: now.Add(time.Hour)}
	if err := b.CreateToken(ctx, bt, ev("token.create", "b1", "beta")); err != nil {
		t.Fatal(err)
	}
	ls, _ := b.ListTokens(ctx, "acme", "")
	if len(ls) != 1 || ls[0].ID != "t1" || !ls[0].LastUsed.Equal(now.Add(time.Minute)) {
		t.Fatalf("ListTokens(acme) = %+v", ls)
	}
	if ls, _ := b.ListTokens(ctx, "acme", "bert"); len(ls) != 0 {
		t.Fatalf("ListTokens(acme, bert) = %+v", ls)
	}
	// Another tenant cannot revoke it.
	wantKind(t, b.RevokeToken(ctx, "beta", "t1", now, ev("token.revoke", "t1", "beta")), glasshouse.ErrNotExist, "revoke across tenants")
	if err := b.RevokeToken(ctx, "acme", "t1", now, ev("token.revoke", "t1", "acme")); err != nil {
		t.Fatal(err)
	}
	gt, _, _ = b.GetToken(ctx, tok.Hash)
	if !gt.Revoked.Equal(now) {
		t.Fatalf("Revoked = %v", gt.Revoked)
	}
	if got := actions(t, b, "beta"); slices.Contains(got, "token.revoke:t1") || slices.Contains(got, "token.create:t2") {
		t.Fatalf("a refused change left an event: %v", got)
	}
}

// service builds a Service over b with a settable clock and a bootstrap
// admin; it returns the admin's password.
func service(t *testing.T, b Backend, cfg auth.Config) (*auth.Service, *clock) {
	t.Helper()
	c := &clock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	cfg.Now = c.now
	return auth.NewService(b, cfg), c
}

const pw = "correct horse battery"

func testSignIn(t *testing.T, b Backend) {
	ctx := t.Context()
	s, c := service(t, b, auth.Config{IdleTimeout: time.Hour, MaxSessionAge: 3 * time.Hour})
	local := auth.LocalPrincipal("default", "tester")
	user, initial, err := s.Bootstrap(ctx, local)
	if err != nil || user != "admin" || len(initial) < auth.MinPasswordLen {
		t.Fatalf("Bootstrap = %q %q %v", user, initial, err)
	}
	if u, p, err := s.Bootstrap(ctx, local); err != nil || u != "" || p != "" {
		t.Fatalf("second Bootstrap = %q %q %v", u, p, err)
	}
	if _, err := s.CreateUser(ctx, local, "default", "vic", auth.Viewer, pw, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateUser(ctx, local, "default", "short", auth.Viewer, "abc", ""); !errors.Is(err, glasshouse.ErrInvalid) {
		t.Fatalf("short password: %v", err)
	}
	if _, _, err := s.SignIn(ctx, "vic", "wrong password!", "1.2.3.4:1"); !errors.Is(err, auth.ErrUnauthenticated) {
		t.Fatalf("wrong password: %v", err)
	}
	if _, _, err := s.SignIn(ctx, "nobody", pw, "1.2.3.4:1"); !errors.Is(err, auth.ErrUnauthenticated) {
		t.Fatalf("unknown user: %v", err)
	}
	secret, p, err := s.SignIn(ctx, "VIC", pw, "1.2.3.4:1")
	if err != nil || p.User != "vic" || p.Role != auth.Viewer || p.Tenant != "default" {
		t.Fatalf("SignIn = %+v %v", p, err)
	}
	if got, err := s.Session(ctx, secret); err != nil || got != p {
		t.Fatalf("Session = %+v %v", got, err)
	}
	if _, err := s.Session(ctx, secret+"x"); !errors.Is(err, auth.ErrUnauthenticated) {
		t.Fatalf("wrong secret: %v", err)
	}
	// Idle expiry: 59 minutes keeps it (and refreshes it), then 61 idle ends it.
	c.t = c.t.Add(59 * time.Minute)
	if _, err := s.Session(ctx, secret); err != nil {
		t.Fatalf("session used within the idle time: %v", err)
	}
	c.t = c.t.Add(61 * time.Minute)
	if _, err := s.Session(ctx, secret); !errors.Is(err, auth.ErrUnauthenticated) {
		t.Fatalf("idle session: %v", err)
	}
	// Absolute expiry even when used all the time.
	secret, _, err = s.SignIn(ctx, "vic", pw, "1.2.3.4:1")
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 7; i++ {
		c.t = c.t.Add(30 * time.Minute)
		_, err = s.Session(ctx, secret)
	}
	if !errors.Is(err, auth.ErrUnauthenticated) {
		t.Fatalf("session older than its maximum age: %v", err)
	}
	// Sign out ends it at once.
	secret, _, _ = s.SignIn(ctx, "vic", pw, "1.2.3.4:1")
	if err := s.SignOut(ctx, secret, "1.2.3.4:1"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Session(ctx, secret); !errors.Is(err, auth.ErrUnauthenticated) {
		t.Fatalf("after sign-out: %v", err)
	}
	got := actions(t, b, "default")
	for _, want := range []string{"signin.failure:vic", "signin:vic", "signout:vic", "user.create:vic", "user.create:admin"} {
		if !slices.Contains(got, want) {
			t.Errorf("no %s event in %v", want, got)
		}
	}
	if all := actions(t, b, ""); !slices.Contains(all, "signin.failure:nobody") {
		t.Errorf("no event for the unknown user's attempt: %v", all)
	}
	// Disabling a user ends its sessions and refuses sign-in.
	secret, _, _ = s.SignIn(ctx, "vic", pw, "1.2.3.4:1")
	yes := true
	if _, err := s.UpdateUser(ctx, local, "vic", auth.UserChange{Disabled: &yes}, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Session(ctx, secret); !errors.Is(err, auth.ErrUnauthenticated) {
		t.Fatalf("session of a disabled user: %v", err)
	}
	if _, _, err := s.SignIn(ctx, "vic", pw, "1.2.3.4:1"); !errors.Is(err, auth.ErrUnauthenticated) {
		t.Fatalf("disabled user signed in: %v", err)
	}
}

func testRateLimit(t *testing.T, b Backend) {
	ctx := t.Context()
	s, c := service(t, b, auth.Config{AccountBurst: 3, AccountEvery: time.Minute, RemoteBurst: 5, RemoteEvery: time.Minute})
	local := auth.LocalPrincipal("default", "tester")
	if _, _, err := s.Bootstrap(ctx, local); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateUser(ctx, local, "default", "vic", auth.Viewer, pw, ""); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		if _, _, err := s.SignIn(ctx, "vic", "guess number "+string(rune('a'+i)), "9.9.9.9:1"); !errors.Is(err, auth.ErrUnauthenticated) {
			t.Fatalf("attempt %d: %v", i, err)
		}
	}
	// The account is now limited, even with the right password...
	_, _, err := s.SignIn(ctx, "vic", pw, "8.8.8.8:1")
	var rl *auth.RateLimitError
	if !errors.As(err, &rl) || rl.Who != "account" || rl.RetryAfter <= 0 || rl.RetryAfter > time.Minute {
		t.Fatalf("4th attempt on the account: %v", err)
	}
	// ... other accounts from the same address are not, until the address is.
	if _, _, err := s.SignIn(ctx, "admin", "not it at all", "9.9.9.9:2"); !errors.Is(err, auth.ErrUnauthenticated) {
		t.Fatalf("other account: %v", err)
	}
	if _, _, err := s.SignIn(ctx, "someone", "not it at all", "9.9.9.9:3"); !errors.Is(err, auth.ErrUnauthenticated) {
		t.Fatalf("other account: %v", err)
	}
	if _, _, err := s.SignIn(ctx, "another", "not it at all", "9.9.9.9:4"); !errors.As(err, &rl) || rl.Who != "address" {
		t.Fatalf("6th attempt from the address: %v", err)
	}
	// Time refills the account.
	c.t = c.t.Add(time.Minute)
	if _, _, err := s.SignIn(ctx, "vic", pw, "8.8.8.8:1"); err != nil {
		t.Fatalf("after waiting: %v", err)
	}
}

func testTokenLifecycle(t *testing.T, b Backend) {
	ctx := t.Context()
	s, c := service(t, b, auth.Config{})
	local := auth.LocalPrincipal("default", "tester")
	if _, _, err := s.Bootstrap(ctx, local); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateTenant(ctx, local, "beta", "Beta", ""); err != nil {
		t.Fatal(err)
	}
	for _, u := range []struct {
		tenant glasshouse.TenantID
		name   string
		role   auth.Role
	}{{"default", "ed", auth.Editor}, {"default", "vic", auth.Viewer}, {"beta", "bea", auth.Admin}} {
		if _, err := s.CreateUser(ctx, local, u.tenant, u.name, u.role, pw, ""); err != nil {
			t.Fatal(err)
		}
	}
	_, edp, _ := s.SignIn(ctx, "ed", pw, "")
	_, vicp, _ := s.SignIn(ctx, "vic", pw, "")
	_, beap, _ := s.SignIn(ctx, "bea", pw, "")

	// Scope: never wider than the role.
	if _, _, err := s.CreateToken(ctx, vicp, "", "x", auth.ScopeWrite, 0, ""); !errors.Is(err, glasshouse.ErrInvalid) {
		t.Fatalf("viewer got a write token: %v", err)
	}
	if _, _, err := s.CreateToken(ctx, edp, "", "x", auth.ScopeAdmin, 0, ""); !errors.Is(err, glasshouse.ErrInvalid) {
		t.Fatalf("editor got an admin token: %v", err)
	}
	tok, secret, err := s.CreateToken(ctx, edp, "", "ci", auth.ScopeRead, time.Hour, "")
	if err != nil || !strings.HasPrefix(secret, auth.TokenPrefix) || tok.Hash != auth.HashSecret(secret) {
		t.Fatalf("CreateToken = %+v %q %v", tok, secret, err)
	}
	if strings.Contains(tok.Hash, secret) {
		t.Fatal("the stored hash contains the secret")
	}
	p, err := s.Token(ctx, secret)
	if err != nil || p.User != "ed" || p.Scope != auth.ScopeRead || p.TokenID != tok.ID {
		t.Fatalf("Token = %+v %v", p, err)
	}
	if !p.Can(auth.AssetsRead) || p.Can(auth.AssetsWrite) || p.Can(auth.AuditRead) {
		t.Fatalf("read token of an editor: read %v write %v audit %v", p.Can(auth.AssetsRead), p.Can(auth.AssetsWrite), p.Can(auth.AuditRead))
	}
	// Another tenant's admin can neither list nor revoke it.
	if ls, _ := s.ListTokens(ctx, beap, true); len(ls) != 0 {
		t.Fatalf("beta admin lists default's tokens: %+v", ls)
	}
	if err := s.RevokeToken(ctx, beap, tok.ID, ""); !errors.Is(err, glasshouse.ErrNotExist) {
		t.Fatalf("beta admin revoked a default token: %v", err)
	}
	// A viewer cannot revoke an editor's token either.
	if err := s.RevokeToken(ctx, vicp, tok.ID, ""); !errors.Is(err, glasshouse.ErrNotExist) {
		t.Fatalf("viewer revoked another's token: %v", err)
	}
	// Expiry.
	c.t = c.t.Add(time.Hour)
	if _, err := s.Token(ctx, secret); !errors.Is(err, auth.ErrUnauthenticated) || !strings.Contains(err.Error(), "expired") {
		t.Fatalf("expired token: %v", err)
	}
	// Revocation.
	tok2, secret2, err := s.CreateToken(ctx, edp, "", "ci2", "", 0, "")
	if err != nil || tok2.Scope != auth.ScopeWrite {
		t.Fatalf("default scope: %+v %v", tok2, err)
	}
	if _, err := s.Token(ctx, secret2); err != nil {
		t.Fatal(err)
	}
	if err := s.RevokeToken(ctx, edp, tok2.ID, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Token(ctx, secret2); !errors.Is(err, auth.ErrUnauthenticated) || !strings.Contains(err.Error(), "revoked") {
		t.Fatalf("revoked token: %v", err)
	}
	for _, bad := range []string{"", "ghtok_", "nope", auth.TokenPrefix + strings.Repeat("a", 200)} {
		if _, err := s.Token(ctx, bad); !errors.Is(err, auth.ErrUnauthenticated) {
			t.Fatalf("token %q: %v", bad, err)
		}
	}
	got := actions(t, b, "default")
	for _, want := range []string{"token.create:" + tok.ID, "token.revoke:" + tok2.ID} {
		if !slices.Contains(got, want) {
			t.Errorf("no %s event in %v", want, got)
		}
	}
}

func testUserManagement(t *testing.T, b Backend) {
	ctx := t.Context()
	s, _ := service(t, b, auth.Config{})
	local := auth.LocalPrincipal("default", "tester")
	if _, _, err := s.Bootstrap(ctx, local); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateTenant(ctx, local, "beta", "", ""); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateTenant(ctx, local, "bad/name", "", ""); !errors.Is(err, glasshouse.ErrInvalid) {
		t.Fatalf("bad tenant id: %v", err)
	}
	if _, err := s.CreateUser(ctx, local, "beta", "bea", auth.Admin, pw, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateUser(ctx, local, "", "opal", auth.Operator, pw, ""); err != nil {
		t.Fatal(err)
	}
	_, bea, _ := s.SignIn(ctx, "bea", pw, "")
	_, opal, _ := s.SignIn(ctx, "opal", pw, "")
	// A beta admin manages beta only.
	if _, err := s.CreateUser(ctx, bea, "default", "mole", auth.Admin, pw, ""); !errors.Is(err, glasshouse.ErrPermission) {
		t.Fatalf("beta admin created a default user: %v", err)
	}
	if _, err := s.CreateUser(ctx, bea, "", "op2", auth.Operator, pw, ""); !errors.Is(err, glasshouse.ErrPermission) {
		t.Fatalf("admin created an operator: %v", err)
	}
	r := auth.Admin
	if _, err := s.UpdateUser(ctx, bea, "admin", auth.UserChange{Role: &r}, ""); !errors.Is(err, glasshouse.ErrNotExist) {
		t.Fatalf("beta admin changed a default user: %v", err)
	}
	if _, err := s.ListUsers(ctx, bea, "default"); !errors.Is(err, glasshouse.ErrPermission) {
		t.Fatalf("beta admin listed default's users: %v", err)
	}
	if _, err := s.CreateUser(ctx, bea, "beta", "bo", auth.Viewer, pw, ""); err != nil {
		t.Fatal(err)
	}
	r = auth.Editor
	u, err := s.UpdateUser(ctx, bea, "bo", auth.UserChange{Role: &r}, "")
	if err != nil || u.Role != auth.Editor {
		t.Fatalf("role change: %+v %v", u, err)
	}
	if _, err := s.UpdateUser(ctx, bea, "bea", auth.UserChange{Role: &r}, ""); !errors.Is(err, glasshouse.ErrConflict) {
		t.Fatalf("admin demoted itself: %v", err)
	}
	np := "a brand new passphrase"
	if _, err := s.UpdateUser(ctx, bea, "bo", auth.UserChange{Password: &np}, ""); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.SignIn(ctx, "bo", np, ""); err != nil {
		t.Fatalf("sign in with the new password: %v", err)
	}
	// The operator manages tenants, not their content.
	if _, err := s.ListTenants(ctx, bea); !errors.Is(err, glasshouse.ErrPermission) {
		t.Fatalf("admin listed tenants: %v", err)
	}
	if ts, err := s.ListTenants(ctx, opal); err != nil || len(ts) != 2 {
		t.Fatalf("operator ListTenants = %v %v", ts, err)
	}
	if opal.Can(auth.AssetsRead) || opal.Can(auth.AuditRead) || !opal.Can(auth.UsageAll) {
		t.Fatal("operator permissions wrong")
	}
	got := actions(t, b, "beta")
	for _, want := range []string{"user.create:bo", "user.role:bo", "user.password:bo"} {
		if !slices.Contains(got, want) {
			t.Errorf("no %s event in %v", want, got)
		}
	}
}
