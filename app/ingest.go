package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/glasshouse/glasshouse"
	"github.com/glasshouse/glasshouse/media"
	"github.com/glasshouse/glasshouse/names"
)

// SanitizeName turns a client-supplied file name into a safe display name
// (see names.Sanitize).
func SanitizeName(name string) (string, error) { return names.Sanitize(name) }

// ValidCollection checks a collection name (see names.ValidCollection).
func ValidCollection(c string) error { return names.ValidCollection(c) }

// Ingest stores body as a new asset of the actor's tenant. It returns after
// the blob is durable and the asset row, its jobs and the audit event are
// committed. Content already stored in the same collection is not stored
// again: the existing asset is returned with duplicate = true.
func (a *App) Ingest(ctx context.Context, actor glasshouse.Actor, name, collection string, body io.Reader) (*glasshouse.Asset, bool, error) {
	const op = "ingest"
	clean, err := SanitizeName(name)
	if err != nil {
		return nil, false, err
	}
	if err := ValidCollection(collection); err != nil {
		return nil, false, err
	}
	if a.cfg.MaxUploadBytes > 0 {
		lr := &limitReader{r: body, left: a.cfg.MaxUploadBytes, max: a.cfg.MaxUploadBytes}
		f, isFile := body.(localFile)
		body = lr
		if isFile {
			// Keep ReadAt, Seek and Stat (a tus upload is a local file) so
			// that an S3 store can upload it in parallel from the file;
			// it reads the content through Read, where the limit applies,
			// and reads at offsets only within what Read returned.
			body = limitedFile{lr, f}
		}
	}
	ref, size, err := a.blobs.Put(ctx, body)
	if err != nil {
		return nil, false, fmt.Errorf("%s %q: store: %w", op, clean, err)
	}
	a.hold(ref)
	defer a.release(ctx, ref)

	if size == 0 {
		return nil, false, glasshouse.Errorf(op, glasshouse.ErrInvalid, "%q is empty (0 bytes)", clean)
	}
	head, err := a.readHead(ctx, ref)
	if err != nil {
		return nil, false, fmt.Errorf("%s %q: %w", op, clean, err)
	}
	mime, kind, err := media.Sniff(head)
	if err != nil {
		return nil, false, fmt.Errorf("%s %q: %w", op, clean, err)
	}
	if err := media.CheckTypeAllowed(mime, a.cfg.AllowedTypes); err != nil {
		return nil, false, fmt.Errorf("%s %q: %w", op, clean, err)
	}
	if err := media.PreflightHeader(head, mime, a.cfg.Preflight); err != nil {
		return nil, false, fmt.Errorf("%s %q: %w", op, clean, err)
	}
	// Probe, decode check, thumbnail and poster read the stored blob: its
	// own file on file://; for audio and video on an object store, a
	// presigned URL from which ffprobe/ffmpeg fetch only the ranges they
	// read (the head and the tail), not a whole local copy.
	path, cleanup, err := a.mediaPath(ctx, &glasshouse.Asset{Hash: ref, Kind: kind})
	if err != nil {
		return nil, false, fmt.Errorf("%s %q: %w", op, clean, err)
	}
	defer cleanup()
	pi, err := media.Probe(ctx, a.cfg.Limits, path)
	if err != nil {
		return nil, false, fmt.Errorf("%s %q: %w", op, clean, err)
	}
	// Sizes, duration and streams from the headers, before any decoding.
	if err := media.Preflight(pi, kind, a.cfg.Preflight); err != nil {
		return nil, false, fmt.Errorf("%s %q: %w", op, clean, err)
	}
	if err := media.Validate(ctx, a.cfg.Limits, path, kind, pi); err != nil {
		return nil, false, fmt.Errorf("%s %q: %w", op, clean, err)
	}

	// Same content in the same collection: keep one asset.
	existing, err := a.db.FindAssetsByHash(ctx, actor.Tenant, ref)
	if err != nil {
		return nil, false, fmt.Errorf("%s %q: %w", op, clean, err)
	}
	for _, e := range existing {
		if e.Collection == collection {
			_, err := a.db.Append(ctx, glasshouse.NewEvent(actor, "upload", string(e.ID), map[string]any{"name": clean, "hash": ref, "size": size, "duplicate": true}))
			if err != nil {
				return nil, false, fmt.Errorf("%s %q: audit: %w", op, clean, err)
			}
			return e, true, nil
		}
	}

	asset := &glasshouse.Asset{
		ID:         glasshouse.AssetID(newID()),
		Tenant:     actor.Tenant,
		Collection: collection,
		Name:       clean,
		MediaType:  mime,
		Kind:       kind,
		Size:       size,
		Hash:       ref,
		Probe:      pi,
		Created:    time.Now().UTC(),
	}
	// Thumbnail and poster: a failure here is logged, not fatal.
	if b, err := media.Thumbnail(ctx, a.cfg.Limits, path, kind, pi, 320); err == nil {
		if r, _, err := a.blobs.Put(ctx, strings.NewReader(string(b))); err == nil {
			asset.Thumb = r
		}
	} else {
		a.log.Warn("thumbnail failed", "name", clean, "err", err)
	}
	if b, err := media.Poster(ctx, a.cfg.Limits, path, kind, pi); err == nil {
		if r, _, err := a.blobs.Put(ctx, strings.NewReader(string(b))); err == nil {
			asset.Poster = r
		}
	} else {
		a.log.Warn("poster failed", "name", clean, "err", err)
	}

	policy, err := a.db.Policy(ctx, actor.Tenant)
	if err != nil {
		return nil, false, fmt.Errorf("%s %q: policy: %w", op, clean, err)
	}
	var jobs []glasshouse.Job
	var skipped []glasshouse.Analyzer
	for _, an := range a.cfg.Analyzers {
		if !an.Accepts(kind) {
			continue
		}
		if !policy.AllowsAnalyzer(an.Name()) {
			skipped = append(skipped, an)
			continue
		}
		jobs = append(jobs, glasshouse.Job{Tenant: actor.Tenant, Asset: asset.ID, Kind: an.Name(), Version: an.Version(), MaxAttempts: a.cfg.MaxAttempts})
	}
	ev := glasshouse.NewEvent(actor, "upload", string(asset.ID), map[string]any{
		"name": clean, "hash": ref, "size": size, "media_type": mime, "collection": collection,
	})
	if err := a.db.CreateAsset(ctx, asset, jobs, ev); err != nil {
		// Nothing references the thumbnail and poster made above: drop them.
		for _, r := range []glasshouse.Ref{asset.Thumb, asset.Poster} {
			if r != "" {
				a.hold(r)
				a.release(ctx, r)
			}
		}
		return nil, false, fmt.Errorf("%s %q: catalog: %w", op, clean, err)
	}
	for _, an := range skipped {
		run := skippedRun(an, policy)
		if err := a.db.RecordRun(ctx, actor.Tenant, asset.ID, run); err != nil {
			a.log.Warn("record skipped analyzer", "asset", asset.ID, "analyzer", an.Name(), "err", err)
		}
	}
	if err := a.indexNameAndNote(ctx, asset); err != nil {
		a.log.Warn("index name failed", "asset", asset.ID, "err", err)
	}
	return asset, false, nil
}

func newID() string {
	id, err := uuid.NewV7()
	if err != nil {
		return uuid.NewString()
	}
	return id.String()
}

func (a *App) readHead(ctx context.Context, ref glasshouse.Ref) ([]byte, error) {
	rc, err := a.blobs.Open(ctx, ref, 0, 8192)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return io.ReadAll(rc)
}

// localPath returns a local file holding the blob: the store's own file for
// file://, else a temporary copy (removed by cleanup).
// signer is a blob store that can hand out time-limited HTTP(S) URLs
// (blobstore.Store on S3, GCS and Azure).
type signer interface {
	SignedURL(ctx context.Context, ref glasshouse.Ref, expiry time.Duration) (string, error)
}

// SignedURLExpiry bounds how long an analyzer's media URL stays valid.
const SignedURLExpiry = 12 * time.Hour

// mediaPath is what analyzers get as Input.Path: the blob's own file on a
// file:// store; for audio and video on an object store, a presigned URL
// that ffmpeg and ffprobe read with HTTP range requests (seeking fetches
// only the ranges they need, so no whole local copy of a video is made);
// otherwise (images, which analyzers decode in Go, or a store that cannot
// sign) a temporary local copy.
func (a *App) mediaPath(ctx context.Context, as *glasshouse.Asset) (string, func(), error) {
	if p, ok := a.blobs.LocalPath(as.Hash); ok {
		return p, func() {}, nil
	}
	if s, ok := a.blobs.(signer); ok && (as.Kind == glasshouse.KindVideo || as.Kind == glasshouse.KindAudio) {
		u, err := s.SignedURL(ctx, as.Hash, SignedURLExpiry)
		if err == nil {
			return u, func() {}, nil
		}
		a.log.Debug("no signed URL; copying the media locally", "asset", as.ID, "err", err)
	}
	return a.localPath(ctx, as.Hash)
}

func (a *App) localPath(ctx context.Context, ref glasshouse.Ref) (string, func(), error) {
	if p, ok := a.blobs.LocalPath(ref); ok {
		return p, func() {}, nil
	}
	f, err := os.CreateTemp("", "glasshouse-media-*")
	if err != nil {
		return "", nil, fmt.Errorf("local copy: %w", err)
	}
	rm := func() { f.Close(); os.Remove(f.Name()) }
	rc, err := a.blobs.Open(ctx, ref, 0, -1)
	if err != nil {
		rm()
		return "", nil, err
	}
	defer rc.Close()
	if _, err := io.Copy(f, rc); err != nil {
		rm()
		return "", nil, fmt.Errorf("local copy: %w", err)
	}
	if err := f.Close(); err != nil {
		rm()
		return "", nil, fmt.Errorf("local copy: %w", err)
	}
	return f.Name(), func() { os.Remove(f.Name()) }, nil
}

// hold marks ref as being ingested so that a concurrent rejected upload of
// the same content does not delete it.
func (a *App) hold(ref glasshouse.Ref) {
	a.mu.Lock()
	a.pending[ref]++
	a.mu.Unlock()
}

// release drops the hold and deletes the blob if nothing references it
// (a rejected upload leaves nothing behind).
func (a *App) release(ctx context.Context, ref glasshouse.Ref) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.pending[ref]--
	if a.pending[ref] > 0 {
		return
	}
	delete(a.pending, ref)
	used, err := a.db.BlobInUse(context.WithoutCancel(ctx), ref)
	if err != nil || used {
		return
	}
	if err := a.blobs.Delete(context.WithoutCancel(ctx), ref); err != nil && !errors.Is(err, glasshouse.ErrNotExist) {
		a.log.Warn("delete unreferenced blob", "ref", ref, "err", err)
	}
}

type limitReader struct {
	r         io.Reader
	left, max int64
}

func (l *limitReader) Read(p []byte) (int, error) {
	if l.left < 0 {
		return 0, glasshouse.Errorf("ingest", glasshouse.ErrTooLarge, "upload exceeds the limit of %d bytes", l.max)
	}
	if l.left == 0 {
		// Exactly at the limit: only the end of the body is acceptable.
		var one [1]byte
		n, err := l.r.Read(one[:])
		switch {
		case n > 0:
			l.left = -1
			return 0, glasshouse.Errorf("ingest", glasshouse.ErrTooLarge, "upload exceeds the limit of %d bytes", l.max)
		case err != nil:
			return 0, err
		}
		return 0, nil
	}
	if int64(len(p)) > l.left {
		p = p[:l.left+1] // read one byte past to detect overflow
	}
	n, err := l.r.Read(p)
	l.left -= int64(n)
	if l.left < 0 {
		return 0, glasshouse.Errorf("ingest", glasshouse.ErrTooLarge, "upload exceeds the limit of %d bytes", l.max)
	}
	return n, err
}

// localFile is a local file open for reading (see blobstore.Store.Put).
type localFile interface {
	io.Reader
	io.ReaderAt
	io.Seeker
	Stat() (os.FileInfo, error)
}

// limitedFile reads through the upload limit and keeps the file's other
// methods.
type limitedFile struct {
	*limitReader
	f localFile
}

func (l limitedFile) ReadAt(p []byte, off int64) (int, error)   { return l.f.ReadAt(p, off) }
func (l limitedFile) Seek(off int64, whence int) (int64, error) { return l.f.Seek(off, whence) }
func (l limitedFile) Stat() (os.FileInfo, error)                { return l.f.Stat() }
