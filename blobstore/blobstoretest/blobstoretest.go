// Package blobstoretest is the conformance suite for glasshouse.BlobStore
// implementations. Every backend runs the same tests:
//
//	func TestConformance(t *testing.T) {
//		blobstoretest.Run(t, func(t *testing.T) glasshouse.BlobStore { ... })
//	}
//
// open must return a fresh, empty store for each call; the suite closes it
// after any cleanups that open registered with t.
package blobstoretest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/glasshouse/glasshouse"
)

// Options tunes the suite for a backend.
type Options struct {
	// LargeSize is the size of the streamed blob in the large-blob test
	// (default 200 MB).
	LargeSize int64
	// SkipHeapCheck disables the flat-memory assertion of the large-blob
	// test, for backends that keep blobs in process memory (mem://).
	SkipHeapCheck bool
	// MaxHeapGrowth bounds HeapInuse growth during the large put (default
	// 32 MB).
	MaxHeapGrowth uint64
}

// Run runs the suite with default options.
func Run(t *testing.T, open func(t *testing.T) glasshouse.BlobStore) {
	RunWith(t, open, Options{})
}

// RunWith runs the suite with o.
func RunWith(t *testing.T, open func(t *testing.T) glasshouse.BlobStore, o Options) {
	if o.LargeSize == 0 {
		o.LargeSize = 200 << 20
	}
	if o.MaxHeapGrowth == 0 {
		o.MaxHeapGrowth = 32 << 20
	}
	fresh := func(t *testing.T) glasshouse.BlobStore {
		t.Helper()
		// Registered first so that it runs last: cleanups that open
		// registers (checks on the store's state) still see it open.
		var s glasshouse.BlobStore
		t.Cleanup(func() {
			if s == nil {
				return
			}
			if err := s.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
		})
		s = open(t)
		return s
	}
	t.Run("RoundTrip", func(t *testing.T) { testRoundTrip(t, fresh(t)) })
	t.Run("RealSHA256", func(t *testing.T) { testRealSHA256(t, fresh(t)) })
	t.Run("DuplicateStoredOnce", func(t *testing.T) { testDuplicate(t, fresh(t)) })
	t.Run("EmptyBlob", func(t *testing.T) { testEmpty(t, fresh(t)) })
	t.Run("RangeReads", func(t *testing.T) { testRanges(t, fresh(t)) })
	t.Run("Stat", func(t *testing.T) { testStat(t, fresh(t)) })
	t.Run("DeleteAndNotFound", func(t *testing.T) { testDelete(t, fresh(t)) })
	t.Run("InvalidRef", func(t *testing.T) { testInvalidRef(t, fresh(t)) })
	t.Run("ConcurrentSameContent", func(t *testing.T) { testConcurrentSame(t, fresh(t)) })
	t.Run("ConcurrentDifferentContent", func(t *testing.T) { testConcurrentDifferent(t, fresh(t)) })
	t.Run("ReaderFailsHalfway", func(t *testing.T) { testReaderFails(t, fresh(t)) })
	t.Run("Cancellation", func(t *testing.T) { testCancel(t, fresh(t)) })
	t.Run("LargeStreamed", func(t *testing.T) {
		if testing.Short() {
			t.Skip("large blob skipped in -short mode")
		}
		testLarge(t, fresh(t), o)
	})
	t.Run("LargeFile", func(t *testing.T) {
		if testing.Short() {
			t.Skip("large blob skipped in -short mode")
		}
		testLargeFile(t, fresh(t), o)
	})
}

// Bytes returns n deterministic pseudo-random bytes for seed.
func Bytes(seed uint64, n int) []byte {
	b := make([]byte, n)
	_, _ = io.ReadFull(NewReader(seed, int64(n)), b)
	return b
}

// Reader is a deterministic pseudo-random stream of a given length that
// allocates nothing while reading (xorshift64*).
type Reader struct {
	state  uint64
	remain int64
	// OnRead, if set, is called after each Read with the bytes read so far.
	OnRead func(total int64)
	total  int64
}

// NewReader returns a Reader of n bytes for seed.
func NewReader(seed uint64, n int64) *Reader {
	return &Reader{state: seed*0x9E3779B97F4A7C15 + 1, remain: n}
}

func (r *Reader) Read(p []byte) (int, error) {
	if r.remain <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > r.remain {
		p = p[:r.remain]
	}
	n := len(p) &^ 7
	for i := 0; i < n; i += 8 {
		r.state ^= r.state >> 12
		r.state ^= r.state << 25
		r.state ^= r.state >> 27
		v := r.state * 2685821657736338717
		p[i], p[i+1], p[i+2], p[i+3] = byte(v), byte(v>>8), byte(v>>16), byte(v>>24)
		p[i+4], p[i+5], p[i+6], p[i+7] = byte(v>>32), byte(v>>40), byte(v>>48), byte(v>>56)
	}
	for i := n; i < len(p); i++ {
		r.state ^= r.state >> 12
		r.state ^= r.state << 25
		r.state ^= r.state >> 27
		p[i] = byte(r.state * 2685821657736338717)
	}
	r.remain -= int64(len(p))
	r.total += int64(len(p))
	if r.OnRead != nil {
		r.OnRead(r.total)
	}
	return len(p), nil
}

func refOf(b []byte) glasshouse.Ref {
	s := sha256.Sum256(b)
	return glasshouse.RefFromSum(s[:])
}

func put(t *testing.T, s glasshouse.BlobStore, b []byte) glasshouse.Ref {
	t.Helper()
	ref, n, err := s.Put(context.Background(), bytes.NewReader(b))
	if err != nil {
		t.Fatalf("Put(%d bytes): %v", len(b), err)
	}
	if n != int64(len(b)) {
		t.Fatalf("Put size = %d, want %d", n, len(b))
	}
	return ref
}

func readRange(t *testing.T, s glasshouse.BlobStore, ref glasshouse.Ref, off, length int64) []byte {
	t.Helper()
	rc, err := s.Open(context.Background(), ref, off, length)
	if err != nil {
		t.Fatalf("Open(%s, %d, %d): %v", ref, off, length, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("read %s [%d,+%d): %v", ref, off, length, err)
	}
	return b
}

func wantKind(t *testing.T, what string, err, kind error) {
	t.Helper()
	if err == nil {
		t.Fatalf("%s: got no error, want %v", what, kind)
	}
	if !errors.Is(err, kind) {
		t.Fatalf("%s: got %v (code %s), want kind %v", what, err, glasshouse.ErrorCode(err), kind)
	}
	var ge *glasshouse.Error
	if !errors.As(err, &ge) || ge.Op == "" {
		t.Errorf("%s: error %v is not a *glasshouse.Error naming its operation", what, err)
	}
}

func testRoundTrip(t *testing.T, s glasshouse.BlobStore) {
	for _, n := range []int{1, 100, 4096, 1<<20 + 17} {
		b := Bytes(uint64(n), n)
		ref := put(t, s, b)
		if got := readRange(t, s, ref, 0, -1); !bytes.Equal(got, b) {
			t.Fatalf("round trip of %d bytes: got %d bytes, content differs", n, len(got))
		}
	}
}

func testRealSHA256(t *testing.T, s glasshouse.BlobStore) {
	b := Bytes(42, 3<<20+5)
	ref := put(t, s, b)
	sum := sha256.Sum256(b)
	if want := glasshouse.RefFromSum(sum[:]); ref != want {
		t.Fatalf("Put ref = %s, want crypto/sha256 %s", ref, want)
	}
	if !ref.Valid() {
		t.Fatalf("Put returned malformed ref %q", ref)
	}
	// Well-known vector: SHA-256("abc").
	ref = put(t, s, []byte("abc"))
	if want := glasshouse.Ref("sha256-ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"); ref != want {
		t.Fatalf("Put(abc) = %s, want %s", ref, want)
	}
}

func testDuplicate(t *testing.T, s glasshouse.BlobStore) {
	b := Bytes(7, 50000)
	r1 := put(t, s, b)
	r2 := put(t, s, b)
	if r1 != r2 {
		t.Fatalf("same content gave refs %s and %s", r1, r2)
	}
	if got := readRange(t, s, r1, 0, -1); !bytes.Equal(got, b) {
		t.Fatal("content differs after duplicate put")
	}
	// Stored once: one delete removes it.
	if err := s.Delete(context.Background(), r1); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	_, err := s.Stat(context.Background(), r1)
	wantKind(t, "Stat after deleting a twice-put blob", err, glasshouse.ErrNotExist)
}

func testEmpty(t *testing.T, s glasshouse.BlobStore) {
	ref := put(t, s, nil)
	if want := glasshouse.Ref("sha256-e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"); ref != want {
		t.Fatalf("empty ref = %s, want %s", ref, want)
	}
	n, err := s.Stat(context.Background(), ref)
	if err != nil || n != 0 {
		t.Fatalf("Stat(empty) = %d, %v; want 0, nil", n, err)
	}
	if got := readRange(t, s, ref, 0, -1); len(got) != 0 {
		t.Fatalf("empty blob read %d bytes", len(got))
	}
}

func testRanges(t *testing.T, s glasshouse.BlobStore) {
	b := Bytes(3, 1000)
	ref := put(t, s, b)
	for _, c := range []struct {
		name        string
		off, length int64
		want        []byte
	}{
		{"start", 0, 10, b[:10]},
		{"middle", 100, 50, b[100:150]},
		{"tail", 990, -1, b[990:]},
		{"to end exactly", 900, 100, b[900:]},
		{"length past end", 995, 100, b[995:]},
		{"whole", 0, -1, b},
		{"zero length", 10, 0, nil},
		{"offset at end", 1000, 10, nil},
		{"offset past end", 2000, -1, nil},
	} {
		got := readRange(t, s, ref, c.off, c.length)
		if !bytes.Equal(got, c.want) {
			t.Errorf("%s: Open(%d, %d) read %d bytes, want %d (content equal: %v)",
				c.name, c.off, c.length, len(got), len(c.want), bytes.Equal(got, c.want))
		}
	}
	_, err := s.Open(context.Background(), ref, -1, 10)
	wantKind(t, "Open with negative offset", err, glasshouse.ErrInvalid)
}

func testStat(t *testing.T, s glasshouse.BlobStore) {
	b := Bytes(9, 123457)
	ref := put(t, s, b)
	n, err := s.Stat(context.Background(), ref)
	if err != nil {
		t.Fatalf("Stat: %v", err)
	}
	if n != int64(len(b)) {
		t.Fatalf("Stat = %d, want %d", n, len(b))
	}
	_, err = s.Stat(context.Background(), refOf([]byte("never stored")))
	wantKind(t, "Stat of a missing blob", err, glasshouse.ErrNotExist)
}

func testDelete(t *testing.T, s glasshouse.BlobStore) {
	ctx := context.Background()
	b := Bytes(11, 2048)
	keep := put(t, s, Bytes(12, 2048))
	ref := put(t, s, b)
	if err := s.Delete(ctx, ref); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	_, err := s.Stat(ctx, ref)
	wantKind(t, "Stat after Delete", err, glasshouse.ErrNotExist)
	_, err = s.Open(ctx, ref, 0, -1)
	wantKind(t, "Open after Delete", err, glasshouse.ErrNotExist)
	err = s.Delete(ctx, ref)
	wantKind(t, "second Delete", err, glasshouse.ErrNotExist)
	if p, ok := s.LocalPath(ref); ok {
		t.Errorf("LocalPath of a deleted blob = %q, true", p)
	}
	// Other blobs are untouched, and the content can be stored again.
	if got := readRange(t, s, keep, 0, -1); !bytes.Equal(got, Bytes(12, 2048)) {
		t.Fatal("Delete disturbed another blob")
	}
	if again := put(t, s, b); again != ref {
		t.Fatalf("re-put after delete gave %s, want %s", again, ref)
	}
	if got := readRange(t, s, ref, 0, -1); !bytes.Equal(got, b) {
		t.Fatal("re-put content differs")
	}
	missing := refOf([]byte("missing"))
	_, err = s.Open(ctx, missing, 0, -1)
	wantKind(t, "Open of a missing blob", err, glasshouse.ErrNotExist)
	_, err = s.Open(ctx, missing, 5, 10)
	wantKind(t, "range Open of a missing blob", err, glasshouse.ErrNotExist)
}

func testInvalidRef(t *testing.T, s glasshouse.BlobStore) {
	ctx := context.Background()
	good := refOf([]byte("x")).Hex()
	for _, r := range []glasshouse.Ref{
		"",
		"sha256-",
		"sha256-xyz",
		glasshouse.Ref("sha256-" + good[:63]),
		glasshouse.Ref("sha256-" + good + "0"),
		glasshouse.Ref("md5-" + good),
		glasshouse.Ref("SHA256-" + good),
		glasshouse.Ref("sha256-" + "ABCDEF" + good[6:]),
		glasshouse.Ref("sha256-../../../../etc/passwd"),
		glasshouse.Ref(good),
	} {
		_, err := s.Open(ctx, r, 0, -1)
		wantKind(t, fmt.Sprintf("Open(%q)", r), err, glasshouse.ErrInvalid)
		_, err = s.Stat(ctx, r)
		wantKind(t, fmt.Sprintf("Stat(%q)", r), err, glasshouse.ErrInvalid)
		err = s.Delete(ctx, r)
		wantKind(t, fmt.Sprintf("Delete(%q)", r), err, glasshouse.ErrInvalid)
		if p, ok := s.LocalPath(r); ok {
			t.Errorf("LocalPath(%q) = %q, true", r, p)
		}
	}
}

func testConcurrentSame(t *testing.T, s glasshouse.BlobStore) {
	b := Bytes(21, 1<<20+3)
	want := refOf(b)
	const n = 8
	var wg sync.WaitGroup
	errs := make([]error, n)
	refs := make([]glasshouse.Ref, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			refs[i], _, errs[i] = s.Put(context.Background(), bytes.NewReader(b))
		}()
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("concurrent Put %d: %v", i, errs[i])
		}
		if refs[i] != want {
			t.Fatalf("concurrent Put %d = %s, want %s", i, refs[i], want)
		}
	}
	if got := readRange(t, s, want, 0, -1); !bytes.Equal(got, b) {
		t.Fatal("content differs after concurrent puts of the same content")
	}
	if err := s.Delete(context.Background(), want); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	_, err := s.Stat(context.Background(), want)
	wantKind(t, "Stat after Delete of concurrently put blob", err, glasshouse.ErrNotExist)
}

func testConcurrentDifferent(t *testing.T, s glasshouse.BlobStore) {
	const n = 8
	var wg sync.WaitGroup
	errs := make([]error, n)
	refs := make([]glasshouse.Ref, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			refs[i], _, errs[i] = s.Put(context.Background(), NewReader(uint64(100+i), int64(300000+i)))
		}()
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("concurrent Put %d: %v", i, errs[i])
		}
		b := Bytes(uint64(100+i), 300000+i)
		if refs[i] != refOf(b) {
			t.Fatalf("concurrent Put %d = %s, want %s", i, refs[i], refOf(b))
		}
		if got := readRange(t, s, refs[i], 0, -1); !bytes.Equal(got, b) {
			t.Fatalf("concurrent Put %d: content differs", i)
		}
	}
}

var errCutOff = errors.New("connection reset (test)")

// failingReader yields data and then fails.
type failingReader struct {
	r   io.Reader
	err error
}

func (f *failingReader) Read(p []byte) (int, error) {
	n, err := f.r.Read(p)
	if err == io.EOF {
		return n, f.err
	}
	return n, err
}

func testReaderFails(t *testing.T, s glasshouse.BlobStore) {
	ctx := context.Background()
	full := Bytes(31, 4<<20)
	half := full[:len(full)/2]
	_, _, err := s.Put(ctx, &failingReader{r: bytes.NewReader(half), err: errCutOff})
	if err == nil {
		t.Fatal("Put of a stream that fails half-way succeeded")
	}
	if !errors.Is(err, errCutOff) {
		t.Fatalf("Put error %v does not wrap the reader's error", err)
	}
	var ge *glasshouse.Error
	if !errors.As(err, &ge) || ge.Op == "" {
		t.Fatalf("Put error %v does not name the operation", err)
	}
	for _, b := range [][]byte{half, full} {
		_, err := s.Stat(ctx, refOf(b))
		wantKind(t, "Stat of the partial upload's hash", err, glasshouse.ErrNotExist)
		_, err = s.Open(ctx, refOf(b), 0, -1)
		wantKind(t, "Open of the partial upload's hash", err, glasshouse.ErrNotExist)
		if p, ok := s.LocalPath(refOf(b)); ok {
			t.Fatalf("LocalPath of the partial upload = %q", p)
		}
	}
	// The store still works afterwards.
	if ref := put(t, s, full); ref != refOf(full) {
		t.Fatalf("Put after a failed put = %s, want %s", ref, refOf(full))
	}
}

func testCancel(t *testing.T, s glasshouse.BlobStore) {
	const total = 64 << 20
	// Cancel from inside the stream, after 8 MB: no timers involved.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	r := NewReader(41, total)
	var seen atomic.Int64 // a store may read from another goroutine
	r.OnRead = func(n int64) {
		seen.Store(n)
		if n >= 8<<20 {
			cancel()
		}
	}
	_, _, err := s.Put(ctx, r)
	if err == nil {
		t.Fatal("Put with a cancelled context succeeded")
	}
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Put error %v does not wrap context.Canceled", err)
	}
	if n := seen.Load(); n >= total {
		t.Errorf("Put read the whole stream (%d bytes) despite cancellation", n)
	}
	ref := refOf(Bytes(41, total))
	_, err = s.Stat(context.Background(), ref)
	wantKind(t, "Stat of the cancelled upload's hash", err, glasshouse.ErrNotExist)

	// Already cancelled before the first byte.
	ctx2, cancel2 := context.WithCancel(context.Background())
	cancel2()
	_, _, err = s.Put(ctx2, bytes.NewReader([]byte("hello")))
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Put with a context cancelled up front: %v, want context.Canceled", err)
	}
	_, err = s.Stat(context.Background(), refOf([]byte("hello")))
	wantKind(t, "Stat after a put cancelled up front", err, glasshouse.ErrNotExist)
}

func testLarge(t *testing.T, s glasshouse.BlobStore, o Options) {
	ctx := context.Background()
	var ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms)
	base := ms.HeapInuse
	var mu sync.Mutex // a store may read from another goroutine
	peak := base
	sample := func() {
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		mu.Lock()
		peak = max(peak, m.HeapInuse)
		mu.Unlock()
	}
	r := NewReader(77, o.LargeSize)
	h := sha256.New()
	// Hash the expected content alongside, and sample the heap every 16 MB
	// from inside the stream while Put is running (no timers).
	var last int64
	r.OnRead = func(total int64) {
		if total-last >= 16<<20 {
			last = total
			sample()
		}
	}
	tee := io.TeeReader(r, h)
	ref, n, err := s.Put(ctx, tee)
	if err != nil {
		t.Fatalf("Put(%d bytes): %v", o.LargeSize, err)
	}
	sample()
	mu.Lock()
	defer mu.Unlock()
	if n != o.LargeSize {
		t.Fatalf("Put size = %d, want %d", n, o.LargeSize)
	}
	if want := glasshouse.RefFromSum(h.Sum(nil)); ref != want {
		t.Fatalf("Put ref = %s, want %s", ref, want)
	}
	growth := int64(peak) - int64(base)
	t.Logf("large put: %d MB, HeapInuse %d MB -> peak %d MB (growth %d MB)",
		o.LargeSize>>20, base>>20, peak>>20, growth>>20)
	if !o.SkipHeapCheck && growth >= int64(o.MaxHeapGrowth) {
		t.Errorf("HeapInuse grew by %d MB during a %d MB put, want < %d MB",
			growth>>20, o.LargeSize>>20, o.MaxHeapGrowth>>20)
	}
	size, err := s.Stat(ctx, ref)
	if err != nil || size != o.LargeSize {
		t.Fatalf("Stat = %d, %v; want %d", size, err, o.LargeSize)
	}
	// Read it back streaming and compare hashes; then a range near the end.
	rc, err := s.Open(ctx, ref, 0, -1)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	h2 := sha256.New()
	got, err := io.Copy(h2, rc)
	rc.Close()
	if err != nil || got != o.LargeSize {
		t.Fatalf("read back %d bytes, %v", got, err)
	}
	if glasshouse.RefFromSum(h2.Sum(nil)) != ref {
		t.Fatal("large blob read back with a different hash")
	}
	tail := readRange(t, s, ref, o.LargeSize-10, -1)
	if len(tail) != 10 {
		t.Fatalf("tail read %d bytes, want 10", len(tail))
	}
	if err := s.Delete(ctx, ref); err != nil {
		t.Fatalf("Delete: %v", err)
	}
}

// sampledFile is an *os.File (all its methods: a store may take the
// ReaderAt/Seeker/Stat fast path) that samples the heap every 16 MB read,
// sequentially or at an offset, from inside the Put (no timers).
type sampledFile struct {
	*os.File
	read   atomic.Int64
	last   atomic.Int64
	sample func()
}

func (f *sampledFile) count(n int) {
	t := f.read.Add(int64(n))
	if l := f.last.Load(); t-l >= 16<<20 && f.last.CompareAndSwap(l, t) {
		f.sample()
	}
}

func (f *sampledFile) Read(p []byte) (int, error) {
	n, err := f.File.Read(p)
	f.count(n)
	return n, err
}

func (f *sampledFile) ReadAt(p []byte, off int64) (int, error) {
	n, err := f.File.ReadAt(p, off)
	f.count(n)
	return n, err
}

// testLargeFile puts a local file (what the CLI ingests), read from an
// offset other than 0: the blob is the bytes from the file's current offset
// to its end, and heap growth stays under the same bound as a stream,
// whatever parallel upload the store does.
func testLargeFile(t *testing.T, s glasshouse.BlobStore, o Options) {
	ctx := context.Background()
	const skip = 4096 + 17
	p := filepath.Join(t.TempDir(), "large")
	w, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.New()
	if _, err := w.Write(make([]byte, skip)); err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(io.MultiWriter(w, h), NewReader(78, o.LargeSize)); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	want := glasshouse.RefFromSum(h.Sum(nil))
	fh, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	if _, err := fh.Seek(skip, io.SeekStart); err != nil {
		t.Fatal(err)
	}

	var ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms)
	base := ms.HeapInuse
	var mu sync.Mutex
	peak := base
	f := &sampledFile{File: fh, sample: func() {
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		mu.Lock()
		peak = max(peak, m.HeapInuse)
		mu.Unlock()
	}}
	ref, n, err := s.Put(ctx, f)
	if err != nil {
		t.Fatalf("Put(file of %d bytes): %v", o.LargeSize, err)
	}
	f.sample()
	if n != o.LargeSize || ref != want {
		t.Fatalf("Put(file) = %s, %d; want %s, %d (the bytes after the current offset)", ref, n, want, o.LargeSize)
	}
	mu.Lock()
	growth := int64(peak) - int64(base)
	mu.Unlock()
	t.Logf("large file put: %d MB, %d MB read from the file, HeapInuse %d MB -> peak %d MB (growth %d MB)",
		o.LargeSize>>20, f.read.Load()>>20, base>>20, peak>>20, growth>>20)
	if !o.SkipHeapCheck && growth >= int64(o.MaxHeapGrowth) {
		t.Errorf("HeapInuse grew by %d MB during a %d MB file put, want < %d MB",
			growth>>20, o.LargeSize>>20, o.MaxHeapGrowth>>20)
	}
	rc, err := s.Open(ctx, ref, 0, -1)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	h2 := sha256.New()
	got, err := io.Copy(h2, rc)
	rc.Close()
	if err != nil || got != o.LargeSize {
		t.Fatalf("read back %d bytes, %v", got, err)
	}
	if glasshouse.RefFromSum(h2.Sum(nil)) != ref {
		t.Fatal("large file read back with a different hash")
	}
	// The same file again is a duplicate, stored once.
	if _, err := fh.Seek(skip, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	ref2, n2, err := s.Put(ctx, fh)
	if err != nil || ref2 != ref || n2 != n {
		t.Fatalf("second Put(file) = %s, %d, %v; want %s, %d", ref2, n2, err, ref, n)
	}
	if err := s.Delete(ctx, ref); err != nil {
		t.Fatalf("Delete: %v", err)
	}
}
