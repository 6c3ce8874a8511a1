package httpapi

import (
	"bytes"
	"encoding/base64"
	"image"
	"image/color"
	"image/png"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/glasshouse/glasshouse"
)

func tusReq(t *testing.T, method, url string, body []byte, hdr map[string]string) *http.Response {
	t.Helper()
	var r io.Reader
	if body != nil {
		r = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, url, r)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Tus-Resumable", "1.0.0")
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

func noisyPNG(t *testing.T) []byte {
	img := image.NewRGBA(image.Rect(0, 0, 400, 300))
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range img.Pix {
		img.Pix[i] = uint8(rng.IntN(256))
	}
	img.Set(0, 0, color.White)
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// TestTusResumableUpload speaks the tus protocol to the real tusd handler:
// an upload broken off half-way resumes from the server's offset, and the
// last PATCH is answered only after the file was ingested, with its id.
func TestTusResumableUpload(t *testing.T) {
	svc := newFake()
	dir := t.TempDir()
	srv := httptest.NewServer(newAuthed(t, svc, Options{UploadDir: dir}))
	defer srv.Close()
	data := noisyPNG(t)
	meta := "filename " + base64.StdEncoding.EncodeToString([]byte("noise.png")) + ",collection " + base64.StdEncoding.EncodeToString([]byte("field"))
	resp := tusReq(t, http.MethodPost, srv.URL+"/api/uploads/", nil, map[string]string{
		"Upload-Length": strconv.Itoa(len(data)), "Upload-Metadata": meta,
	})
	resp.Body.Close()
	loc := resp.Header.Get("Location")
	if resp.StatusCode != http.StatusCreated || loc == "" {
		t.Fatalf("create: %s, Location %q", resp.Status, loc)
	}
	if !strings.HasPrefix(loc, "http") {
		loc = srv.URL + loc
	}
	half := len(data) / 2
	resp = tusReq(t, http.MethodPatch, loc, data[:half], map[string]string{"Upload-Offset": "0", "Content-Type": "application/offset+octet-stream"})
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("first PATCH: %s", resp.Status)
	}
	if len(svc.assets) != 0 {
		t.Fatal("ingested before the upload was complete")
	}
	// The client lost track: ask the server where to go on.
	resp = tusReq(t, http.MethodHead, loc, nil, nil)
	resp.Body.Close()
	off, _ := strconv.Atoi(resp.Header.Get("Upload-Offset"))
	if off != half {
		t.Fatalf("HEAD offset %d, want %d", off, half)
	}
	resp = tusReq(t, http.MethodPatch, loc, data[off:], map[string]string{"Upload-Offset": strconv.Itoa(off), "Content-Type": "application/offset+octet-stream"})
	resp.Body.Close()
	id := resp.Header.Get("X-Glasshouse-Asset")
	if resp.StatusCode != http.StatusNoContent || id == "" {
		t.Fatalf("last PATCH: %s, asset %q", resp.Status, id)
	}
	svc.mu.Lock()
	fa := svc.assets[glasshouse.AssetID(id)]
	svc.mu.Unlock()
	if fa == nil || !bytes.Equal(fa.data, data) || fa.asset.Name != "noise.png" || fa.asset.Collection != "field" {
		t.Fatalf("stored asset does not match the upload")
	}

	// A completed upload that is not media is refused with our JSON error.
	text := []byte("just some text, not a picture\n")
	resp = tusReq(t, http.MethodPost, srv.URL+"/api/uploads/", nil, map[string]string{
		"Upload-Length": strconv.Itoa(len(text)), "Upload-Metadata": "filename " + base64.StdEncoding.EncodeToString([]byte("notes.txt")),
	})
	resp.Body.Close()
	loc = resp.Header.Get("Location")
	if !strings.HasPrefix(loc, "http") {
		loc = srv.URL + loc
	}
	resp = tusReq(t, http.MethodPatch, loc, text, map[string]string{"Upload-Offset": "0", "Content-Type": "application/offset+octet-stream"})
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnsupportedMediaType || !strings.Contains(string(body), `"unsupported_media"`) {
		t.Fatalf("non-media upload: %s %s", resp.Status, body)
	}
	// Finished uploads, stored or refused, leave no partial files behind.
	if left, _ := os.ReadDir(dir); len(left) != 0 {
		t.Errorf("%d files left in the upload folder: %v", len(left), left)
	}
}
