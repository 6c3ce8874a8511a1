package auth

import (
	"strings"
	"testing"
)

func TestPasswordHash(t *testing.T) {
	h, err := HashPassword("correct horse battery")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$v=19$m=65536,t=3,p=4$") || strings.Contains(h, "correct") {
		t.Fatalf("hash %q", h)
	}
	h2, _ := HashPassword("correct horse battery")
	if h == h2 {
		t.Fatal("two hashes of one password are equal: no salt")
	}
	for pw, want := range map[string]bool{"correct horse battery": true, "correct horse batterY": false, "": false} {
		if ok, err := VerifyPassword(h, pw); err != nil || ok != want {
			t.Errorf("VerifyPassword(%q) = %v, %v; want %v", pw, ok, err, want)
		}
	}
	for _, bad := range []string{"", "$bcrypt$x", "$argon2id$v=19$m=65536,t=3,p=4$@@$@@", "$argon2id$v=19$m=0,t=3,p=4$c2FsdA$a2V5", "$argon2id$v=18$m=65536,t=3,p=4$c2FsdA$a2V5"} {
		if _, err := VerifyPassword(bad, "x"); err == nil {
			t.Errorf("malformed hash %q accepted", bad)
		}
	}
	if err := CheckPasswordPolicy("short"); err == nil {
		t.Error("short password accepted")
	}
	if err := CheckPasswordPolicy(strings.Repeat("x", MaxPasswordLen+1)); err == nil {
		t.Error("huge password accepted")
	}
}

func TestRoleTable(t *testing.T) {
	// ROLES.md, literally.
	want := map[Role]string{
		Viewer:   "member assets.read",
		Editor:   "member assets.read assets.write content.analyze content.redact",
		Admin:    "member assets.read assets.write content.analyze content.redact assets.delete audit.read usage.read policy.manage users.manage",
		Auditor:  "member audit.read usage.read",
		Operator: "member usage.all tenants.manage",
	}
	for r, w := range want {
		var got []string
		for _, p := range r.Perms() {
			got = append(got, string(p))
		}
		if strings.Join(got, " ") != w {
			t.Errorf("%s: %v, want %s", r, got, w)
		}
		if !r.Can(Public) {
			t.Errorf("%s cannot use public routes", r)
		}
	}
	if Operator.Can(AssetsRead) || Auditor.Can(AssetsRead) || Viewer.Can(AssetsWrite) || Editor.Can(AssetsDelete) {
		t.Error("a role has a permission it must not")
	}
	var nobody Principal
	if nobody.Can(Member) || !nobody.Can(Public) {
		t.Error("anonymous principal")
	}
	p := Principal{User: "e", Role: Editor, Scope: ScopeRead, TokenID: "x"}
	if p.Can(AssetsWrite) || !p.Can(AssetsRead) {
		t.Error("scope does not narrow the role")
	}
	if !ScopeWrite.Within(ScopeAdmin) || ScopeAdmin.Within(ScopeWrite) || Scope("bogus").Within(ScopeAdmin) {
		t.Error("Within")
	}
}

// BenchmarkPasswordCheck is the cost of one sign-in's password check
// (Argon2id, 64 MiB, 3 passes, 4 lanes), by design the slow part.
func BenchmarkPasswordCheck(b *testing.B) {
	h, _ := HashPassword("correct horse battery")
	for b.Loop() {
		if ok, _ := VerifyPassword(h, "correct horse battery"); !ok {
			b.Fatal("no match")
		}
	}
}

// BenchmarkHashSecret is the hashing part of every token or session check.
func BenchmarkHashSecret(b *testing.B) {
	s, _ := RandomSecret(32)
	for b.Loop() {
		HashSecret(TokenPrefix + s)
	}
}
