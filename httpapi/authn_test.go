package httpapi

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/glasshouse/glasshouse"
	"github.com/glasshouse/glasshouse/auth"
)

const testPassword = "a test password, long"

// authHarness is the API over the fake service with a real auth service;
// requests carry only the credentials a test gives them.
func authHarness(t *testing.T, cfg auth.Config, secure bool) (http.Handler, *auth.Service, string) {
	t.Helper()
	accts, _, tok := testAccounts(t, cfg)
	if _, err := accts.CreateUser(t.Context(), auth.LocalPrincipal(glasshouse.DefaultTenant, "t"), glasshouse.DefaultTenant, "ed", auth.Editor, testPassword, ""); err != nil {
		t.Fatal(err)
	}
	return New(newFake(), Options{Accounts: accts, SecureCookies: secure}), accts, tok
}

func serve(h http.Handler, req *http.Request) *httptest.ResponseRecorder {
	rr := httptest.NewRecorder()
	h.ServeHTTP(rr, req)
	return rr
}

func signInReq(user, pw string) *http.Request {
	req := httptest.NewRequest(http.MethodPost, "/api/session", strings.NewReader(`{"user":"`+user+`","password":"`+pw+`"}`))
	req.Header.Set("Content-Type", "application/json")
	return req
}

func TestSessionCookieAndCSRF(t *testing.T) {
	for _, secure := range []bool{true, false} {
		h, _, _ := authHarness(t, auth.Config{}, secure)
		rr := serve(h, signInReq("ed", testPassword))
		if rr.Code != 200 {
			t.Fatalf("sign in: %d %s", rr.Code, rr.Body)
		}
		var info sessionInfo
		decode(t, rr, &info)
		cookies := rr.Result().Cookies()
		if len(cookies) != 1 {
			t.Fatalf("cookies: %+v", cookies)
		}
		ck := cookies[0]
		wantName := "glasshouse_session"
		if secure {
			wantName = "__Host-glasshouse_session"
		}
		if ck.Name != wantName || !ck.HttpOnly || ck.Secure != secure || ck.SameSite != http.SameSiteStrictMode || ck.Path != "/" || ck.MaxAge <= 0 {
			t.Fatalf("cookie %+v (secure=%v)", ck, secure)
		}
		if info.User != "ed" || info.Role != auth.Editor || info.CSRF == "" || info.CSRF != csrfToken(ck.Value) {
			t.Fatalf("session info %+v", info)
		}
		withCookie := func(method, path, body string, hdr map[string]string) *httptest.ResponseRecorder {
			req := httptest.NewRequest(method, path, strings.NewReader(body))
			req.AddCookie(&http.Cookie{Name: ck.Name, Value: ck.Value})
			for k, v := range hdr {
				req.Header.Set(k, v)
			}
			return serve(h, req)
		}
		if rr := withCookie("GET", "/api/session", "", nil); rr.Code != 200 || !strings.Contains(rr.Body.String(), info.CSRF) {
			t.Fatalf("GET /api/session with the cookie: %d %s", rr.Code, rr.Body)
		}
		// Reads need no token; changes do.
		if rr := withCookie("GET", "/api/assets", "", nil); rr.Code != 200 {
			t.Fatalf("list with the cookie: %d", rr.Code)
		}
		rr = withCookie("POST", "/api/assets?name=a.png", string(pngData), nil)
		if wantError(t, rr, 403, "csrf"); !strings.Contains(rr.Body.String(), CSRFHeader) {
			t.Errorf("no hint at the header: %s", rr.Body)
		}
		wantError(t, withCookie("POST", "/api/assets?name=a.png", string(pngData), map[string]string{CSRFHeader: "wrong"}), 403, "csrf")
		wantError(t, withCookie("POST", "/api/assets?name=a.png", string(pngData), map[string]string{CSRFHeader: info.CSRF, "Sec-Fetch-Site": "cross-site"}), 403, "csrf")
		wantError(t, withCookie("POST", "/api/assets?name=a.png", string(pngData), map[string]string{CSRFHeader: info.CSRF, "Origin": "https://evil.example"}), 403, "csrf")
		if rr := withCookie("POST", "/api/assets?name=a.png", string(pngData), map[string]string{CSRFHeader: info.CSRF, "Sec-Fetch-Site": "same-origin"}); rr.Code != 201 {
			t.Fatalf("same-origin upload with the token: %d %s", rr.Code, rr.Body)
		}
		// Sign-out needs the token too (no forced sign-out from elsewhere).
		wantError(t, withCookie("DELETE", "/api/session", "", nil), 403, "csrf")
		rr = withCookie("DELETE", "/api/session", "", map[string]string{CSRFHeader: info.CSRF})
		if rr.Code != 204 {
			t.Fatalf("sign out: %d %s", rr.Code, rr.Body)
		}
		if c := rr.Result().Cookies(); len(c) != 1 || c[0].MaxAge >= 0 {
			t.Errorf("sign-out does not clear the cookie: %+v", c)
		}
		wantError(t, withCookie("GET", "/api/session", "", nil), 401, "unauthenticated")
		wantError(t, withCookie("GET", "/api/assets", "", nil), 401, "unauthenticated")
	}
}

func TestSignInErrorsAndRateLimit(t *testing.T) {
	h, _, _ := authHarness(t, auth.Config{AccountBurst: 2, AccountEvery: time.Hour}, true)
	wantError(t, serve(h, signInReq("ed", "wrong password here")), 401, "unauthenticated")
	wantError(t, serve(h, signInReq("nobody", "wrong password here")), 401, "unauthenticated")
	wantError(t, serve(h, signInReq("", "")), 400, "invalid")
	cross := signInReq("ed", testPassword)
	cross.Header.Set("Sec-Fetch-Site", "cross-site")
	wantError(t, serve(h, cross), 403, "csrf") // login CSRF
	wantError(t, serve(h, signInReq("ed", "wrong again, again")), 401, "unauthenticated")
	rr := serve(h, signInReq("ed", testPassword))
	d := wantError(t, rr, 429, "rate_limited")
	if ra := rr.Header().Get("Retry-After"); ra == "" || ra == "0" {
		t.Errorf("Retry-After = %q", ra)
	}
	if !strings.Contains(d.Message, "account") {
		t.Errorf("message %q does not say what is limited", d.Message)
	}
}

func TestTokenScopeOverHTTP(t *testing.T) {
	h, accts, admin := authHarness(t, auth.Config{}, true)
	ctx := t.Context()
	p, err := accts.Token(ctx, admin)
	if err != nil {
		t.Fatal(err)
	}
	_, readTok, err := accts.CreateToken(ctx, p, "", "ro", auth.ScopeRead, time.Hour, "")
	if err != nil {
		t.Fatal(err)
	}
	bearer := func(method, path, tok string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(method, path, strings.NewReader(string(pngData)))
		req.Header.Set("Authorization", "Bearer "+tok)
		return serve(h, req)
	}
	if rr := bearer("GET", "/api/assets", readTok); rr.Code != 200 {
		t.Fatalf("read token lists: %d", rr.Code)
	}
	if rr := bearer("GET", "/api/audit", readTok); rr.Code != 200 {
		t.Fatalf("admin's read token reads the audit log: %d", rr.Code)
	}
	d := wantError(t, bearer("POST", "/api/assets?name=a.png", readTok), 403, "permission_denied")
	if !strings.Contains(d.Message, "scope") {
		t.Errorf("message %q does not name the scope", d.Message)
	}
	wantError(t, bearer("GET", "/api/users", readTok), 403, "permission_denied")
	// No CSRF check for tokens: they are never sent by a browser on its own.
	if rr := bearer("POST", "/api/assets?name=a.png", admin); rr.Code != 201 {
		t.Fatalf("admin token uploads: %d %s", rr.Code, rr.Body)
	}
	// A read token cannot mint tokens.
	req := httptest.NewRequest("POST", "/api/tokens", strings.NewReader(`{"scope":"read"}`))
	req.Header.Set("Authorization", "Bearer "+readTok)
	wantError(t, serve(h, req), 403, "permission_denied")
	// Malformed and unknown.
	req = httptest.NewRequest("GET", "/api/assets", nil)
	req.Header.Set("Authorization", "Basic abc")
	wantError(t, serve(h, req), 401, "unauthenticated")
	wantError(t, bearer("GET", "/api/assets", auth.TokenPrefix+"nope"), 401, "unauthenticated")
	// Revoked over the API: 401 at once.
	ts, _ := accts.ListTokens(ctx, p, false)
	var id string
	for _, tk := range ts {
		if tk.Name == "ro" {
			id = tk.ID
		}
	}
	if rr := bearer("DELETE", "/api/tokens/"+id, admin); rr.Code != 204 {
		t.Fatalf("revoke: %d %s", rr.Code, rr.Body)
	}
	d = wantError(t, bearer("GET", "/api/assets", readTok), 401, "unauthenticated")
	if !strings.Contains(d.Message, "revoked") {
		t.Errorf("message %q", d.Message)
	}
	// Anonymous: 401 with a challenge, public routes open.
	rr := serve(h, httptest.NewRequest("GET", "/api/assets", nil))
	wantError(t, rr, 401, "unauthenticated")
	if rr.Header().Get("WWW-Authenticate") == "" {
		t.Error("401 without WWW-Authenticate")
	}
	for _, p := range []string{"/healthz", "/api/openapi.json", "/", "/app.js"} {
		if rr := serve(h, httptest.NewRequest("GET", p, nil)); rr.Code != 200 {
			t.Errorf("GET %s anonymously: %d", p, rr.Code)
		}
	}
}
