package httpapi

import (
	"bytes"
	"encoding/json"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/textproto"
	"strings"
	"testing"

	"github.com/glasshouse/glasshouse"
)

// FuzzUpload posts multipart uploads built from fuzzed file names,
// collections and contents, or a fuzzed raw multipart body, to the upload
// handler. It must never panic or answer 5xx, and must always answer JSON.
func FuzzUpload(f *testing.F) {
	png := []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x02\x00\x00\x00")
	f.Add("a.png", "", png, []byte(nil))
	f.Add("../../etc/passwd", "x", []byte("root:x:0:0"), []byte(nil))
	f.Add("invoice\u202egpj.exe", "news", png, []byte(nil))
	f.Add("", "", []byte{}, []byte("--B\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a\"\r\n\r\nxx\r\n--B--\r\n"))
	f.Add("x", "", []byte("x"), []byte("--B\r\nContent-Disposition: form-data; name=\"collection\"\r\n\r\n"+strings.Repeat("c", 2000)+"\r\n--B--\r\n"))
	f.Add("x", "", []byte("x"), []byte("--B\r\nContent-Disposition: form-data; name=\"file\"; filename*=UTF-8''%E2%80%AE.png\r\n\r\n\x89PNG\r\n--B"))
	// One server for every input: building one signs a user in (an Argon2id
	// hash), which held the first runs to a few inputs a minute. What each
	// input stored is forgotten before the next.
	h := newHarness(f, Options{MaxUploadBytes: 1 << 20})
	f.Fuzz(func(t *testing.T, name, collection string, content, raw []byte) {
		h.svc.mu.Lock()
		h.svc.assets = map[glasshouse.AssetID]*fakeAsset{}
		h.svc.blobs = map[glasshouse.Ref][]byte{}
		h.svc.mu.Unlock()
		var body []byte
		ct := "multipart/form-data; boundary=B"
		if len(raw) > 0 {
			body = raw
		} else {
			var buf bytes.Buffer
			mw := multipart.NewWriter(&buf)
			if collection != "" {
				mw.WriteField("collection", collection)
			}
			hdr := textproto.MIMEHeader{}
			hdr.Set("Content-Disposition", `form-data; name="file"; filename="`+strings.NewReplacer(`"`, `\"`, "\\", `\\`).Replace(name)+`"`)
			pw, err := mw.CreatePart(hdr)
			if err != nil {
				t.Skip()
			}
			pw.Write(content)
			mw.Close()
			body, ct = buf.Bytes(), mw.FormDataContentType()
		}
		req := httptest.NewRequest(http.MethodPost, "/api/assets", bytes.NewReader(body))
		req.Header.Set("Content-Type", ct)
		rr := httptest.NewRecorder()
		h.h.ServeHTTP(rr, req)
		if rr.Code >= 500 {
			t.Fatalf("status %d: %s", rr.Code, rr.Body.Bytes())
		}
		if !json.Valid(rr.Body.Bytes()) {
			t.Fatalf("status %d, body is not JSON: %q", rr.Code, rr.Body.Bytes())
		}
	})
}
