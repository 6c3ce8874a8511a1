package main

import (
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestAccountsBootstrapAndCLI: the first serve makes an admin with a random
// password in DATA/initial-admin-password (0600) that signs in over HTTP;
// the CLI adds a tenant, a user and a token that the running server honours
// with the user's role, and revoking or disabling takes effect at once; all
// of it is in the audit chain, which verifies.
func TestAccountsBootstrapAndCLI(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	srv := startServer(t, data)
	pwFile := filepath.Join(data, InitialPasswordFile)
	st, err := os.Stat(pwFile)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Fatalf("%s has mode %v, want 0600", pwFile, st.Mode().Perm())
	}
	pw, _ := os.ReadFile(pwFile)
	resp, err := http.Post(srv.url+"/api/session", "application/json",
		strings.NewReader(`{"user":"admin","password":"`+strings.TrimSpace(string(pw))+`"}`))
	must(t, err)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("sign in with the initial password: %d", resp.StatusCode)
	}
	ck := resp.Header.Get("Set-Cookie")
	for _, want := range []string{"__Host-glasshouse_session=", "HttpOnly", "Secure", "SameSite=Strict", "Path=/"} {
		if !strings.Contains(ck, want) {
			t.Errorf("Set-Cookie %q lacks %q (serve defaults to --secure-cookies)", ck, want)
		}
	}

	// Sub-commands put flags after the sub-command name.
	cli2 := func(cmd, sub string, args ...string) string {
		t.Helper()
		out, stderr, code := runCLI(t, append([]string{cmd, sub, "--data", data}, args...)...)
		if code != 0 {
			t.Fatalf("glasshouse %s %s %v: code %d: %s", cmd, sub, args, code, stderr)
		}
		return out
	}
	cli2("tenant", "add", "beta")
	out := cli2("user", "add", "--tenant", "beta", "--role", "viewer", "bob")
	m := regexp.MustCompile(`password: (\S+)`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("user add printed no password: %q", out)
	}
	if !strings.Contains(cli2("user", "list", "--tenant", "beta"), "bob") {
		t.Fatal("user list lacks bob")
	}
	tok := strings.TrimSpace(cli2("token", "create", "--tenant", "beta", "bob"))
	call := func(method, path, token string) int {
		t.Helper()
		req, err := http.NewRequest(method, srv.url+path, strings.NewReader("x"))
		must(t, err)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		must(t, err)
		resp.Body.Close()
		return resp.StatusCode
	}
	if c := call("GET", "/api/assets", tok); c != 200 {
		t.Fatalf("bob lists: %d", c)
	}
	if c := call("POST", "/api/assets?name=a.png", tok); c != 403 {
		t.Fatalf("viewer uploads: %d, want 403", c)
	}
	cli2("user", "role", "--tenant", "beta", "bob", "editor")
	// The token keeps its read scope: still no upload.
	if c := call("POST", "/api/assets?name=a.png", tok); c != 403 {
		t.Fatalf("read token of an editor uploads: %d, want 403", c)
	}
	list := cli2("token", "list", "--tenant", "beta")
	id := strings.Fields(strings.Split(list, "\n")[1])[0]
	cli2("token", "revoke", "--tenant", "beta", id)
	if c := call("GET", "/api/assets", tok); c != 401 {
		t.Fatalf("revoked token: %d, want 401", c)
	}
	tok2 := strings.TrimSpace(cli2("token", "create", "--tenant", "beta", "bob"))
	cli2("user", "disable", "--tenant", "beta", "bob")
	if c := call("GET", "/api/assets", tok2); c != 401 {
		t.Fatalf("token of a disabled user: %d, want 401", c)
	}
	srv.kill()
	exp, _, code := runCLI(t, "audit", "export", "--data", data)
	if code != 0 {
		t.Fatal("audit export failed")
	}
	for _, a := range []string{`"signin"`, `"tenant.create"`, `"user.create"`, `"user.role"`, `"token.create"`, `"token.revoke"`, `"user.disable"`} {
		if !strings.Contains(exp, `"action":`+a) {
			t.Errorf("audit export lacks %s events", a)
		}
	}
	if _, _, code := runCLI(t, "audit", "verify", "--data", data); code != 0 {
		t.Fatal("audit chain does not verify")
	}
}
