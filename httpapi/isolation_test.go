package httpapi_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/glasshouse/glasshouse"
	"github.com/glasshouse/glasshouse/app"
	"github.com/glasshouse/glasshouse/auth"
	"github.com/glasshouse/glasshouse/httpapi"
)

// pngOf returns a small valid PNG whose pixels depend on seed.
func pngOf(t *testing.T, seed int) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 32, 24))
	for y := 0; y < 24; y++ {
		for x := 0; x < 32; x++ {
			img.Set(x, y, color.RGBA{uint8(x*8 + seed), uint8(y*10 + seed*3), uint8(seed * 40), 255})
		}
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// world is a real service (app over SQLite and a file blob store) with two
// tenants, a user of every role in each, an operator, and content in both.
type world struct {
	t      *testing.T
	app    *app.App
	h      http.Handler
	tokens map[string]string // user -> API token
	asset  map[glasshouse.TenantID]*glasshouse.Asset
	tokID  map[glasshouse.TenantID]string // a token id of the tenant's viewer
	upload map[glasshouse.TenantID]string // an unfinished tus upload
}

var tenantRoles = []auth.Role{auth.Viewer, auth.Editor, auth.Admin, auth.Auditor}

func userName(tenant glasshouse.TenantID, r auth.Role) string {
	return string(tenant) + "-" + string(r)
}

func newWorld(t *testing.T) *world {
	t.Helper()
	if _, err := exec.LookPath("ffprobe"); err != nil {
		t.Skip("ffprobe not installed (scripts/setup.sh)")
	}
	ctx := t.Context()
	dir, err := os.MkdirTemp("", "gh-iso-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	a, err := app.Open(ctx, app.Config{DataDir: dir, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	w := &world{t: t, app: a, tokens: map[string]string{}, asset: map[glasshouse.TenantID]*glasshouse.Asset{},
		tokID: map[glasshouse.TenantID]string{}, upload: map[glasshouse.TenantID]string{}}
	w.h = httpapi.New(a, httpapi.Options{Accounts: a.Auth(), UploadDir: filepath.Join(dir, "uploads"), Logger: slog.New(slog.DiscardHandler)})
	st, svc := a.DB(), a.Auth()
	now := time.Now().UTC()
	for i, tn := range []glasshouse.TenantID{"alpha", "bravo"} {
		local := auth.LocalPrincipal(tn, "test")
		if _, err := svc.CreateTenant(ctx, local, tn, "", ""); err != nil {
			t.Fatal(err)
		}
		for _, r := range tenantRoles {
			// Straight into the store: the isolation test is about
			// access, not password hashing (covered by authtest).
			u := auth.User{Name: userName(tn, r), Tenant: tn, Role: r, PasswordHash: "unused", Created: now}
			if err := st.CreateUser(ctx, u, glasshouse.NewEvent(local.Actor(""), "user.create", u.Name, nil)); err != nil {
				t.Fatal(err)
			}
			tok, secret, err := svc.CreateToken(ctx, local, u.Name, "iso", auth.MaxScope(r), time.Hour, "")
			if err != nil {
				t.Fatal(err)
			}
			w.tokens[u.Name] = secret
			if r == auth.Viewer {
				w.tokID[tn] = tok.ID
			}
		}
		name := string(tn) + "secretword.png"
		as, _, err := a.Ingest(ctx, glasshouse.Actor{Tenant: tn, User: userName(tn, auth.Editor)}, name, string(tn)+"coll", bytes.NewReader(pngOf(t, i+1)))
		if err != nil {
			t.Fatal(err)
		}
		note := string(tn) + "privatenote"
		if as, err = a.PatchAsset(ctx, glasshouse.Actor{Tenant: tn, User: userName(tn, auth.Editor)}, as.ID, &note, nil); err != nil {
			t.Fatal(err)
		}
		w.asset[tn] = as
		// An unfinished resumable upload of the tenant's editor.
		req := httptest.NewRequest(http.MethodPost, httpapi.UploadsPath, nil)
		req.Header.Set("Tus-Resumable", "1.0.0")
		req.Header.Set("Upload-Length", "1000")
		req.Header.Set("Upload-Metadata", "filename "+base64.StdEncoding.EncodeToString([]byte(string(tn)+"partial.png")))
		rr := w.as(userName(tn, auth.Editor), req)
		if rr.Code != http.StatusCreated {
			t.Fatalf("tus create for %s: %d %s", tn, rr.Code, rr.Body)
		}
		loc := rr.Header().Get("Location")
		w.upload[tn] = loc[strings.LastIndex(loc, "/")+1:]
	}
	// An operator, above tenants.
	op := auth.User{Name: "the-operator", Role: auth.Operator, PasswordHash: "unused", Created: now}
	if err := st.CreateUser(ctx, op, glasshouse.NewEvent(glasshouse.System(""), "user.create", op.Name, nil)); err != nil {
		t.Fatal(err)
	}
	_, secret, err := svc.CreateToken(ctx, auth.LocalPrincipal("", "test"), op.Name, "iso", auth.ScopeAdmin, time.Hour, "")
	if err != nil {
		t.Fatal(err)
	}
	w.tokens[op.Name] = secret
	return w
}

// as serves req as user ("" for anonymous).
func (w *world) as(user string, req *http.Request) *httptest.ResponseRecorder {
	if user != "" {
		req.Header.Set("Authorization", "Bearer "+w.tokens[user])
	}
	rr := httptest.NewRecorder()
	w.h.ServeHTTP(rr, req)
	return rr
}

// markers are strings only the tenant's own data contains.
func (w *world) markers(tn glasshouse.TenantID) []string {
	as := w.asset[tn]
	m := []string{string(as.ID), as.Hash.Hex(), string(tn) + "secretword", string(tn) + "privatenote", string(tn) + "coll",
		w.tokID[tn], w.upload[tn], string(tn) + "partial"}
	for _, r := range tenantRoles {
		m = append(m, userName(tn, r))
	}
	return m
}

// request builds the request of a route aimed at the objects of tenant tn.
func (w *world) request(rt httpapi.RouteInfo, tn glasshouse.TenantID) *http.Request {
	as := w.asset[tn]
	path := rt.Pattern
	if strings.HasPrefix(path, "/api/tokens/") {
		path = strings.Replace(path, "{id}", w.tokID[tn], 1)
	}
	path = strings.NewReplacer("{id}", string(as.ID), "{ref}", string(as.Hash), "{name}", userName(tn, auth.Viewer)).Replace(path)
	var body io.Reader
	ct := "application/json"
	switch rt.Method + " " + rt.Pattern {
	case "POST /api/assets":
		path += "?name=intruder.png&collection=intrudercoll"
		body, ct = bytes.NewReader(pngOf(w.t, 9)), "application/octet-stream"
	case "PATCH /api/assets/{id}":
		body = strings.NewReader(`{"note":"overwritten"}`)
	case "GET /api/search":
		path += "?q=" + string(tn) + "secretword"
	case "GET /api/assets/{id}/export":
		path += "?format=json"
	case "POST /api/session":
		body = strings.NewReader(`{"user":"` + userName(tn, auth.Admin) + `","password":"not the password at all"}`)
	case "POST /api/users":
		body = strings.NewReader(`{"name":"` + string(tn) + `-intruder","role":"admin","password":"a long enough password"}`)
	case "PATCH /api/users/{name}":
		body = strings.NewReader(`{"role":"admin","disabled":true}`)
	case "POST /api/tokens":
		body = strings.NewReader(`{"user":"` + userName(tn, auth.Admin) + `","scope":"read"}`)
	case "POST /api/tenants":
		body = strings.NewReader(`{"id":"` + string(tn) + `-new"}`)
	}
	req := httptest.NewRequest(rt.Method, path, body)
	if body != nil {
		req.Header.Set("Content-Type", ct)
	}
	if rt.Pattern == "/api/events" { // an endless stream: read its first moments
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		w.t.Cleanup(cancel)
		req = req.WithContext(ctx)
	}
	return req
}

func callers() []string {
	out := []string{""}
	for _, r := range tenantRoles {
		out = append(out, userName("alpha", r))
	}
	return append(out, "the-operator")
}

func roleOf(user string) auth.Role {
	switch {
	case user == "the-operator":
		return auth.Operator
	case user == "":
		return ""
	}
	return auth.Role(user[strings.IndexByte(user, '-')+1:])
}

// TestTenantIsolation is THE isolation test: every route of the route table
// (so new routes are covered without editing this test) is tried, aimed at
// tenant bravo's objects, by an anonymous caller, by every role of tenant
// alpha and by the operator. None may read, list, search, download or
// change bravo's data: the status codes are checked, every response body
// is searched for bravo's markers, and bravo's data is checked unchanged.
func TestTenantIsolation(t *testing.T) {
	w := newWorld(t)
	foreign := w.markers("bravo")
	sent := map[string]bool{} // markers alpha's callers put in their own requests
	for _, rt := range httpapi.Routes() {
		if strings.HasPrefix(rt.Pattern, httpapi.UploadsPath) {
			continue // the tus endpoint, below
		}
		for _, user := range callers() {
			name := fmt.Sprintf("%s %s as %q", rt.Method, rt.Pattern, user)
			req := w.request(rt, "bravo")
			var reqBody []byte
			if req.Body != nil {
				reqBody, _ = io.ReadAll(req.Body)
				req.Body = io.NopCloser(bytes.NewReader(reqBody))
			}
			echo := req.URL.String() + " " + string(reqBody)
			rr := w.as(user, req)
			role := roleOf(user)
			switch {
			case rt.Perm == auth.Public:
			case user == "":
				if rr.Code != http.StatusUnauthorized {
					t.Errorf("%s: status %d, want 401", name, rr.Code)
				}
			case !role.Can(rt.Perm) || (role == auth.Operator && rt.Perm != auth.Member && rt.Perm != auth.UsageAll && rt.Perm != auth.TenantsManage):
				if rr.Code != http.StatusForbidden {
					t.Errorf("%s: status %d, want 403 (role lacks %s)", name, rr.Code, rt.Perm)
				}
			case strings.Contains(rt.Pattern, "{"):
				// Aimed at one of bravo's objects: it must not be found.
				if rr.Code < 400 {
					t.Errorf("%s: status %d on another tenant's object: %.300s", name, rr.Code, rr.Body)
				}
			}
			body := rr.Body.String()
			audit := rt.Pattern == "/api/audit" && rr.Code == http.StatusOK
			if audit {
				// The caller's own audit trail records what it sent
				// (its search queries); every event must be its tenant's.
				var evs []glasshouse.AuditEvent
				if err := json.Unmarshal(rr.Body.Bytes(), &evs); err != nil || len(evs) == 0 {
					t.Fatalf("%s: %v %.200s", name, err, body)
				}
				for _, ev := range evs {
					if ev.Tenant != "alpha" {
						t.Errorf("%s: event of tenant %q: %+v", name, ev.Tenant, ev)
					}
				}
			}
			for _, m := range foreign {
				if m == "" || strings.Contains(echo, m) || (audit && sent[m]) {
					continue
				}
				if strings.Contains(body, m) {
					t.Errorf("%s: response (status %d) contains bravo's %q: %.300s", name, rr.Code, m, body)
				}
			}
			for _, m := range foreign {
				if strings.Contains(echo, m) {
					sent[m] = true
				}
			}
		}
	}
	// The tus endpoint: creating needs assets.write; bravo's unfinished
	// upload is invisible to everybody else.
	for _, user := range callers() {
		req := httptest.NewRequest(http.MethodPost, httpapi.UploadsPath, nil)
		req.Header.Set("Tus-Resumable", "1.0.0")
		req.Header.Set("Upload-Length", "10")
		rr := w.as(user, req)
		want := http.StatusForbidden
		switch {
		case user == "":
			want = http.StatusUnauthorized
		case roleOf(user).Can(httpapi.UploadsPerm):
			want = http.StatusCreated
		}
		if rr.Code != want {
			t.Errorf("tus create as %q: %d, want %d", user, rr.Code, want)
		}
		for _, m := range []string{http.MethodHead, http.MethodPatch, http.MethodDelete} {
			var body io.Reader
			if m == http.MethodPatch {
				body = bytes.NewReader(make([]byte, 10))
			}
			req := httptest.NewRequest(m, httpapi.UploadsPath+w.upload["bravo"], body)
			req.Header.Set("Tus-Resumable", "1.0.0")
			req.Header.Set("Upload-Offset", "0")
			req.Header.Set("Content-Type", "application/offset+octet-stream")
			rr := w.as(user, req)
			if rr.Code < 400 || strings.Contains(rr.Body.String(), "bravopartial") {
				t.Errorf("tus %s of bravo's upload as %q: %d %s", m, user, rr.Code, rr.Body)
			}
		}
	}
	// bravo's data is as it was.
	ctx := t.Context()
	b := w.asset["bravo"]
	got, err := w.app.GetAsset(ctx, glasshouse.Actor{Tenant: "bravo", User: "check"}, b.ID)
	if err != nil || got.Note != "bravoprivatenote" || got.Collection != "bravocoll" {
		t.Fatalf("bravo's asset after the attempts: %+v %v", got, err)
	}
	for _, r := range tenantRoles {
		u, err := w.app.DB().GetUser(ctx, userName("bravo", r))
		if err != nil || u.Role != r || u.Disabled {
			t.Errorf("bravo user %s after the attempts: %+v %v", userName("bravo", r), u, err)
		}
		rr := w.as(userName("bravo", r), httptest.NewRequest(http.MethodGet, "/api/session", nil))
		if rr.Code != http.StatusOK {
			t.Errorf("bravo %s token no longer works: %d %s", r, rr.Code, rr.Body)
		}
	}
	req := httptest.NewRequest(http.MethodHead, httpapi.UploadsPath+w.upload["bravo"], nil)
	req.Header.Set("Tus-Resumable", "1.0.0")
	if rr := w.as(userName("bravo", auth.Editor), req); rr.Code != http.StatusOK || rr.Header().Get("Upload-Offset") != "0" {
		t.Errorf("bravo's upload after the attempts: %d offset %q", rr.Code, rr.Header().Get("Upload-Offset"))
	}
	// And bravo still finds its own asset (the test is not vacuous).
	rr := w.as(userName("bravo", auth.Viewer), httptest.NewRequest(http.MethodGet, "/api/search?q=bravosecretword", nil))
	if rr.Code != http.StatusOK || !strings.Contains(rr.Body.String(), string(b.ID)) {
		t.Errorf("bravo's own search: %d %.300s", rr.Code, rr.Body)
	}
}

// TestRolesOwnTenant tries every read route on the caller's own tenant:
// a role that lacks the route's permission gets 403, a role that has it
// gets an answer, so the permission table is what is enforced.
func TestRolesOwnTenant(t *testing.T) {
	w := newWorld(t)
	for _, rt := range httpapi.Routes() {
		if strings.HasPrefix(rt.Pattern, httpapi.UploadsPath) {
			continue
		}
		for _, user := range callers()[1:] {
			role := roleOf(user)
			if role == auth.Operator {
				continue
			}
			if rt.Method != http.MethodGet && role.Can(rt.Perm) {
				continue // changes are covered by their own tests
			}
			req := w.request(rt, "alpha")
			rr := w.as(user, req)
			name := fmt.Sprintf("%s %s as %s", rt.Method, rt.Pattern, role)
			if !role.Can(rt.Perm) {
				if rr.Code != http.StatusForbidden {
					t.Errorf("%s: %d, want 403", name, rr.Code)
				}
				continue
			}
			if rr.Code >= 400 && !(rt.Pattern == "/api/users/{name}") {
				t.Errorf("%s: %d %.200s, want success", name, rr.Code, rr.Body)
			}
			if rt.Pattern == "/api/assets/{id}" && !strings.Contains(rr.Body.String(), "alphaprivatenote") {
				t.Errorf("%s: own asset not returned: %.200s", name, rr.Body)
			}
		}
	}
	_ = strconv.Itoa
}
