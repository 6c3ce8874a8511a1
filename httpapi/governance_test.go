package httpapi_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"image"
	"image/color"
	"image/png"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/glasshouse/glasshouse"
	"github.com/glasshouse/glasshouse/app"
	"github.com/glasshouse/glasshouse/auth"
	"github.com/glasshouse/glasshouse/httpapi"
)

func pngBytes(t *testing.T, w, h int, c color.RGBA) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for i := range w * h {
		img.SetRGBA(i%w, i/w, color.RGBA{c.R + uint8(i), c.G, c.B, 255})
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

type client struct {
	t     *testing.T
	url   string
	token string
}

func (c client) do(method, path string, body []byte, ctype string) (int, []byte) {
	c.t.Helper()
	req, err := http.NewRequest(method, c.url+path, bytes.NewReader(body))
	if err != nil {
		c.t.Fatal(err)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

func errCode(b []byte) (code, msg string) {
	var e struct {
		Error struct{ Code, Message string }
	}
	json.Unmarshal(b, &e)
	return e.Error.Code, e.Error.Message
}

// TestGovernanceRoutes drives retention, legal hold, deletion records,
// policy and usage over HTTP against the real service.
func TestGovernanceRoutes(t *testing.T) {
	if _, err := exec.LookPath("ffprobe"); err != nil {
		t.Skip("ffprobe not installed")
	}
	ctx := context.Background()
	a, err := app.Open(ctx, app.Config{DataDir: t.TempDir(), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	srv := httptest.NewServer(httpapi.New(a, httpapi.Options{Logger: slog.New(slog.DiscardHandler), Accounts: a.Auth()}))
	defer srv.Close()
	// An admin of the default tenant, an auditor, and an operator.
	local := auth.LocalPrincipal(glasshouse.DefaultTenant, "test")
	if _, err := a.Auth().CreateTenant(ctx, local, glasshouse.DefaultTenant, "", ""); err != nil {
		t.Fatal(err)
	}
	tokens := map[auth.Role]string{}
	for _, r := range []auth.Role{auth.Admin, auth.Auditor, auth.Viewer, auth.Operator} {
		tenant, by := glasshouse.DefaultTenant, local
		if r == auth.Operator {
			tenant, by = "", auth.LocalPrincipal("", "test")
		}
		name := "u-" + string(r)
		if _, err := a.Auth().CreateUser(ctx, by, tenant, name, r, "a long enough password", ""); err != nil {
			t.Fatal(err)
		}
		_, secret, err := a.Auth().CreateToken(ctx, by, name, "t", auth.MaxScope(r), time.Hour, "")
		if err != nil {
			t.Fatal(err)
		}
		tokens[r] = secret
	}
	c := client{t, srv.URL, tokens[auth.Admin]}
	op := client{t, srv.URL, tokens[auth.Operator]}
	auditor := client{t, srv.URL, tokens[auth.Auditor]}
	viewer := client{t, srv.URL, tokens[auth.Viewer]}
	anon := client{t, srv.URL, ""}

	img1, img2 := pngBytes(t, 40, 30, color.RGBA{10, 20, 30, 255}), pngBytes(t, 40, 30, color.RGBA{200, 20, 30, 255})
	st, b := c.do("POST", "/api/assets?name=one.png&collection=cases", img1, "image/png")
	if st != http.StatusCreated {
		t.Fatalf("upload: %d %s", st, b)
	}
	var up glasshouse.Asset
	json.Unmarshal(b, &up)
	id := string(up.ID)

	if st, b := c.do("PUT", "/api/retention", []byte(`{"collection":"cases","days":0}`), "application/json"); st != 400 {
		t.Fatalf("days 0: %d %s", st, b)
	}
	if st, b := c.do("PUT", "/api/retention", []byte(`{"collection":"cases","days":7}`), "application/json"); st != 200 {
		t.Fatalf("set retention: %d %s", st, b)
	}
	st, b = c.do("GET", "/api/retention", nil, "")
	var rules []glasshouse.RetentionRule
	if json.Unmarshal(b, &rules); st != 200 || len(rules) != 1 || rules[0].Days != 7 || rules[0].Collection != "cases" {
		t.Fatalf("rules: %d %s", st, b)
	}
	if st, b := c.do("POST", "/api/holds", []byte(`{"scope":"collection","target":"cases","reason":"matter 12"}`), "application/json"); st != 200 {
		t.Fatalf("hold: %d %s", st, b)
	}
	st, b = c.do("DELETE", "/api/assets/"+id, nil, "")
	if code, msg := errCode(b); st != 409 || code != "conflict" || !strings.Contains(msg, "matter 12") {
		t.Fatalf("delete under hold: %d %s", st, b)
	}
	if st, b := c.do("DELETE", "/api/holds?scope=collection&target=cases", nil, ""); st != 204 {
		t.Fatalf("release: %d %s", st, b)
	}
	if st, b := c.do("DELETE", "/api/assets/"+id, nil, ""); st != 204 {
		t.Fatalf("delete: %d %s", st, b)
	}
	st, b = c.do("GET", "/api/deletions", nil, "")
	var recs []glasshouse.DeletionRecord
	if json.Unmarshal(b, &recs); st != 200 || len(recs) != 1 || string(recs[0].Asset) != id || recs[0].Reason != "user" || recs[0].Size != int64(len(img1)) {
		t.Fatalf("deletion records: %d %s", st, b)
	}

	// Operator sets a quota; the tenant reads it; an upload over it is 413.
	quota := len(img1) + len(img2)/2
	if st, _ := c.do("PUT", "/api/operator/tenants/default/policy", []byte(`{"quota_bytes":1}`), "application/json"); st != http.StatusForbidden {
		t.Fatalf("a tenant admin set its own quota: %d", st)
	}
	if st, b := op.do("PUT", "/api/operator/tenants/default/policy", []byte(`{"quota_bytes":`+itoa(quota)+`}`), "application/json"); st != 200 {
		t.Fatalf("set policy: %d %s", st, b)
	}
	st, b = c.do("GET", "/api/policy", nil, "")
	var pol glasshouse.Policy
	if json.Unmarshal(b, &pol); st != 200 || pol.QuotaBytes != int64(quota) {
		t.Fatalf("policy: %d %s", st, b)
	}
	if st, b := c.do("POST", "/api/assets?name=one.png", img1, "image/png"); st != 201 {
		t.Fatalf("upload under quota: %d %s", st, b)
	}
	st, b = c.do("POST", "/api/assets?name=two.png", img2, "image/png")
	if code, msg := errCode(b); st != 413 || code != "quota_exceeded" || !strings.Contains(msg, "quota") {
		t.Fatalf("upload over quota: %d %s", st, b)
	}

	// Usage, JSON and CSV.
	today := time.Now().UTC().Format(time.DateOnly)
	st, b = c.do("GET", "/api/usage?from="+today+"&to="+today, nil, "")
	var u glasshouse.Usage
	if json.Unmarshal(b, &u); st != 200 || len(u.StoredBytes) != 1 || u.StoredBytes[0].Bytes != int64(len(img1)) || u.Uploads != 2 || u.Deletions != 1 {
		t.Fatalf("usage: %d %s", st, b)
	}
	st, b = c.do("GET", "/api/usage?format=csv&from="+today+"&to="+today, nil, "")
	rows, err := csv.NewReader(bytes.NewReader(b)).ReadAll()
	if st != 200 || err != nil || len(rows) < 2 || strings.Join(rows[0], ",") != "tenant,metric,key,day,value" {
		t.Fatalf("usage csv: %d %v %s", st, err, b)
	}
	found := false
	for _, r := range rows {
		if r[1] == "stored_bytes" && r[3] == today && r[4] == itoa(len(img1)) {
			found = true
		}
	}
	if !found {
		t.Fatalf("csv lacks today's stored bytes: %s", b)
	}
	if st, b := c.do("GET", "/api/usage?from=2026-13-01", nil, ""); st != 400 {
		t.Fatalf("bad date: %d %s", st, b)
	}
	st, b = op.do("GET", "/api/operator/usage?from="+today+"&to="+today, nil, "")
	var ou glasshouse.OperatorUsage
	if json.Unmarshal(b, &ou); st != 200 || strings.Contains(string(b), "one.png") || ou.Total == nil || ou.Total.StoredBytes[0].Bytes != int64(len(img1)) {
		t.Fatalf("operator usage: %d %s", st, b)
	}
	if st, _ := c.do("GET", "/api/operator/usage", nil, ""); st != http.StatusForbidden {
		t.Fatalf("tenant admin reads the operator usage: %d", st)
	}
	// Roles: the auditor reads usage and deletion records but sets no
	// retention; a viewer reads neither; nobody anonymous reads anything.
	if st, b := auditor.do("GET", "/api/usage", nil, ""); st != 200 {
		t.Fatalf("auditor usage: %d %s", st, b)
	}
	if st, _ := auditor.do("PUT", "/api/retention", []byte(`{"all":true,"days":1}`), "application/json"); st != http.StatusForbidden {
		t.Fatalf("auditor set retention: %d", st)
	}
	if st, _ := viewer.do("GET", "/api/deletions", nil, ""); st != http.StatusForbidden {
		t.Fatalf("viewer read deletion records: %d", st)
	}
	if st, b := viewer.do("GET", "/api/policy", nil, ""); st != 200 {
		t.Fatalf("viewer reads its tenant's policy: %d %s", st, b)
	}
	if st, _ := anon.do("GET", "/api/usage", nil, ""); st != http.StatusUnauthorized {
		t.Fatalf("anonymous usage: %d", st)
	}
}

func itoa(n int) string { return strconv.Itoa(n) }
