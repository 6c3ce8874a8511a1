package blobstore

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"io/fs"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gocloud.dev/blob"

	"github.com/glasshouse/glasshouse"
	"github.com/glasshouse/glasshouse/blobstore/blobstoretest"
	"github.com/glasshouse/glasshouse/internal/s3test"
)

func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

type tWriter struct{ t *testing.T }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

func openT(t *testing.T, u string, opts ...Option) *Store {
	t.Helper()
	s, err := Open(context.Background(), u, testLogger(t), opts...)
	if err != nil {
		t.Fatalf("Open(%q): %v", u, err)
	}
	return s
}

// tempCount returns the number of temporaries the store holds.
func tempCount(t *testing.T, s *Store) int {
	t.Helper()
	if s.root != "" {
		ents, err := os.ReadDir(filepath.Join(s.root, "tmp"))
		if err != nil {
			t.Fatalf("read tmp dir: %v", err)
		}
		return len(ents)
	}
	n := 0
	it := s.bucket.List(&blob.ListOptions{Prefix: tmpPrefix})
	for {
		_, err := it.Next(context.Background())
		if err == io.EOF {
			return n
		}
		if err != nil {
			t.Fatalf("list temporaries: %v", err)
		}
		n++
	}
}

// checkNoTemps fails t at cleanup if s still has temporaries: every Put,
// failed or not, must clean up after itself. It runs before the suite's
// Close (cleanups run last-registered first).
func checkNoTemps(t *testing.T, s *Store) {
	t.Cleanup(func() {
		if n := tempCount(t, s); n != 0 {
			t.Errorf("%d temporaries left behind", n)
		}
	})
}

func TestConformanceFile(t *testing.T) {
	blobstoretest.Run(t, func(t *testing.T) glasshouse.BlobStore {
		s := openT(t, "file://"+filepath.Join(t.TempDir(), "blobs"))
		checkNoTemps(t, s)
		return s
	})
}

func TestConformancePlainPath(t *testing.T) {
	blobstoretest.RunWith(t, func(t *testing.T) glasshouse.BlobStore {
		s := openT(t, t.TempDir())
		checkNoTemps(t, s)
		return s
	}, blobstoretest.Options{LargeSize: 32 << 20})
}

func TestConformanceMem(t *testing.T) {
	// memblob keeps blobs on the heap, so the flat-memory check cannot hold.
	blobstoretest.RunWith(t, func(t *testing.T) glasshouse.BlobStore {
		s := openT(t, "mem://")
		checkNoTemps(t, s)
		return s
	}, blobstoretest.Options{LargeSize: 64 << 20, SkipHeapCheck: true})
}

func TestMain(m *testing.M) {
	code := m.Run()
	s3test.StopShared()
	os.Exit(code)
}

// TestConformanceS3 runs the suite against a real S3 server: the
// versitygw started on loopback by internal/s3test (built by
// scripts/setup.sh), or the S3-compatible service GLASSHOUSE_TEST_S3_URL
// names, e.g.
//
//	GLASSHOUSE_TEST_S3_URL='s3://test?endpoint=http://127.0.0.1:9000&region=us-east-1&use_path_style=true'
//
// with AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY in the environment. Each
// subtest gets its own random key prefix inside the bucket.
func TestConformanceS3(t *testing.T) {
	base := os.Getenv("GLASSHOUSE_TEST_S3_URL")
	if base == "" {
		base = s3test.NewBucketURL(t)
	}
	blobstoretest.Run(t, func(t *testing.T) glasshouse.BlobStore {
		u, err := url.Parse(base)
		if err != nil {
			t.Fatalf("GLASSHOUSE_TEST_S3_URL: %v", err)
		}
		q := u.Query()
		q.Set("prefix", strings.TrimSuffix(q.Get("prefix"), "/")+"/glasshouse-test-"+randomName()+"/")
		u.RawQuery = q.Encode()
		s := openT(t, u.String())
		checkNoTemps(t, s)
		return s
	})
}

func TestOpenURLs(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	missing := filepath.Join(dir, "a", "b", "c")
	s := openT(t, "file://"+missing)
	if fi, err := os.Stat(missing); err != nil || !fi.IsDir() {
		t.Fatalf("file:// did not create %s: %v", missing, err)
	}
	if s.Scheme() != "file" {
		t.Errorf("Scheme = %q", s.Scheme())
	}
	ref, _, err := s.Put(ctx, strings.NewReader("via file url"))
	if err != nil {
		t.Fatal(err)
	}
	s.Close()

	// A plain path is the same store.
	s2 := openT(t, missing)
	if n, err := s2.Stat(ctx, ref); err != nil || n != int64(len("via file url")) {
		t.Fatalf("plain path: Stat = %d, %v", n, err)
	}
	s2.Close()
	s3 := openT(t, "file://localhost"+missing)
	if _, err := s3.Stat(ctx, ref); err != nil {
		t.Fatalf("file://localhost: Stat: %v", err)
	}
	s3.Close()

	m := openT(t, "mem://")
	if m.Scheme() != "mem" {
		t.Errorf("mem Scheme = %q", m.Scheme())
	}
	if _, ok := m.LocalPath(ref); ok {
		t.Error("mem:// LocalPath reported ok")
	}
	m.Close()

	afile := filepath.Join(dir, "afile")
	if err := os.WriteFile(afile, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{
		"",
		"   ",
		"file://somehost/data",
		"file://relative/dir",
		"file:///tmp/x?create_dir=1",
		"file://" + afile,
		afile,
		"nosuchscheme://bucket",
		"s3://bucket?no_such_param=1",
	} {
		_, err := Open(ctx, bad, nil)
		if !errors.Is(err, glasshouse.ErrInvalid) {
			t.Errorf("Open(%q) = %v, want ErrInvalid", bad, err)
		}
	}
}

func TestS3URLOpens(t *testing.T) {
	// Opening does not contact the service; this checks the s3 driver is
	// registered and accepts the documented parameters.
	t.Setenv("AWS_ACCESS_KEY_ID", "test")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "test")
	s, err := Open(context.Background(), "s3://bucket?endpoint=http://127.0.0.1:1&region=us-east-1&use_path_style=true", nil, WithTempGrace(time.Hour))
	if err != nil {
		// CleanTemp lists tmp/ on open, which fails without a server: that
		// must be reported as an error of the open, not a panic or a hang.
		if !strings.Contains(err.Error(), "blobstore.Open") {
			t.Fatalf("Open(s3) error does not name the operation: %v", err)
		}
		return
	}
	s.Close()
	t.Fatal("Open(s3) against a closed port succeeded")
}

func TestFileLayout(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	s := openT(t, root)
	defer s.Close()
	data := []byte("layout check")
	ref, n, err := s.Put(ctx, bytes.NewReader(data))
	if err != nil || n != int64(len(data)) {
		t.Fatalf("Put = %d, %v", n, err)
	}
	h := ref.Hex()
	want := filepath.Join(root, "sha256", h[:2], h[2:4], h)
	p, ok := s.LocalPath(ref)
	if !ok || p != want {
		t.Fatalf("LocalPath = %q, %v; want %q", p, ok, want)
	}
	got, err := os.ReadFile(p)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("file at LocalPath: %q, %v", got, err)
	}
	fi, _ := os.Stat(p)
	if fi.Mode().Perm()&0o002 != 0 {
		t.Errorf("blob file is world-writable: %v", fi.Mode())
	}
	// No sidecars, no temporaries; only sha256/ and tmp/ at the top.
	var files []string
	filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			files = append(files, path)
		}
		return err
	})
	if len(files) != 1 || files[0] != want {
		t.Fatalf("files in store = %v, want just %s", files, want)
	}
	if _, ok := s.LocalPath(blobRef("not stored")); ok {
		t.Error("LocalPath of a missing blob reported ok")
	}
}

func blobRef(s string) glasshouse.Ref {
	sum := sha256.Sum256([]byte(s))
	return glasshouse.RefFromSum(sum[:])
}

// TestFileReadsPlainFiles checks that reads go through fileblob without
// .attrs sidecars: a blob file dropped into the layout by hand (as a restore
// from backup would) is served.
func TestFileReadsPlainFiles(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	data := []byte("restored from backup")
	ref := blobRef(string(data))
	h := ref.Hex()
	dir := filepath.Join(root, "sha256", h[:2], h[2:4])
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, h), data, 0o644); err != nil {
		t.Fatal(err)
	}
	s := openT(t, root)
	defer s.Close()
	rc, err := s.Open(ctx, ref, 9, 4)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(rc)
	rc.Close()
	if string(got) != "from" {
		t.Fatalf("range read = %q, want %q", got, "from")
	}
	if err := s.Verify(ctx, ref); err != nil {
		t.Fatalf("Verify: %v", err)
	}
	// Walk sees it; a stray file with a non-ref name is skipped.
	if err := os.WriteFile(filepath.Join(dir, "junk"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	var seen []glasshouse.Ref
	if err := s.Walk(ctx, func(r glasshouse.Ref, size int64) error {
		if size != int64(len(data)) {
			t.Errorf("Walk size = %d", size)
		}
		seen = append(seen, r)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(seen) != 1 || seen[0] != ref {
		t.Fatalf("Walk = %v, want [%s]", seen, ref)
	}
}

func TestVerify(t *testing.T) {
	ctx := context.Background()
	corrupt := map[string]func(t *testing.T, s *Store, ref glasshouse.Ref){
		"file": func(t *testing.T, s *Store, ref glasshouse.Ref) {
			p, ok := s.LocalPath(ref)
			if !ok {
				t.Fatal("no local path")
			}
			f, err := os.OpenFile(p, os.O_WRONLY, 0)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := f.WriteAt([]byte{'X'}, 1000); err != nil { // flip one byte
				t.Fatal(err)
			}
			f.Close()
		},
		"mem": func(t *testing.T, s *Store, ref glasshouse.Ref) {
			if err := s.bucket.WriteAll(ctx, key(ref), []byte("something else"), nil); err != nil {
				t.Fatal(err)
			}
		},
	}
	for name, spoil := range corrupt {
		t.Run(name, func(t *testing.T) {
			u := "mem://"
			if name == "file" {
				u = t.TempDir()
			}
			s := openT(t, u)
			defer s.Close()
			data := blobstoretest.Bytes(5, 100000)
			ref, _, err := s.Put(ctx, bytes.NewReader(data))
			if err != nil {
				t.Fatal(err)
			}
			if err := s.Verify(ctx, ref); err != nil {
				t.Fatalf("Verify of an intact blob: %v", err)
			}
			spoil(t, s, ref)
			err = s.Verify(ctx, ref)
			if !errors.Is(err, glasshouse.ErrCorrupt) {
				t.Fatalf("Verify of a spoiled blob = %v, want ErrCorrupt", err)
			}
			if glasshouse.ErrorCode(err) != "corrupt" {
				t.Errorf("ErrorCode = %q", glasshouse.ErrorCode(err))
			}
			if err := s.Verify(ctx, blobRef("missing")); !errors.Is(err, glasshouse.ErrNotExist) {
				t.Fatalf("Verify of a missing blob = %v, want ErrNotExist", err)
			}
			if err := s.Verify(ctx, "sha256-nope"); !errors.Is(err, glasshouse.ErrInvalid) {
				t.Fatalf("Verify of a bad ref = %v, want ErrInvalid", err)
			}
		})
	}
}

func TestCleanTempFile(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	s := openT(t, root)
	s.Close()
	tmp := filepath.Join(root, "tmp")
	old := filepath.Join(tmp, "put-old")
	fresh := filepath.Join(tmp, "put-fresh")
	for _, p := range []string{old, fresh} {
		if err := os.WriteFile(p, []byte("partial"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	past := time.Now().Add(-2 * time.Hour)
	if err := os.Chtimes(old, past, past); err != nil {
		t.Fatal(err)
	}
	s = openT(t, root) // default grace: 1 hour
	if _, err := os.Stat(old); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("stale temporary survived Open: %v", err)
	}
	if _, err := os.Stat(fresh); err != nil {
		t.Errorf("fresh temporary removed by Open: %v", err)
	}
	n, err := s.CleanTemp(ctx, 0)
	if err != nil || n != 1 {
		t.Errorf("CleanTemp(0) = %d, %v; want 1", n, err)
	}
	s.Close()
	if n := len(mustReadDir(t, tmp)); n != 0 {
		t.Errorf("%d temporaries after CleanTemp(0)", n)
	}
}

func mustReadDir(t *testing.T, dir string) []os.DirEntry {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	return ents
}

func TestCleanTempGeneric(t *testing.T) {
	ctx := context.Background()
	s := openT(t, "mem://")
	defer s.Close()
	if err := s.bucket.WriteAll(ctx, tmpPrefix+"left-over", []byte("partial"), nil); err != nil {
		t.Fatal(err)
	}
	if n, err := s.CleanTemp(ctx, time.Hour); err != nil || n != 0 {
		t.Fatalf("CleanTemp(1h) = %d, %v; want 0 (temporary is fresh)", n, err)
	}
	if n, err := s.CleanTemp(ctx, 0); err != nil || n != 1 {
		t.Fatalf("CleanTemp(0) = %d, %v; want 1", n, err)
	}
	if n := tempCount(t, s); n != 0 {
		t.Fatalf("%d temporaries left", n)
	}
}

// TestPutErrorsNameOperation checks the error text of a cut-off upload.
func TestPutErrorsNameOperation(t *testing.T) {
	for _, u := range []string{t.TempDir(), "mem://"} {
		s := openT(t, u)
		boom := errors.New("client went away")
		_, _, err := s.Put(context.Background(), io.MultiReader(strings.NewReader("abc"), errReader{boom}))
		if !errors.Is(err, boom) || !strings.Contains(err.Error(), "blobstore.Put") || !strings.Contains(err.Error(), "read source") {
			t.Errorf("%s: Put error = %v", u, err)
		}
		if n := tempCount(t, s); n != 0 {
			t.Errorf("%s: %d temporaries left", u, n)
		}
		s.Close()
	}
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

// TestSharedTestdata stores the shared test media, if present, and checks
// each ref against the file's own SHA-256.
func TestSharedTestdata(t *testing.T) {
	dir := filepath.Join("..", "..", "shared", "testdata")
	if _, err := os.Stat(dir); err != nil {
		t.Skip("../shared/testdata not present")
	}
	ctx := context.Background()
	s := openT(t, t.TempDir())
	defer s.Close()
	n := 0
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || n >= 50 {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		ref, size, err := s.Put(ctx, f)
		f.Close()
		if err != nil {
			return err
		}
		if ref != blobRef(string(data)) || size != int64(len(data)) {
			t.Errorf("%s: Put = %s, %d; want %s, %d", p, ref, size, blobRef(string(data)), len(data))
		}
		if err := s.Verify(ctx, ref); err != nil {
			t.Errorf("%s: Verify: %v", p, err)
		}
		n++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("stored and verified %d shared test files", n)
}
