package blobstore

import (
	"context"
	"crypto/sha256"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/glasshouse/glasshouse/blobstore/blobstoretest"
	"github.com/glasshouse/glasshouse/internal/s3test"
)

const benchSize = 256 << 20

// benchSource writes the 256 MB source file into a temporary directory on
// the same filesystem as the stores; both benchmarks then read it from the
// page cache.
func benchSource(b *testing.B) string {
	b.Helper()
	p := filepath.Join(b.TempDir(), "src")
	f, err := os.Create(p)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := io.Copy(f, blobstoretest.NewReader(99, benchSize)); err != nil {
		b.Fatal(err)
	}
	if err := f.Close(); err != nil {
		b.Fatal(err)
	}
	return p
}

// BenchmarkPutFile measures a file:// Put of a 256 MB file: read, SHA-256,
// write, fsync, rename, fsync directory.
func BenchmarkPutFile(b *testing.B) {
	src := benchSource(b)
	ctx := context.Background()
	s, err := Open(ctx, b.TempDir(), nil)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	b.SetBytes(benchSize)
	b.ResetTimer()
	for range b.N {
		f, err := os.Open(src)
		if err != nil {
			b.Fatal(err)
		}
		ref, _, err := s.Put(ctx, f)
		f.Close()
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		if err := s.Delete(ctx, ref); err != nil { // so the next Put is not a duplicate
			b.Fatal(err)
		}
		b.StartTimer()
	}
}

// BenchmarkBaselineCopySha256 is the equivalent of `cp` + `sync` +
// `sha256sum` on the same file: io.Copy into a new file (copy_file_range on
// Linux), fsync, then hash the copy.
func BenchmarkBaselineCopySha256(b *testing.B) {
	src := benchSource(b)
	dir := b.TempDir()
	b.SetBytes(benchSize)
	b.ResetTimer()
	for range b.N {
		dst := filepath.Join(dir, "copy")
		in, err := os.Open(src)
		if err != nil {
			b.Fatal(err)
		}
		out, err := os.Create(dst)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := io.Copy(out, in); err != nil {
			b.Fatal(err)
		}
		in.Close()
		if err := out.Sync(); err != nil {
			b.Fatal(err)
		}
		if err := out.Close(); err != nil {
			b.Fatal(err)
		}
		f, err := os.Open(dst)
		if err != nil {
			b.Fatal(err)
		}
		h := sha256.New()
		if _, err := io.Copy(h, f); err != nil {
			b.Fatal(err)
		}
		f.Close()
		_ = h.Sum(nil)
		b.StopTimer()
		os.Remove(dst)
		b.StartTimer()
	}
}

// BenchmarkPutS3 measures a 256 MB Put into S3 (versitygw on loopback):
// "file" from an *os.File (hash pass, then parallel multipart straight to
// the content address), "stream" from a plain reader over the same file
// (multipart to a temporary, then server-side copy into place).
func BenchmarkPutS3(b *testing.B) {
	src := benchSource(b)
	ctx := context.Background()
	for _, mode := range []string{"file", "stream"} {
		b.Run(mode, func(b *testing.B) {
			s, err := Open(ctx, s3test.NewBucketURL(b), nil)
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			b.SetBytes(benchSize)
			b.ResetTimer()
			for range b.N {
				f, err := os.Open(src)
				if err != nil {
					b.Fatal(err)
				}
				var r io.Reader = f
				if mode == "stream" {
					r = struct{ io.Reader }{f}
				}
				ref, _, err := s.Put(ctx, r)
				f.Close()
				if err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				if err := s.Delete(ctx, ref); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
			}
		})
	}
}
