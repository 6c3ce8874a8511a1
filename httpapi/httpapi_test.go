package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/glasshouse/glasshouse"
)

// syncBuffer is a log sink safe for the server's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

type harness struct {
	t    testing.TB
	svc  *fakeService
	h    http.Handler
	logs *syncBuffer
}

func newHarness(t testing.TB, opts Options) *harness {
	t.Helper()
	logs := &syncBuffer{}
	opts.Logger = slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	svc := newFake()
	return &harness{t: t, svc: svc, h: newAuthed(t, svc, opts), logs: logs}
}

func (h *harness) do(req *http.Request) *httptest.ResponseRecorder {
	h.t.Helper()
	rr := httptest.NewRecorder()
	h.h.ServeHTTP(rr, req)
	return rr
}

func (h *harness) get(path string) *httptest.ResponseRecorder {
	return h.do(httptest.NewRequest(http.MethodGet, path, nil))
}

// rawUpload posts data as a raw body and returns the response.
func (h *harness) rawUpload(name string, data []byte) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodPost, "/api/assets?name="+url.QueryEscape(name), bytes.NewReader(data))
	req.Header.Set("Content-Type", "application/octet-stream")
	return h.do(req)
}

// mustUpload stores data and returns the new asset.
func (h *harness) mustUpload(name string, data []byte) *glasshouse.Asset {
	h.t.Helper()
	rr := h.rawUpload(name, data)
	if rr.Code != http.StatusCreated {
		h.t.Fatalf("upload %s: status %d: %s", name, rr.Code, rr.Body)
	}
	var a glasshouse.Asset
	decode(h.t, rr, &a)
	return &a
}

func decode(t testing.TB, rr *httptest.ResponseRecorder, v any) {
	t.Helper()
	if ct := rr.Header().Get("Content-Type"); ct != "application/json" {
		t.Fatalf("Content-Type = %q, want application/json (body %q)", ct, rr.Body)
	}
	if err := json.Unmarshal(rr.Body.Bytes(), v); err != nil {
		t.Fatalf("decode %q: %v", rr.Body, err)
	}
}

// wantError checks an error response: status, JSON shape and code.
func wantError(t *testing.T, rr *httptest.ResponseRecorder, status int, code string) errorDetail {
	t.Helper()
	if rr.Code != status {
		t.Fatalf("status = %d, want %d; body %s", rr.Code, status, rr.Body)
	}
	var body errorBody
	decode(t, rr, &body)
	if body.Error.Code != code {
		t.Fatalf("error code = %q, want %q; body %s", body.Error.Code, code, rr.Body)
	}
	if body.Error.Message == "" {
		t.Fatalf("error without message: %s", rr.Body)
	}
	return body.Error
}

// Small media the fake recognises by its magic bytes.
var (
	pngData  = append([]byte("\x89PNG\r\n\x1a\n"), bytes.Repeat([]byte("png-body"), 100)...)
	gifData  = append([]byte("GIF89a"), bytes.Repeat([]byte("gif-body"), 50)...)
	textData = []byte("just some text, not media at all\n")
)

const someID = "0193a5c2-7b1e-7c3d-8e4f-123456789abc"

func TestErrorMapping(t *testing.T) {
	cases := []struct {
		err    error
		status int
		code   string
		msg    string
	}{
		{glasshouse.Errorf("catalog.GetAsset", glasshouse.ErrNotExist, "asset %s not found", someID), 404, "not_found", "asset " + someID + " not found"},
		{glasshouse.E("x", glasshouse.ErrInvalid, nil, "bad thing"), 400, "invalid", "bad thing"},
		{glasshouse.E("x", glasshouse.ErrUnsupported, nil, "a PDF"), 415, "unsupported_media", "a PDF"},
		{glasshouse.E("x", glasshouse.ErrTooLarge, nil, "big"), 413, "too_large", "big"},
		{glasshouse.E("x", glasshouse.ErrPermission, nil, "not yours"), 403, "permission_denied", "not yours"},
		{glasshouse.E("x", glasshouse.ErrConflict, nil, "legal hold"), 409, "conflict", "legal hold"},
		{glasshouse.E("x", glasshouse.ErrExist, nil, "exists"), 409, "already_exists", "exists"},
		{glasshouse.E("x", glasshouse.ErrCorrupt, nil, "broken file"), 422, "corrupt", "broken file"},
		{glasshouse.E("x", glasshouse.ErrUnavailable, nil, "db busy"), 503, "unavailable", "db busy"},
		// Wrapped with %w by the app: the kind and message still come through.
		{fmt.Errorf("app.GetAsset: %w", glasshouse.Errorf("catalog", glasshouse.ErrNotExist, "asset %s not found", someID)), 404, "not_found", "asset " + someID + " not found"},
	}
	for _, c := range cases {
		t.Run(c.code, func(t *testing.T) {
			h := newHarness(t, Options{})
			h.svc.errs["GetAsset"] = c.err
			d := wantError(t, h.get("/api/assets/"+someID), c.status, c.code)
			if d.Message != c.msg {
				t.Errorf("message = %q, want %q", d.Message, c.msg)
			}
		})
	}
}

func TestInternalErrorIsNotLeaked(t *testing.T) {
	h := newHarness(t, Options{})
	secret := "open /var/lib/glasshouse/db.sqlite: disk I/O error at page 4711"
	h.svc.errs["GetAsset"] = fmt.Errorf("catalog: %w", errors.New(secret))
	rr := h.get("/api/assets/" + someID)
	d := wantError(t, rr, 500, "internal")
	if strings.Contains(rr.Body.String(), "4711") || strings.Contains(rr.Body.String(), "sqlite") {
		t.Fatalf("500 body leaks internals: %s", rr.Body)
	}
	id := rr.Header().Get("X-Request-Id")
	if id == "" || !strings.Contains(d.Message, id) {
		t.Errorf("message %q should name the request id %q", d.Message, id)
	}
	if logs := h.logs.String(); !strings.Contains(logs, "page 4711") || !strings.Contains(logs, id) {
		t.Errorf("the internal error should be logged with the request id; logs:\n%s", logs)
	}
}

func TestInvalidIDs(t *testing.T) {
	h := newHarness(t, Options{})
	for _, p := range []string{
		"/api/assets/not-a-uuid",
		"/api/assets/0193a5c2-7b1e-7c3d-8e4f-123456789abz",
		"/api/assets/0193a5c2x7b1e-7c3d-8e4f-123456789abc",
		"/api/assets/%2e%2e/content",
		"/api/assets/123/content",
		"/api/assets/123/thumb",
		"/api/assets/123/poster",
		"/api/assets/123/insights",
		"/api/assets/123/jobs",
		"/api/blobs/sha256-xyz",
		"/api/blobs/sha256-" + strings.Repeat("A", 64),
	} {
		wantError(t, h.get(p), 400, "invalid")
	}
	wantError(t, h.do(httptest.NewRequest(http.MethodDelete, "/api/assets/nope", nil)), 400, "invalid")
	// Upper-case UUIDs are accepted and normalised.
	h.svc.errs["GetAsset"] = nil
	rr := h.get("/api/assets/" + strings.ToUpper(someID))
	wantError(t, rr, 404, "not_found")
	if !strings.Contains(rr.Body.String(), someID) {
		t.Errorf("id should be normalised to lower case: %s", rr.Body)
	}
}

func TestUnknownRouteAndMethod(t *testing.T) {
	h := newHarness(t, Options{})
	wantError(t, h.get("/api/nothing"), 404, "not_found")
	wantError(t, h.get("/api"), 404, "not_found")
	wantError(t, h.get("/api/assets/"+someID+"/nothing"), 404, "not_found")
	wantError(t, h.get("/no-such-page.html"), 404, "not_found")

	rr := h.do(httptest.NewRequest(http.MethodPut, "/api/assets/"+someID, nil))
	wantError(t, rr, 405, "method_not_allowed")
	if allow := rr.Header().Get("Allow"); allow != "GET, HEAD, PATCH, DELETE" {
		t.Errorf("Allow = %q, want GET, HEAD, PATCH, DELETE", allow)
	}
	rr = h.do(httptest.NewRequest(http.MethodDelete, "/api/assets", nil))
	wantError(t, rr, 405, "method_not_allowed")
	if allow := rr.Header().Get("Allow"); allow != "GET, HEAD, POST" {
		t.Errorf("Allow = %q, want GET, HEAD, POST", allow)
	}
	wantError(t, h.do(httptest.NewRequest(http.MethodPost, "/healthz", nil)), 405, "method_not_allowed")
	wantError(t, h.do(httptest.NewRequest(http.MethodPost, "/", nil)), 405, "method_not_allowed")
}

func TestRawUpload(t *testing.T) {
	h := newHarness(t, Options{})
	req := httptest.NewRequest(http.MethodPost, "/api/assets?name=cat.png&collection=pets", bytes.NewReader(pngData))
	req.Header.Set("Content-Type", "image/png")
	rr := h.do(req)
	if rr.Code != http.StatusCreated {
		t.Fatalf("status %d: %s", rr.Code, rr.Body)
	}
	var got struct {
		glasshouse.Asset
		Duplicate *bool `json:"duplicate"`
	}
	decode(t, rr, &got)
	if got.Name != "cat.png" || got.Collection != "pets" || got.Kind != glasshouse.KindImage || got.Size != int64(len(pngData)) {
		t.Errorf("asset = %+v", got.Asset)
	}
	if got.Duplicate == nil || *got.Duplicate {
		t.Errorf("duplicate = %v, want false", got.Duplicate)
	}
	if loc := rr.Header().Get("Location"); loc != "/api/assets/"+string(got.ID) {
		t.Errorf("Location = %q", loc)
	}
	if h.svc.lastActor != (glasshouse.Actor{Tenant: glasshouse.DefaultTenant, User: "local", Remote: req.RemoteAddr}) {
		t.Errorf("actor = %+v", h.svc.lastActor)
	}
	// Same content again: 200 and duplicate, the existing asset.
	rr = h.rawUpload("other-name.png", pngData)
	if rr.Code != http.StatusOK {
		t.Fatalf("duplicate: status %d: %s", rr.Code, rr.Body)
	}
	decode(t, rr, &got)
	if got.Duplicate == nil || !*got.Duplicate || got.Name != "cat.png" {
		t.Errorf("duplicate upload = %+v dup=%v", got.Asset, got.Duplicate)
	}
	// Name from Content-Disposition when ?name= is absent.
	req = httptest.NewRequest(http.MethodPost, "/api/assets", bytes.NewReader(gifData))
	req.Header.Set("Content-Disposition", `attachment; filename="anim.gif"`)
	rr = h.do(req)
	decode(t, rr, &got)
	if rr.Code != http.StatusCreated || got.Name != "anim.gif" {
		t.Errorf("status %d, name %q", rr.Code, got.Name)
	}
	// Service errors map through.
	wantError(t, h.rawUpload("notes.txt", textData), 415, "unsupported_media")
	wantError(t, h.rawUpload("empty.png", nil), 400, "invalid")
}

// multipartBody builds a multipart body; fields are written in order, a
// field whose name starts with "file:" is a file part named after the colon.
func multipartBody(t *testing.T, fields ...[2]string) (body []byte, contentType string) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for _, f := range fields {
		if name, ok := strings.CutPrefix(f[0], "file:"); ok {
			w, err := mw.CreateFormFile("file", name)
			if err != nil {
				t.Fatal(err)
			}
			_, _ = w.Write([]byte(f[1]))
			continue
		}
		if err := mw.WriteField(f[0], f[1]); err != nil {
			t.Fatal(err)
		}
	}
	if err := mw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes(), mw.FormDataContentType()
}

func postMultipart(h *harness, body io.Reader, ct string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodPost, "/api/assets?collection=default-coll", body)
	req.Header.Set("Content-Type", ct)
	return h.do(req)
}

func TestMultipartUpload(t *testing.T) {
	h := newHarness(t, Options{})
	body, ct := multipartBody(t,
		[2]string{"file:a.png", string(pngData)},
		[2]string{"collection", "holiday"},
		[2]string{"ignored", "whatever"},
		[2]string{"file:b.gif", string(gifData)},
		[2]string{"file:c.txt", string(textData)},
		[2]string{"file:a-again.png", string(pngData)},
	)
	rr := postMultipart(h, bytes.NewReader(body), ct)
	if rr.Code != http.StatusCreated {
		t.Fatalf("status %d: %s", rr.Code, rr.Body)
	}
	var res []fileResult
	decode(t, rr, &res)
	if len(res) != 4 {
		t.Fatalf("got %d results, want 4: %s", len(res), rr.Body)
	}
	want := []struct {
		name, coll string
		status     int
		dup        bool
		code       string
	}{
		{"a.png", "default-coll", 201, false, ""},
		{"b.gif", "holiday", 201, false, ""},
		{"c.txt", "", 415, false, "unsupported_media"},
		{"a-again.png", "default-coll", 200, true, ""},
	}
	for i, w := range want {
		r := res[i]
		if r.Name != w.name || r.Status != w.status || r.Duplicate != w.dup {
			t.Errorf("result %d = %+v, want %+v", i, r, w)
		}
		if w.code != "" {
			if r.Error == nil || r.Error.Code != w.code || r.Asset != nil {
				t.Errorf("result %d error = %+v, want code %s", i, r.Error, w.code)
			}
			continue
		}
		if r.Error != nil || r.Asset == nil || r.Asset.Collection != w.coll {
			t.Errorf("result %d = %+v (asset %+v), want collection %q", i, r, r.Asset, w.coll)
		}
	}
	if len(h.svc.assets) != 2 {
		t.Errorf("stored %d assets, want 2", len(h.svc.assets))
	}
	for _, fa := range h.svc.assets {
		want := pngData
		if fa.asset.Name == "b.gif" {
			want = gifData
		}
		if !bytes.Equal(fa.data, want) {
			t.Errorf("%s stored %d bytes, not the uploaded content", fa.asset.Name, len(fa.data))
		}
	}

	// All duplicates: 200. All failed: the failure's status, still a list.
	body, ct = multipartBody(t, [2]string{"file:x.png", string(pngData)})
	if rr := postMultipart(h, bytes.NewReader(body), ct); rr.Code != http.StatusOK {
		t.Errorf("all-duplicate upload: status %d, want 200", rr.Code)
	}
	body, ct = multipartBody(t, [2]string{"file:x.txt", string(textData)})
	rr = postMultipart(h, bytes.NewReader(body), ct)
	decode(t, rr, &res)
	if rr.Code != 415 || len(res) != 1 || res[0].Error == nil {
		t.Errorf("all-failed upload: status %d body %s", rr.Code, rr.Body)
	}
	// No file part at all.
	body, ct = multipartBody(t, [2]string{"collection", "x"})
	wantError(t, postMultipart(h, bytes.NewReader(body), ct), 400, "invalid")
	// Multipart without a boundary.
	wantError(t, postMultipart(h, bytes.NewReader(body), "multipart/form-data"), 400, "invalid")
}

// failingReader returns data, then err instead of io.EOF: a connection
// that breaks half-way.
type failingReader struct {
	data []byte
	err  error
}

func (f *failingReader) Read(p []byte) (int, error) {
	if len(f.data) == 0 {
		return 0, f.err
	}
	n := copy(p, f.data)
	f.data = f.data[n:]
	return n, nil
}

func TestUploadCutOff(t *testing.T) {
	big := append([]byte("\x89PNG\r\n\x1a\n"), bytes.Repeat([]byte{7}, 200_000)...)
	body, ct := multipartBody(t,
		[2]string{"file:first.gif", string(gifData)},
		[2]string{"file:second.png", string(big)},
	)
	half := len(body) / 2 // inside the second file
	connReset := errors.New("read tcp 127.0.0.1:8080: connection reset by peer")

	t.Run("multipart body error", func(t *testing.T) {
		h := newHarness(t, Options{})
		rr := postMultipart(h, &failingReader{data: body[:half], err: connReset}, ct)
		if rr.Code != 400 {
			t.Fatalf("status %d: %s", rr.Code, rr.Body)
		}
		var fail uploadFailure
		decode(t, rr, &fail)
		if fail.Error.Code != "invalid" || !strings.Contains(fail.Error.Message, "second.png") ||
			!strings.Contains(fail.Error.Message, "broke off") || !strings.Contains(fail.Error.Message, "connection reset") {
			t.Errorf("error = %+v", fail.Error)
		}
		// The complete first file was stored and is reported; the cut one is not.
		if len(fail.Results) != 1 || fail.Results[0].Name != "first.gif" || len(h.svc.assets) != 1 {
			t.Errorf("results %+v, %d assets stored, want only first.gif", fail.Results, len(h.svc.assets))
		}
		for _, fa := range h.svc.assets {
			if fa.asset.Name != "first.gif" {
				t.Errorf("stored %s from a broken upload", fa.asset.Name)
			}
		}
	})
	t.Run("multipart body ends early", func(t *testing.T) {
		h := newHarness(t, Options{})
		rr := postMultipart(h, bytes.NewReader(body[:half]), ct)
		var fail uploadFailure
		decode(t, rr, &fail)
		if rr.Code != 400 || fail.Error.Code != "invalid" || !strings.Contains(fail.Error.Message, "unexpected EOF") {
			t.Fatalf("status %d: %s", rr.Code, rr.Body)
		}
		if len(h.svc.assets) != 1 {
			t.Errorf("%d assets stored, want 1 (first.gif only)", len(h.svc.assets))
		}
	})
	t.Run("raw body error", func(t *testing.T) {
		h := newHarness(t, Options{})
		req := httptest.NewRequest(http.MethodPost, "/api/assets?name=big.png", &failingReader{data: big[:5000], err: connReset})
		d := wantError(t, h.do(req), 400, "invalid")
		if !strings.Contains(d.Message, "big.png") || !strings.Contains(d.Message, "5000 bytes") {
			t.Errorf("message = %q", d.Message)
		}
		if len(h.svc.assets) != 0 {
			t.Errorf("%d assets stored from a broken upload", len(h.svc.assets))
		}
	})
}

// A client that sends half its declared Content-Length and hangs up
// (half-close) must get 400 and nothing stored, over a real connection.
func TestUploadCutOffOverTCP(t *testing.T) {
	h := newHarness(t, Options{})
	srv := httptest.NewServer(h.h)
	defer srv.Close()
	u, _ := url.Parse(srv.URL)
	conn, err := netDial(u.Host)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	payload := append([]byte("\x89PNG\r\n\x1a\n"), bytes.Repeat([]byte{1}, 50_000)...)
	fmt.Fprintf(conn, "POST /api/assets?name=cut.png HTTP/1.1\r\nHost: %s\r\nContent-Type: image/png\r\nContent-Length: %d\r\n\r\n", u.Host, 2*len(payload))
	if _, err := conn.Write(payload); err != nil {
		t.Fatal(err)
	}
	if err := conn.CloseWrite(); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufioReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var body errorBody
	if err := json.Unmarshal(b, &body); err != nil || resp.StatusCode != 400 || body.Error.Code != "invalid" {
		t.Fatalf("status %d body %s (%v)", resp.StatusCode, b, err)
	}
	if !strings.Contains(body.Error.Message, "cut.png") {
		t.Errorf("message = %q", body.Error.Message)
	}
	if len(h.svc.assets) != 0 {
		t.Errorf("%d assets stored from a cut-off upload", len(h.svc.assets))
	}
}

func TestUploadSizeLimit(t *testing.T) {
	const limit = 10_000
	big := append([]byte("\x89PNG\r\n\x1a\n"), bytes.Repeat([]byte{9}, 2*limit)...)

	t.Run("declared length", func(t *testing.T) {
		h := newHarness(t, Options{MaxUploadBytes: limit})
		d := wantError(t, h.rawUpload("big.png", big), 413, "too_large")
		if !strings.Contains(d.Message, "10000") {
			t.Errorf("message %q should name the limit", d.Message)
		}
		if h.svc.lastActor.User != "" {
			t.Error("Ingest was called although Content-Length is over the limit")
		}
	})
	t.Run("chunked raw", func(t *testing.T) {
		h := newHarness(t, Options{MaxUploadBytes: limit})
		req := httptest.NewRequest(http.MethodPost, "/api/assets?name=big.png", io.MultiReader(bytes.NewReader(big)))
		req.ContentLength = -1
		wantError(t, h.do(req), 413, "too_large")
		if len(h.svc.assets) != 0 {
			t.Error("an over-limit upload was stored")
		}
	})
	t.Run("chunked multipart", func(t *testing.T) {
		h := newHarness(t, Options{MaxUploadBytes: limit})
		body, ct := multipartBody(t, [2]string{"file:small.gif", string(gifData)}, [2]string{"file:big.png", string(big)})
		req := httptest.NewRequest(http.MethodPost, "/api/assets", io.MultiReader(bytes.NewReader(body)))
		req.ContentLength = -1
		req.Header.Set("Content-Type", ct)
		rr := h.do(req)
		var fail uploadFailure
		decode(t, rr, &fail)
		if rr.Code != 413 || fail.Error.Code != "too_large" {
			t.Fatalf("status %d: %s", rr.Code, rr.Body)
		}
		if len(fail.Results) != 1 || len(h.svc.assets) != 1 {
			t.Errorf("results %+v, stored %d; want the small file only", fail.Results, len(h.svc.assets))
		}
	})
	t.Run("under the limit", func(t *testing.T) {
		h := newHarness(t, Options{MaxUploadBytes: limit})
		h.mustUpload("ok.png", pngData)
	})
}

func TestContentRangeAndHeaders(t *testing.T) {
	h := newHarness(t, Options{})
	data := append([]byte("\x89PNG\r\n\x1a\n"), []byte("0123456789abcdefghijklmnopqrstuvwxyz")...)
	h.svc.mustStore(t, "we\"ird\r\nname/../évian.png", data)
	var id glasshouse.AssetID
	for k := range h.svc.assets {
		id = k
	}
	a := h.svc.assets[id].asset
	base := "/api/assets/" + string(id) + "/content"

	rr := h.get(base)
	if rr.Code != 200 || !bytes.Equal(rr.Body.Bytes(), data) {
		t.Fatalf("full: status %d, %d bytes", rr.Code, rr.Body.Len())
	}
	hd := rr.Header()
	if hd.Get("Content-Type") != "image/png" || hd.Get("ETag") != `"`+string(a.Hash)+`"` || hd.Get("Accept-Ranges") != "bytes" {
		t.Errorf("headers = %v", hd)
	}
	cd := hd.Get("Content-Disposition")
	if !strings.HasPrefix(cd, "inline;") || strings.ContainsAny(cd, "\r\n") || strings.Contains(cd, "/") {
		t.Errorf("Content-Disposition = %q", cd)
	}
	if !strings.Contains(cd, "%C3%A9vian.png") { // RFC 2231 for the é
		t.Errorf("Content-Disposition %q lost the non-ASCII name", cd)
	}

	req := httptest.NewRequest(http.MethodGet, base, nil)
	req.Header.Set("Range", "bytes=10-19")
	rr = h.do(req)
	if rr.Code != 206 || rr.Body.String() != string(data[10:20]) {
		t.Fatalf("range: status %d body %q", rr.Code, rr.Body)
	}
	if cr := rr.Header().Get("Content-Range"); cr != fmt.Sprintf("bytes 10-19/%d", len(data)) {
		t.Errorf("Content-Range = %q", cr)
	}
	// Suffix range, as a player asks for the moov atom at the end.
	req.Header.Set("Range", "bytes=-5")
	if rr = h.do(req); rr.Code != 206 || rr.Body.String() != string(data[len(data)-5:]) {
		t.Errorf("suffix range: status %d body %q", rr.Code, rr.Body)
	}
	req.Header.Set("Range", fmt.Sprintf("bytes=%d-", len(data)+10))
	if rr = h.do(req); rr.Code != http.StatusRequestedRangeNotSatisfiable {
		t.Errorf("unsatisfiable range: status %d", rr.Code)
	}
	req = httptest.NewRequest(http.MethodGet, base, nil)
	req.Header.Set("If-None-Match", `"`+string(a.Hash)+`"`)
	if rr = h.do(req); rr.Code != http.StatusNotModified {
		t.Errorf("If-None-Match: status %d", rr.Code)
	}
	rr = h.do(httptest.NewRequest(http.MethodHead, base, nil))
	if rr.Code != 200 || rr.Header().Get("Content-Length") != fmt.Sprint(len(data)) || rr.Body.Len() != 0 {
		t.Errorf("HEAD: status %d length %q body %d", rr.Code, rr.Header().Get("Content-Length"), rr.Body.Len())
	}
	rr = h.get(base + "?download=1")
	if cd := rr.Header().Get("Content-Disposition"); !strings.HasPrefix(cd, "attachment;") {
		t.Errorf("download Content-Disposition = %q", cd)
	}
	// Thumb and poster: missing → 404; present → JPEG.
	wantError(t, h.get("/api/assets/"+string(id)+"/thumb"), 404, "not_found")
	h.svc.assets[id].thumb = []byte("\xff\xd8\xff thumb")
	for _, which := range []string{"thumb", "poster"} {
		rr = h.get("/api/assets/" + string(id) + "/" + which)
		if rr.Code != 200 || rr.Header().Get("Content-Type") != "image/jpeg" || rr.Body.String() != "\xff\xd8\xff thumb" {
			t.Errorf("%s: status %d type %q", which, rr.Code, rr.Header().Get("Content-Type"))
		}
	}
	wantError(t, h.get("/api/assets/"+someID+"/content"), 404, "not_found")
}

func (f *fakeService) mustStore(t *testing.T, name string, data []byte) *glasshouse.Asset {
	t.Helper()
	a, _, err := f.Ingest(t.Context(), glasshouse.Actor{Tenant: glasshouse.DefaultTenant, User: "local"}, name, "", bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func TestSafeFilename(t *testing.T) {
	for in, want := range map[string]string{
		"video.mp4":                       "video.mp4",
		"../../etc/passwd":                "passwd",
		`C:\Users\me\clip.mov`:            "clip.mov",
		"a\"b;c.png":                      "a_b_c.png",
		"line\r\nbreak.jpg":               "linebreak.jpg",
		"rtl\u202egnp.exe":                "rtlgnp.exe",
		"..":                              "",
		"":                                "",
		".hidden":                         "hidden",
		strings.Repeat("é", 150) + ".mp4": strings.Repeat("é", 98) + ".mp4",
	} {
		if got := safeFilename(in); got != want {
			t.Errorf("safeFilename(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestAssetsCRUD(t *testing.T) {
	h := newHarness(t, Options{})
	a := h.mustUpload("a.png", pngData)
	b := h.mustUpload("b.gif", gifData)

	var page glasshouse.AssetPage
	rr := h.get("/api/assets?collection=&kind=image&limit=2&cursor=abc")
	decode(t, rr, &page)
	if rr.Code != 200 || page.Total != 2 || len(page.Assets) != 2 {
		t.Fatalf("list: %d %s", rr.Code, rr.Body)
	}
	f := h.svc.lastFilter
	if f.Tenant != glasshouse.DefaultTenant || f.Kind != glasshouse.KindImage || f.Limit != 2 || f.Cursor != "abc" {
		t.Errorf("filter = %+v", f)
	}
	if h.get("/api/assets"); h.svc.lastFilter.Limit != defaultListLimit {
		t.Errorf("default limit = %d", h.svc.lastFilter.Limit)
	}
	rr = h.get("/api/assets?kind=video")
	if rr.Code != 200 || !strings.Contains(rr.Body.String(), `"assets":[]`) {
		t.Errorf("empty list should have \"assets\":[]: %s", rr.Body)
	}
	wantError(t, h.get("/api/assets?kind=document"), 400, "invalid")
	wantError(t, h.get("/api/assets?limit=0"), 400, "invalid")
	wantError(t, h.get("/api/assets?limit=ten"), 400, "invalid")
	wantError(t, h.get("/api/assets?limit=100000"), 400, "invalid")

	var got glasshouse.Asset
	decode(t, h.get("/api/assets/"+string(a.ID)), &got)
	if got.ID != a.ID || got.Hash != a.Hash {
		t.Errorf("get = %+v", got)
	}
	rr = h.do(httptest.NewRequest(http.MethodDelete, "/api/assets/"+string(a.ID), nil))
	if rr.Code != http.StatusNoContent || rr.Body.Len() != 0 {
		t.Fatalf("delete: %d %s", rr.Code, rr.Body)
	}
	wantError(t, h.get("/api/assets/"+string(a.ID)), 404, "not_found")
	wantError(t, h.do(httptest.NewRequest(http.MethodDelete, "/api/assets/"+string(a.ID), nil)), 404, "not_found")
	h.svc.errs["DeleteAsset"] = glasshouse.Errorf("catalog.DeleteAsset", glasshouse.ErrConflict, "asset %s is under legal hold", b.ID)
	wantError(t, h.do(httptest.NewRequest(http.MethodDelete, "/api/assets/"+string(b.ID), nil)), 409, "conflict")
}

func TestJobsInsightsAuditStatusBlobs(t *testing.T) {
	h := newHarness(t, Options{Version: "v1.2.3"})
	a := h.mustUpload("a.png", pngData)
	h.svc.jobs = []glasshouse.Job{
		{ID: 1, Asset: a.ID, Kind: "ocr", State: glasshouse.JobDone},
		{ID: 2, Asset: "other", Kind: "speech", State: glasshouse.JobQueued},
	}
	var jobs []glasshouse.Job
	decode(t, h.get("/api/assets/"+string(a.ID)+"/jobs"), &jobs)
	if len(jobs) != 1 || jobs[0].Kind != "ocr" || h.svc.lastJobsID != a.ID {
		t.Errorf("asset jobs = %+v", jobs)
	}
	decode(t, h.get("/api/jobs"), &jobs)
	if len(jobs) != 2 || h.svc.lastJobsID != "" {
		t.Errorf("all jobs = %+v", jobs)
	}
	h.svc.jobs = nil
	if rr := h.get("/api/jobs"); strings.TrimSpace(rr.Body.String()) != "[]" {
		t.Errorf("no jobs should be [], got %s", rr.Body)
	}

	h.svc.insight = &glasshouse.Insights{OCR: []glasshouse.OCRText{{Text: "EXIT", StartMS: 1000, EndMS: 2000}}}
	var in glasshouse.Insights
	decode(t, h.get("/api/assets/"+string(a.ID)+"/insights"), &in)
	if len(in.OCR) != 1 || in.OCR[0].Text != "EXIT" {
		t.Errorf("insights = %+v", in)
	}
	wantError(t, h.get("/api/assets/"+someID+"/insights"), 404, "not_found")

	for i := int64(1); i <= 5; i++ {
		h.svc.events = append(h.svc.events, glasshouse.AuditEvent{Seq: i, Action: "view"})
	}
	var evs []glasshouse.AuditEvent
	decode(t, h.get("/api/audit?after=2&limit=2"), &evs)
	if len(evs) != 2 || evs[0].Seq != 3 || h.svc.lastAfter != 2 || h.svc.lastLimit != 2 {
		t.Errorf("audit = %+v", evs)
	}
	if h.get("/api/audit"); h.svc.lastAfter != 0 || h.svc.lastLimit != defaultAudit {
		t.Errorf("audit defaults: after %d limit %d", h.svc.lastAfter, h.svc.lastLimit)
	}
	wantError(t, h.get("/api/audit?after=-1"), 400, "invalid")
	wantError(t, h.get("/api/audit?after=x"), 400, "invalid")
	wantError(t, h.get("/api/audit?limit=0"), 400, "invalid")

	h.svc.status = &glasshouse.Status{Blobs: "file", DB: "sqlite", Jobs: map[glasshouse.JobState]int{glasshouse.JobQueued: 3}}
	var st glasshouse.Status
	decode(t, h.get("/api/status"), &st)
	if st.Version != "v1.2.3" || st.DB != "sqlite" || st.Jobs[glasshouse.JobQueued] != 3 {
		t.Errorf("status = %+v", st)
	}
	h.svc.errs["Status"] = glasshouse.Errorf("status", glasshouse.ErrUnavailable, "database is locked")
	wantError(t, h.get("/api/status"), 503, "unavailable")

	var health map[string]string
	decode(t, h.get("/healthz"), &health)
	if health["status"] != "ok" || health["version"] != "v1.2.3" {
		t.Errorf("healthz = %v", health)
	}

	jpeg := []byte("\xff\xd8\xff keyframe")
	ref := glasshouse.RefFromSum(bytes.Repeat([]byte{0xab}, 32))
	h.svc.blobs[ref] = jpeg
	rr := h.get("/api/blobs/" + string(ref))
	if rr.Code != 200 || rr.Body.String() != string(jpeg) || rr.Header().Get("Content-Type") != "image/jpeg" ||
		!strings.Contains(rr.Header().Get("Cache-Control"), "immutable") {
		t.Errorf("blob: %d %v", rr.Code, rr.Header())
	}
	wantError(t, h.get("/api/blobs/"+string(glasshouse.RefFromSum(make([]byte, 32)))), 404, "not_found")
}

func TestPanicRecoveryAndLogging(t *testing.T) {
	h := newHarness(t, Options{})
	h.svc.panicIn = "Status"
	rr := h.get("/api/status")
	wantError(t, rr, 500, "internal")
	logs := h.logs.String()
	if !strings.Contains(logs, "fake panic in Status") {
		t.Errorf("panic not logged:\n%s", logs)
	}
	h.svc.panicIn = ""
	h.mustUpload("a.png", pngData)
	var found bool
	for _, line := range strings.Split(h.logs.String(), "\n") {
		var rec map[string]any
		if json.Unmarshal([]byte(line), &rec) != nil || rec["msg"] != "http request" || rec["method"] != "POST" {
			continue
		}
		found = true
		if rec["path"] != "/api/assets" || rec["status"] != float64(201) || rec["bytes"].(float64) < 100 || rec["duration"] == nil || rec["user"] != "local" {
			t.Errorf("request log = %v (want the user named)", rec)
		}
	}
	if !found {
		t.Errorf("no request log line for the upload:\n%s", h.logs.String())
	}
}

func TestWebPageMounted(t *testing.T) {
	h := newHarness(t, Options{})
	rr := h.get("/")
	if rr.Code != 200 || !strings.HasPrefix(rr.Header().Get("Content-Type"), "text/html") ||
		!strings.Contains(rr.Body.String(), `id="upload-form"`) {
		t.Fatalf("GET /: %d %q", rr.Code, rr.Header().Get("Content-Type"))
	}
	for path, ct := range map[string]string{"/app.js": "text/javascript", "/style.css": "text/css"} {
		rr := h.get(path)
		if rr.Code != 200 || !strings.HasPrefix(rr.Header().Get("Content-Type"), ct) {
			t.Errorf("GET %s: %d %q", path, rr.Code, rr.Header().Get("Content-Type"))
		}
	}
}
