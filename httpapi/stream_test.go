package httpapi

import (
	"github.com/glasshouse/glasshouse"

	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"sync"
	"testing"
)

func netDial(addr string) (*net.TCPConn, error) {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return nil, err
	}
	return c.(*net.TCPConn), nil
}

func bufioReader(r io.Reader) *bufio.Reader { return bufio.NewReader(r) }

// writeMultipart writes a multipart body with one file part of size bytes
// to w, generated on the fly from a 1 MiB buffer, and closes w.
func writeMultipart(w *io.PipeWriter, mw *multipart.Writer, size int64) {
	part, err := mw.CreateFormFile("file", "huge.mp4")
	if err != nil {
		w.CloseWithError(err)
		return
	}
	chunk := make([]byte, 1<<20)
	for i := range chunk {
		chunk[i] = byte(i * 7)
	}
	for left := size; left > 0; {
		n := int64(len(chunk))
		if left < n {
			n = left
		}
		if _, err := part.Write(chunk[:n]); err != nil {
			w.CloseWithError(err)
			return
		}
		left -= n
	}
	w.CloseWithError(mw.Close())
}

// TestMultipartStreams2GB uploads a 2 GiB multipart body through a real
// HTTP server and checks the file reaches the service byte for byte while
// the heap stays flat: nothing buffers the file.
func TestMultipartStreams2GB(t *testing.T) {
	if testing.Short() {
		t.Skip("streams 2 GiB; skipped with -short")
	}
	const size = 2 << 30
	h := newHarness(t, Options{MaxUploadBytes: size + 1<<20})
	h.svc.countOnly = true

	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	base := ms.HeapInuse
	var mu sync.Mutex
	peak := base
	samples := 0
	h.svc.sample = func() {
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		mu.Lock()
		defer mu.Unlock()
		samples++
		if m.HeapInuse > peak {
			peak = m.HeapInuse
		}
	}

	srv := httptest.NewServer(h.h)
	defer srv.Close()
	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	go writeMultipart(pw, mw, size)
	resp, err := http.Post(srv.URL+"/api/assets", mw.FormDataContentType(), pr)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var res []fileResult
	if err := json.NewDecoder(resp.Body).Decode(&res); err != nil || resp.StatusCode != 201 {
		t.Fatalf("status %d, decode err %v", resp.StatusCode, err)
	}
	if len(res) != 1 || res[0].Asset == nil || res[0].Asset.Size != size {
		t.Fatalf("results = %+v", res)
	}
	if h.svc.counted != size {
		t.Fatalf("service read %d bytes, want %d", h.svc.counted, size)
	}
	mu.Lock()
	defer mu.Unlock()
	if samples < 30 {
		t.Fatalf("only %d heap samples", samples)
	}
	growth := int64(peak) - int64(base)
	t.Logf("HeapInuse base %.1f MiB, peak %.1f MiB, growth %.1f MiB over %d samples",
		float64(base)/(1<<20), float64(peak)/(1<<20), float64(growth)/(1<<20), samples)
	if growth >= 32<<20 {
		t.Errorf("heap grew by %d MiB while streaming 2 GiB; the upload is being buffered", growth>>20)
	}
}

// BenchmarkMultipartUpload measures the API's multipart path (parse and
// hand to the service) for a 64 MiB file, in process.
func BenchmarkMultipartUpload(b *testing.B) {
	const size = 64 << 20
	h := newHarness(b, Options{})
	h.svc.countOnly = true
	b.SetBytes(size)
	b.ReportAllocs()
	for b.Loop() {
		pr, pw := io.Pipe()
		mw := multipart.NewWriter(pw)
		go writeMultipart(pw, mw, size)
		req := httptest.NewRequest(http.MethodPost, "/api/assets", pr)
		req.Header.Set("Content-Type", mw.FormDataContentType())
		rr := httptest.NewRecorder()
		h.h.ServeHTTP(rr, req)
		if rr.Code != 201 {
			b.Fatalf("status %d: %s", rr.Code, rr.Body)
		}
	}
}

// BenchmarkRangeRequest measures a 1 MiB range read of a 64 MiB original.
func BenchmarkRangeRequest(b *testing.B) {
	h := newHarness(b, Options{})
	data := make([]byte, 64<<20)
	copy(data, "\x89PNG\r\n\x1a\n")
	a, _, err := h.svc.Ingest(b.Context(), glasshouse.Actor{Tenant: glasshouse.DefaultTenant, User: "local"}, "big.png", "", &sliceReader{data: data})
	if err != nil {
		b.Fatal(err)
	}
	path := "/api/assets/" + string(a.ID) + "/content"
	b.SetBytes(1 << 20)
	for b.Loop() {
		req := httptest.NewRequest(http.MethodGet, path, nil)
		req.Header.Set("Range", fmt.Sprintf("bytes=%d-%d", 32<<20, 33<<20-1))
		rr := httptest.NewRecorder()
		h.h.ServeHTTP(rr, req)
		if rr.Code != 206 {
			b.Fatalf("status %d", rr.Code)
		}
	}
}

type sliceReader struct{ data []byte }

func (s *sliceReader) Read(p []byte) (int, error) {
	if len(s.data) == 0 {
		return 0, io.EOF
	}
	n := copy(p, s.data)
	s.data = s.data[n:]
	return n, nil
}

// TestSizeLimitOverHTTP: a streamed (chunked) body over the limit gets 413
// from a real server, the connection is closed and nothing is stored.
func TestSizeLimitOverHTTP(t *testing.T) {
	h := newHarness(t, Options{MaxUploadBytes: 1 << 20})
	srv := httptest.NewServer(h.h)
	defer srv.Close()
	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	go writeMultipart(pw, mw, 8<<20)
	resp, err := http.Post(srv.URL+"/api/assets", mw.FormDataContentType(), pr)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var fail uploadFailure
	if err := json.NewDecoder(resp.Body).Decode(&fail); err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 413 || fail.Error.Code != "too_large" || !resp.Close {
		t.Errorf("status %d, error %+v, close %v", resp.StatusCode, fail.Error, resp.Close)
	}
	if len(h.svc.assets) != 0 {
		t.Errorf("%d assets stored", len(h.svc.assets))
	}
}
