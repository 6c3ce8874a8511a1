// Package blobstore is glasshouse's content-addressed blob store over
// gocloud.dev/blob. Blobs are stored under their SHA-256, which the store
// computes itself while streaming; a blob becomes visible under its final key
// only once it is complete (and, for file://, durable on disk).
//
// Backends are chosen by URL:
//
//	file:///abs/dir          local folder (created if missing); a plain path is shorthand
//	mem://                   in-process memory (tests)
//	s3://bucket?endpoint=http://host:9000&region=us-east-1&use_path_style=true
//	azblob://container       Azure Blob Storage (credentials from the environment)
//	gs://bucket              Google Cloud Storage (credentials from the environment)
//
// Key layout inside the bucket:
//
//	sha256/<hex[0:2]>/<hex[2:4]>/<64 hex>   finished blobs
//	tmp/<random>                            uploads in progress
//
// Temporaries older than a grace period (default 1 hour, see WithTempGrace)
// are removed when the store is opened: they are left-overs of a process that
// crashed mid-upload.
package blobstore

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"gocloud.dev/blob"
	"gocloud.dev/blob/fileblob"
	_ "gocloud.dev/blob/memblob" // mem:// URLs
	"gocloud.dev/gcerrors"

	"github.com/glasshouse/glasshouse"
)

var _ glasshouse.BlobStore = (*Store)(nil)

const (
	blobPrefix = "sha256/"
	tmpPrefix  = "tmp/"

	// DefaultTempGrace is how old a temporary must be before Open removes it.
	DefaultTempGrace = time.Hour

	defaultBufferSize = 1 << 20

	fileMode = 0o640
	dirMode  = 0o750
)

// Option configures Open.
type Option func(*options)

type options struct {
	tempGrace time.Duration
	bufSize   int
}

// WithTempGrace sets how old a temporary upload must be for Open to remove
// it as a crash left-over. Zero removes every temporary: use it only when no
// other process writes to the same store.
func WithTempGrace(d time.Duration) Option {
	return func(o *options) { o.tempGrace = d }
}

// WithBufferSize sets the size of the fixed copy buffer Put uses (default
// 1 MiB). Memory use of Put does not depend on the blob size.
func WithBufferSize(n int) Option {
	return func(o *options) {
		if n > 0 {
			o.bufSize = n
		}
	}
}

// Store is a content-addressed blob store. It is safe for concurrent use.
type Store struct {
	bucket *blob.Bucket
	scheme string
	root   string // absolute directory for file://; empty otherwise
	log    *slog.Logger
	bufs   sync.Pool
	direct *s3Direct // s3:// only: direct upload of local files (s3file.go)
}

// Open opens the store at rawURL (see the package documentation for the
// accepted URLs) and removes stale temporaries. logger may be nil.
func Open(ctx context.Context, rawURL string, logger *slog.Logger, opts ...Option) (*Store, error) {
	const op = "blobstore.Open"
	o := options{tempGrace: DefaultTempGrace, bufSize: defaultBufferSize}
	for _, fn := range opts {
		fn(&o)
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if strings.TrimSpace(rawURL) == "" {
		return nil, glasshouse.Errorf(op, glasshouse.ErrInvalid, "empty blob store URL")
	}
	s := &Store{log: logger.With("component", "blobstore")}
	bufSize := o.bufSize
	s.bufs.New = func() any { b := make([]byte, bufSize); return &b }

	root, isFile, err := fileRoot(rawURL)
	if err != nil {
		return nil, glasshouse.E(op, glasshouse.ErrInvalid, err, "parse blob store URL")
	}
	if isFile {
		if err := prepareRoot(root); err != nil {
			return nil, glasshouse.E(op, kindOf(err), err, "prepare "+root)
		}
		// Metadata is never written: blobs are plain files, and fileblob
		// serves files without .attrs sidecars as application/octet-stream.
		b, err := fileblob.OpenBucket(root, &fileblob.Options{Metadata: fileblob.MetadataDontWrite})
		if err != nil {
			return nil, glasshouse.E(op, kindOf(err), err, "open "+root)
		}
		s.bucket, s.scheme, s.root = b, "file", root
	} else {
		u, err := url.Parse(rawURL)
		if err != nil {
			return nil, glasshouse.E(op, glasshouse.ErrInvalid, err, "parse blob store URL")
		}
		b, err := blob.OpenBucket(ctx, rawURL)
		if err != nil {
			kind := kindOf(err)
			if kind == nil {
				kind = glasshouse.ErrInvalid // unknown scheme, bad query parameters
			}
			return nil, glasshouse.E(op, kind, err, "open "+u.Scheme+" bucket")
		}
		s.bucket, s.scheme = b, u.Scheme
		s.direct = newS3Direct(b, u)
	}

	n, err := s.CleanTemp(ctx, o.tempGrace)
	if err != nil {
		_ = s.bucket.Close()
		return nil, glasshouse.E(op, kindOf(err), err, "remove stale temporaries")
	}
	s.log.Info("blob store opened", "scheme", s.scheme, "root", s.root, "stale_temps_removed", n)
	return s, nil
}

// fileRoot reports whether rawURL names a local directory, and which.
func fileRoot(rawURL string) (string, bool, error) {
	if !strings.Contains(rawURL, "://") {
		abs, err := filepath.Abs(rawURL)
		if err != nil {
			return "", false, err
		}
		return abs, true, nil
	}
	u, err := url.Parse(rawURL)
	if err != nil {
		return "", false, err
	}
	if u.Scheme != "file" {
		return "", false, nil
	}
	if u.Host != "" && u.Host != "localhost" {
		return "", false, fmt.Errorf("file URL %q has a host; want file:///absolute/dir", rawURL)
	}
	if len(u.Query()) > 0 {
		return "", false, fmt.Errorf("file URL %q: query parameters are not supported", rawURL)
	}
	if !filepath.IsAbs(u.Path) {
		return "", false, fmt.Errorf("file URL %q: path must be absolute", rawURL)
	}
	return filepath.Clean(u.Path), true, nil
}

// prepareRoot creates root and its tmp directory and makes them durable.
func prepareRoot(root string) error {
	if fi, err := os.Stat(root); err == nil && !fi.IsDir() {
		return fmt.Errorf("%s is not a directory: %w", root, glasshouse.ErrInvalid)
	}
	if err := os.MkdirAll(filepath.Join(root, "tmp"), dirMode); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Join(root, "sha256"), dirMode); err != nil {
		return err
	}
	if err := syncDir(root); err != nil {
		return err
	}
	return syncDir(filepath.Dir(root))
}

// Scheme returns the backend's URL scheme ("file", "mem", "s3", ...).
func (s *Store) Scheme() string { return s.scheme }

// Close releases the bucket.
func (s *Store) Close() error {
	if err := s.bucket.Close(); err != nil {
		return glasshouse.E("blobstore.Close", nil, err, "")
	}
	return nil
}

// key returns the bucket key for a valid ref.
func key(r glasshouse.Ref) string {
	h := r.Hex()
	return blobPrefix + h[0:2] + "/" + h[2:4] + "/" + h
}

// checkRef validates r for op.
func checkRef(op string, r glasshouse.Ref) error {
	if _, err := glasshouse.ParseRef(string(r)); err != nil {
		return glasshouse.E(op, glasshouse.ErrInvalid, err, "")
	}
	return nil
}

// kindOf maps a backend or filesystem error to a glasshouse error kind.
func kindOf(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return nil // ErrorCode reports these as "canceled" through the cause
	case errors.Is(err, glasshouse.ErrInvalid):
		return glasshouse.ErrInvalid
	case errors.Is(err, os.ErrNotExist):
		return glasshouse.ErrNotExist
	case errors.Is(err, os.ErrPermission):
		return glasshouse.ErrPermission
	}
	// An object store that cannot be reached (refused, reset, timed out)
	// is unavailable, not broken: callers answer 503 and retry later.
	var ne net.Error
	if errors.As(err, &ne) || errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.EPIPE) || errors.Is(err, io.ErrUnexpectedEOF) {
		return glasshouse.ErrUnavailable
	}
	switch gcerrors.Code(err) {
	case gcerrors.NotFound:
		return glasshouse.ErrNotExist
	case gcerrors.PermissionDenied:
		return glasshouse.ErrPermission
	case gcerrors.InvalidArgument:
		return glasshouse.ErrInvalid
	case gcerrors.ResourceExhausted, gcerrors.DeadlineExceeded:
		return glasshouse.ErrUnavailable
	}
	return nil
}

func isNotFound(err error) bool {
	return gcerrors.Code(err) == gcerrors.NotFound || errors.Is(err, os.ErrNotExist)
}

// randomName returns 32 random hex digits for temporary names.
func randomName() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // never fails on supported platforms
	return hex.EncodeToString(b[:])
}

// ctxReader makes reads fail once ctx is done, so that an upload from a
// slow or stuck client stops at the next chunk boundary.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// sourceError marks an error returned by the caller's reader, as opposed to
// one from the store's own writes.
type sourceError struct{ err error }

func (e *sourceError) Error() string { return e.err.Error() }
func (e *sourceError) Unwrap() error { return e.err }

// srcReader tags errors (other than io.EOF) from the source reader.
type srcReader struct{ r io.Reader }

func (s srcReader) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	if err != nil && err != io.EOF {
		err = &sourceError{err}
	}
	return n, err
}

// copyHashed copies r to w through buf while hashing, checking ctx between
// chunks. It returns the digest and the byte count.
func copyHashed(ctx context.Context, w io.Writer, r io.Reader, buf []byte) ([]byte, int64, error) {
	h := sha256.New()
	var dst io.Writer = h
	if w != nil {
		dst = io.MultiWriter(w, h)
	}
	// Neither side implements ReaderFrom/WriterTo, so CopyBuffer really
	// uses buf and memory stays at one buffer whatever the size.
	n, err := io.CopyBuffer(struct{ io.Writer }{dst}, ctxReader{ctx, srcReader{r}}, buf)
	if err != nil {
		return nil, n, err
	}
	return h.Sum(nil), n, nil
}

// putFailure wraps a Put failure, naming whether the source or the store
// failed.
func putFailure(op string, err error) error {
	var se *sourceError
	switch {
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return glasshouse.E(op, nil, err, "upload canceled")
	case errors.As(err, &se):
		return glasshouse.E(op, nil, se.err, "read source")
	}
	return glasshouse.E(op, kindOf(err), err, "write blob")
}

// Put stores the content of r and returns its ref and size. The SHA-256 is
// computed here, while streaming through a fixed buffer; nothing becomes
// visible under the final key unless the whole stream was read and stored.
// When r is a regular local file (*os.File, or a wrapper keeping its ReadAt,
// Seek and Stat) and the store is s3://, the blob is the bytes from the
// file's current offset to its end, hashed in a first pass and then
// uploaded in parallel straight to the final key, each part checked by the
// server against the first pass's SHA-256 (see s3file.go).
// If r fails or ctx is cancelled, the temporary is removed and the error
// wraps the cause. Content already stored is stored once.
func (s *Store) Put(ctx context.Context, r io.Reader) (glasshouse.Ref, int64, error) {
	bp := s.bufs.Get().(*[]byte)
	defer s.bufs.Put(bp)
	if s.root != "" {
		return s.putFile(ctx, r, *bp)
	}
	if s.direct != nil {
		if f, off, size, ok := asFile(r); ok {
			return s.putS3File(ctx, f, off, size, *bp)
		}
	}
	return s.putGeneric(ctx, r, *bp)
}

// putFile is the file:// fast path. It bypasses gocloud's fileblob writer on
// purpose: that writer neither fsyncs the file nor its directory (so a
// "finished" blob can vanish or be truncated after a power loss), and it
// renames its temporary to a key chosen before the first byte, whereas we
// only learn the key (the hash) at the end and must rename the very file we
// hashed. So we write a temporary inside the store root (same filesystem),
// fsync it, rename it into place and fsync the directories we touched.
// Reads still go through fileblob.
func (s *Store) putFile(ctx context.Context, r io.Reader, buf []byte) (_ glasshouse.Ref, _ int64, err error) {
	const op = "blobstore.Put"
	f, err := os.CreateTemp(filepath.Join(s.root, "tmp"), "put-*")
	if err != nil {
		return "", 0, glasshouse.E(op, kindOf(err), err, "create temporary")
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			_ = f.Close()
			if rerr := os.Remove(tmp); rerr != nil && !errors.Is(rerr, os.ErrNotExist) {
				s.log.Warn("remove temporary", "path", tmp, "err", rerr)
			}
		}
	}()
	sum, n, err := copyHashed(ctx, f, r, buf)
	if err != nil {
		return "", 0, putFailure(op, err)
	}
	if err = f.Chmod(fileMode); err != nil {
		return "", 0, glasshouse.E(op, kindOf(err), err, "chmod temporary")
	}
	if err = f.Sync(); err != nil {
		return "", 0, glasshouse.E(op, kindOf(err), err, "fsync temporary")
	}
	if err = f.Close(); err != nil {
		return "", 0, glasshouse.E(op, kindOf(err), err, "close temporary")
	}
	if err = ctx.Err(); err != nil {
		return "", 0, putFailure(op, err)
	}
	ref := glasshouse.RefFromSum(sum)
	final := s.filePath(ref)
	if _, serr := os.Lstat(final); serr == nil {
		// Already stored: keep the existing file, drop ours.
		if rerr := os.Remove(tmp); rerr != nil {
			s.log.Warn("remove duplicate temporary", "path", tmp, "err", rerr)
		}
		s.log.Debug("put duplicate", "ref", ref, "size", n)
		return ref, n, nil
	}
	dirty, err := s.mkdirs(filepath.Dir(final))
	if err != nil {
		return "", 0, glasshouse.E(op, kindOf(err), err, "create blob directory")
	}
	// A concurrent Put of the same content may rename first; rename then
	// replaces identical bytes with identical bytes, which is harmless.
	if err = os.Rename(tmp, final); err != nil {
		return "", 0, glasshouse.E(op, kindOf(err), err, "rename into place")
	}
	for _, d := range append([]string{filepath.Dir(final)}, dirty...) {
		if err = syncDir(d); err != nil {
			return "", 0, glasshouse.E(op, kindOf(err), err, "fsync directory")
		}
	}
	s.log.Debug("put", "ref", ref, "size", n)
	return ref, n, nil
}

// mkdirs creates dir (below s.root) level by level and returns the parents
// of the directories it created, which must be fsynced for the new entries
// to be durable.
func (s *Store) mkdirs(dir string) ([]string, error) {
	if fi, err := os.Stat(dir); err == nil && fi.IsDir() {
		return nil, nil
	}
	rel, err := filepath.Rel(s.root, dir)
	if err != nil {
		return nil, err
	}
	var dirty []string
	cur := s.root
	for _, part := range strings.Split(rel, string(filepath.Separator)) {
		next := filepath.Join(cur, part)
		err := os.Mkdir(next, dirMode)
		switch {
		case err == nil:
			dirty = append(dirty, cur)
		case errors.Is(err, os.ErrExist):
		default:
			return nil, err
		}
		cur = next
	}
	return dirty, nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("fsync %s: %w", dir, err)
	}
	return nil
}

// putGeneric writes through the bucket's writer to tmp/<random> while
// hashing, then copies the temporary to its final key (unless that exists)
// and deletes it. Copy is atomic on S3, GCS, Azure and memblob, so readers
// never see a partial blob under its final key.
func (s *Store) putGeneric(ctx context.Context, r io.Reader, buf []byte) (_ glasshouse.Ref, _ int64, err error) {
	const op = "blobstore.Put"
	tmp := tmpPrefix + randomName()
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	w, err := s.bucket.NewWriter(wctx, tmp, s.writerOptions())
	if err != nil {
		return "", 0, glasshouse.E(op, kindOf(err), err, "create temporary")
	}
	sum, n, err := copyHashed(ctx, w, r, buf)
	if err != nil {
		// Cancelling the writer's context before Close aborts the upload:
		// the temporary is never created.
		cancel()
		_ = w.Close()
		s.removeTemp(ctx, tmp)
		return "", 0, putFailure(op, err)
	}
	if err := w.Close(); err != nil {
		s.removeTemp(ctx, tmp)
		return "", 0, putFailure(op, err)
	}
	defer s.removeTemp(ctx, tmp)
	if err := ctx.Err(); err != nil {
		return "", 0, putFailure(op, err)
	}
	ref := glasshouse.RefFromSum(sum)
	final := key(ref)
	ok, err := s.bucket.Exists(ctx, final)
	if err != nil {
		return "", 0, glasshouse.E(op, kindOf(err), err, "check for existing blob")
	}
	if ok {
		s.log.Debug("put duplicate", "ref", ref, "size", n)
		return ref, n, nil
	}
	if err := s.bucket.Copy(ctx, final, tmp, nil); err != nil {
		if ctx.Err() != nil {
			return "", 0, putFailure(op, err)
		}
		// Server-side copy has limits (S3 CopyObject: 5 GiB). Fall back to
		// streaming the temporary into place, re-checking the hash.
		s.log.Info("server-side copy failed, streaming instead", "ref", ref, "size", n, "err", err)
		if err := s.streamCopy(ctx, final, tmp, sum, buf); err != nil {
			return "", 0, err
		}
	}
	s.log.Debug("put", "ref", ref, "size", n)
	return ref, n, nil
}

// streamCopy copies the temporary src to dst through this process, and
// aborts (leaving dst absent) unless the bytes hash to want.
func (s *Store) streamCopy(ctx context.Context, dst, src string, want []byte, buf []byte) error {
	const op = "blobstore.Put"
	rd, err := s.bucket.NewReader(ctx, src, nil)
	if err != nil {
		return glasshouse.E(op, kindOf(err), err, "reopen temporary")
	}
	defer rd.Close()
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	w, err := s.bucket.NewWriter(wctx, dst, s.writerOptions())
	if err != nil {
		return glasshouse.E(op, kindOf(err), err, "create blob")
	}
	sum, _, err := copyHashed(ctx, w, rd, buf)
	if err == nil && !bytes.Equal(sum, want) {
		err = glasshouse.Errorf(op, glasshouse.ErrCorrupt, "temporary changed while copying into place")
	}
	if err != nil {
		cancel()
		_ = w.Close()
		var se *sourceError
		if errors.As(err, &se) {
			err = se.err
		}
		return glasshouse.E(op, kindOf(err), err, "copy into place")
	}
	if err := w.Close(); err != nil {
		return glasshouse.E(op, kindOf(err), err, "copy into place")
	}
	return nil
}

// removeTemp deletes a temporary key, even when ctx is already cancelled.
func (s *Store) removeTemp(ctx context.Context, tmp string) {
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
	defer cancel()
	if err := s.bucket.Delete(dctx, tmp); err != nil && !isNotFound(err) {
		s.log.Warn("remove temporary", "key", tmp, "err", err)
	}
}

// CleanTemp removes temporaries last modified more than grace ago and
// returns how many it removed. Open calls it; long-running servers may call
// it periodically. In-progress uploads keep their temporary's modification
// time fresh (file://) or have no temporary object yet (object stores, whose
// unfinished multipart uploads need a bucket lifecycle rule).
func (s *Store) CleanTemp(ctx context.Context, grace time.Duration) (int, error) {
	const op = "blobstore.CleanTemp"
	cutoff := time.Now().Add(-grace)
	n := 0
	if s.root != "" {
		dir := filepath.Join(s.root, "tmp")
		ents, err := os.ReadDir(dir)
		if err != nil {
			return 0, glasshouse.E(op, kindOf(err), err, "list "+dir)
		}
		for _, e := range ents {
			fi, err := e.Info()
			if err != nil {
				continue // removed meanwhile
			}
			if fi.ModTime().After(cutoff) {
				continue
			}
			p := filepath.Join(dir, e.Name())
			if err := os.RemoveAll(p); err != nil {
				return n, glasshouse.E(op, kindOf(err), err, "remove "+p)
			}
			s.log.Info("removed stale temporary", "path", p, "size", fi.Size(), "modified", fi.ModTime())
			n++
		}
		return n, nil
	}
	it := s.bucket.List(&blob.ListOptions{Prefix: tmpPrefix})
	for {
		obj, err := it.Next(ctx)
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return n, glasshouse.E(op, kindOf(err), err, "list temporaries")
		}
		if obj.IsDir || obj.ModTime.After(cutoff) {
			continue
		}
		if err := s.bucket.Delete(ctx, obj.Key); err != nil && !isNotFound(err) {
			return n, glasshouse.E(op, kindOf(err), err, "remove "+obj.Key)
		}
		s.log.Info("removed stale temporary", "key", obj.Key, "size", obj.Size, "modified", obj.ModTime)
		n++
	}
}

// Open returns a reader for the byte range [off, off+length) of the blob;
// length < 0 reads to the end. A range reaching past the end is cut at the
// end, and an offset at or past the end gives an empty reader (not an
// error). A negative offset or a malformed ref is ErrInvalid; a missing blob
// is ErrNotExist.
func (s *Store) Open(ctx context.Context, ref glasshouse.Ref, off, length int64) (io.ReadCloser, error) {
	const op = "blobstore.Open"
	if err := checkRef(op, ref); err != nil {
		return nil, err
	}
	if off < 0 {
		return nil, glasshouse.Errorf(op, glasshouse.ErrInvalid, "negative offset %d", off)
	}
	rd, err := s.bucket.NewRangeReader(ctx, key(ref), off, length, nil)
	if err == nil {
		return rd, nil
	}
	if isNotFound(err) {
		return nil, glasshouse.E(op, glasshouse.ErrNotExist, err, "blob "+string(ref))
	}
	if off > 0 {
		// Object stores reject ranges that start past the end (HTTP 416);
		// give the same empty reader as file:// and mem:// do.
		if size, serr := s.Stat(ctx, ref); serr == nil && off >= size {
			return io.NopCloser(strings.NewReader("")), nil
		}
	}
	return nil, glasshouse.E(op, kindOf(err), err, "open blob "+string(ref))
}

// Stat returns the size of the blob.
func (s *Store) Stat(ctx context.Context, ref glasshouse.Ref) (int64, error) {
	const op = "blobstore.Stat"
	if err := checkRef(op, ref); err != nil {
		return 0, err
	}
	a, err := s.bucket.Attributes(ctx, key(ref))
	if err != nil {
		if isNotFound(err) {
			return 0, glasshouse.E(op, glasshouse.ErrNotExist, err, "blob "+string(ref))
		}
		return 0, glasshouse.E(op, kindOf(err), err, "stat blob "+string(ref))
	}
	return a.Size, nil
}

// Delete removes the blob. It is not silent about missing blobs: deleting a
// blob that is not stored (or was already deleted) returns an
// ErrNotExist-kinded error, so callers that only want it gone should treat
// errors.Is(err, glasshouse.ErrNotExist) as success.
func (s *Store) Delete(ctx context.Context, ref glasshouse.Ref) error {
	const op = "blobstore.Delete"
	if err := checkRef(op, ref); err != nil {
		return err
	}
	if err := s.bucket.Delete(ctx, key(ref)); err != nil {
		if isNotFound(err) {
			return glasshouse.E(op, glasshouse.ErrNotExist, err, "blob "+string(ref))
		}
		return glasshouse.E(op, kindOf(err), err, "delete blob "+string(ref))
	}
	if s.root != "" {
		if err := syncDir(filepath.Dir(s.filePath(ref))); err != nil {
			return glasshouse.E(op, kindOf(err), err, "")
		}
	}
	s.log.Debug("deleted", "ref", ref)
	return nil
}

// filePath is where a file:// store keeps ref.
func (s *Store) filePath(ref glasshouse.Ref) string {
	h := ref.Hex()
	return filepath.Join(s.root, "sha256", h[0:2], h[2:4], h)
}

// LocalPath returns the file holding the blob for file:// stores. ok is
// false for other backends, malformed refs and blobs that are not stored.
// The file must be treated as read-only.
func (s *Store) LocalPath(ref glasshouse.Ref) (string, bool) {
	if s.root == "" || !ref.Valid() {
		return "", false
	}
	p := s.filePath(ref)
	fi, err := os.Stat(p)
	if err != nil || !fi.Mode().IsRegular() {
		return "", false
	}
	return p, true
}

// Verify re-reads the stored blob and checks that its content still hashes
// to ref. A mismatch is ErrCorrupt; a missing blob ErrNotExist.
func (s *Store) Verify(ctx context.Context, ref glasshouse.Ref) error {
	const op = "blobstore.Verify"
	if err := checkRef(op, ref); err != nil {
		return err
	}
	rd, err := s.bucket.NewReader(ctx, key(ref), nil)
	if err != nil {
		if isNotFound(err) {
			return glasshouse.E(op, glasshouse.ErrNotExist, err, "blob "+string(ref))
		}
		return glasshouse.E(op, kindOf(err), err, "open blob "+string(ref))
	}
	defer rd.Close()
	bp := s.bufs.Get().(*[]byte)
	defer s.bufs.Put(bp)
	sum, n, err := copyHashed(ctx, nil, rd, *bp)
	if err != nil {
		var se *sourceError
		if errors.As(err, &se) {
			err = se.err
		}
		return glasshouse.E(op, kindOf(err), err, "read blob "+string(ref))
	}
	if got := glasshouse.RefFromSum(sum); got != ref {
		return glasshouse.Errorf(op, glasshouse.ErrCorrupt, "blob %s (%d bytes) hashes to %s", ref, n, got)
	}
	return nil
}

// Walk calls fn for every stored blob, in key order, with its ref and size.
// Keys under sha256/ that are not well-formed refs are skipped. An error
// from fn stops the walk and is returned as is.
func (s *Store) Walk(ctx context.Context, fn func(ref glasshouse.Ref, size int64) error) error {
	const op = "blobstore.Walk"
	it := s.bucket.List(&blob.ListOptions{Prefix: blobPrefix})
	for {
		obj, err := it.Next(ctx)
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return glasshouse.E(op, kindOf(err), err, "list blobs")
		}
		name := obj.Key[strings.LastIndexByte(obj.Key, '/')+1:]
		ref := glasshouse.Ref(glasshouse.RefPrefix + name)
		if obj.IsDir || !ref.Valid() || obj.Key != key(ref) {
			continue
		}
		if err := fn(ref, obj.Size); err != nil {
			return err
		}
	}
}

// Multipart upload shape for streams to object stores (uploads whose size
// is not known up front): parts of UploadPartSize, at most UploadConcurrency
// in flight, so a Put holds about (UploadConcurrency+1) × UploadPartSize in
// memory whatever the stream's length. S3 allows 10,000 parts, so a
// streamed object can be up to 48 GiB at this part size (a known limit).
// Local files on s3:// (the CLI's ingest) take the direct path of
// s3file.go instead: part size chosen from the file size (PartSize), parts
// read from the file rather than buffered, FileUploadConcurrency in flight.
const (
	UploadPartSize    = 5 << 20
	UploadConcurrency = 1
)

func (s *Store) writerOptions() *blob.WriterOptions {
	return &blob.WriterOptions{ContentType: "application/octet-stream", BufferSize: UploadPartSize, MaxConcurrency: UploadConcurrency}
}

// SignedURL returns a time-limited HTTP(S) URL from which the blob can be
// read with range requests (S3, GCS and Azure presigned URLs), so that
// ffmpeg can seek in a video without a local copy. Stores that cannot sign
// (file://, mem://) give ErrUnsupported.
func (s *Store) SignedURL(ctx context.Context, ref glasshouse.Ref, expiry time.Duration) (string, error) {
	const op = "blobstore.SignedURL"
	if err := checkRef(op, ref); err != nil {
		return "", err
	}
	switch s.scheme {
	case "file", "mem", "":
		return "", glasshouse.Errorf(op, glasshouse.ErrUnsupported, "%s:// blobs have no URL", s.scheme)
	}
	u, err := s.bucket.SignedURL(ctx, key(ref), &blob.SignedURLOptions{Expiry: expiry, Method: "GET"})
	if err != nil {
		return "", glasshouse.E(op, glasshouse.ErrUnsupported, err, "sign URL")
	}
	return u, nil
}
