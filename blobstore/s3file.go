package blobstore

// Direct S3 upload of local files.
//
// A Put from a stream cannot know its key (the SHA-256) before the last
// byte, so it uploads to tmp/<random> and then copies the temporary into
// place: the bytes cross the wire once and are copied once more by the
// server (S3 CopyObject, limited to 5 GiB; beyond that this process streams
// them back and forth). A Put from a regular local file (*os.File, what the
// CLI ingests) can read its source twice instead, which is cheap: a first
// sequential pass hashes the file (SHA-256 of the whole, which names the
// blob, and SHA-256 of each part), then the parts go straight to the final
// key as a multipart upload, several at a time, each part's body read from
// the file at its offset (io.SectionReader: no part buffers, so memory does
// not depend on the part size). Each part is signed with the SHA-256 the
// first pass computed (SigV4 x-amz-content-sha256) and the server rejects a
// part whose bytes do not match it, so the object completed under
// sha256/<hex> holds exactly the bytes that hashed to <hex>, even if the
// file changes in between (the Put then fails and the upload is aborted).
// Nothing is visible under the final key before CompleteMultipartUpload.

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"net/url"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/middleware"

	"github.com/glasshouse/glasshouse"
)

const (
	// MinFilePartSize is the smallest part of a direct file upload; larger
	// files get larger parts so that they fit in S3's 10,000 parts.
	MinFilePartSize = 16 << 20
	// FileUploadConcurrency is how many parts of one file upload are in
	// flight at once. Parts are read from the file, not buffered, so this
	// does not multiply memory by the part size.
	FileUploadConcurrency = 4

	maxParts    = 10000
	maxPartSize = 5 << 30 // S3 limit; with 10,000 parts, about 48.8 TiB
)

// s3Direct is what the direct file upload needs: the bucket's S3 client,
// the bucket name and the key prefix of the URL's prefix= parameter.
type s3Direct struct {
	client *s3.Client
	bucket string
	prefix string
}

// newS3Direct returns the direct-upload settings for an s3:// store, or nil
// when the bucket is not plain S3 or its keys would need escaping.
func newS3Direct(b interface{ As(any) bool }, u *url.URL) *s3Direct {
	if u.Scheme != "s3" {
		return nil
	}
	q := u.Query()
	if q.Get("key") != "" {
		return nil
	}
	var cl *s3.Client
	if !b.As(&cl) || cl == nil {
		return nil
	}
	prefix := q.Get("prefix")
	for _, c := range prefix {
		// Keys the s3blob driver would escape (control characters, "../")
		// stay on the generic path, which escapes them the same way.
		if c < 32 || c == '\\' {
			return nil
		}
	}
	for i := 0; i+3 <= len(prefix); i++ {
		if prefix[i:i+3] == "../" {
			return nil
		}
	}
	return &s3Direct{client: cl, bucket: u.Host, prefix: prefix}
}

// fileSource is a regular local file open for reading (*os.File, or a
// wrapper that keeps its methods).
type fileSource interface {
	io.Reader
	io.ReaderAt
	io.Seeker
	Stat() (fs.FileInfo, error)
}

// asFile reports whether r is a regular file, with the offset Put starts
// reading at and the bytes left after it.
func asFile(r io.Reader) (f fileSource, off, size int64, ok bool) {
	f, ok = r.(fileSource)
	if !ok {
		return nil, 0, 0, false
	}
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() {
		return nil, 0, 0, false
	}
	off, err = f.Seek(0, io.SeekCurrent)
	if err != nil || off > fi.Size() {
		return nil, 0, 0, false
	}
	return f, off, fi.Size() - off, true
}

// PartSize returns the part size of a direct upload of size bytes: at least
// MinFilePartSize, a whole number of MiB, and large enough for size to fit
// in 10,000 parts. ok is false past S3's limit (5 GiB parts).
func PartSize(size int64) (part int64, ok bool) {
	part = MinFilePartSize
	if need := (size + maxParts - 1) / maxParts; need > part {
		part = (need + (1<<20 - 1)) &^ (1<<20 - 1)
	}
	return part, part <= maxPartSize
}

// partHasher hashes consecutive parts of partSize bytes.
type partHasher struct {
	partSize int64
	cur      hash.Hash
	n        int64
	sums     []string // hex SHA-256 of each finished part
}

func (p *partHasher) Write(b []byte) (int, error) {
	total := len(b)
	for len(b) > 0 {
		k := int(min(int64(len(b)), p.partSize-p.n))
		p.cur.Write(b[:k])
		p.n += int64(k)
		b = b[k:]
		if p.n == p.partSize {
			p.sums = append(p.sums, hex.EncodeToString(p.cur.Sum(nil)))
			p.cur.Reset()
			p.n = 0
		}
	}
	return total, nil
}

// finish closes the last, short part (or the only, empty one).
func (p *partHasher) finish() {
	if p.n > 0 || len(p.sums) == 0 {
		p.sums = append(p.sums, hex.EncodeToString(p.cur.Sum(nil)))
		p.n = 0
	}
}

// presetPayloadHash makes the SigV4 signer use a SHA-256 computed before the
// request instead of reading the body to compute it (the server still
// checks the body against it). It also turns off the SDK's own request
// checksums (CRC32 by default), which would be another pass over the body.
func presetPayloadHash(sum string) func(*s3.Options) {
	return func(o *s3.Options) {
		o.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
		o.APIOptions = append(o.APIOptions, func(st *middleware.Stack) error {
			return st.Finalize.Insert(middleware.FinalizeMiddlewareFunc("GlasshousePresetPayloadHash",
				func(ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler) (middleware.FinalizeOutput, middleware.Metadata, error) {
					return next.HandleFinalize(v4.SetPayloadHash(ctx, sum), in)
				}), "ComputePayloadHash", middleware.Before)
		})
	}
}

// putS3File stores a regular file straight under its final key (see the
// comment at the top of this file).
func (s *Store) putS3File(ctx context.Context, f fileSource, off, size int64, buf []byte) (glasshouse.Ref, int64, error) {
	const op = "blobstore.Put"
	partSize, ok := PartSize(size)
	if !ok {
		return "", 0, glasshouse.Errorf(op, glasshouse.ErrTooLarge, "%d bytes is more than one S3 object can hold", size)
	}
	ph := &partHasher{partSize: partSize, cur: sha256.New()}
	sum, n, err := copyHashed(ctx, ph, f, buf)
	if err != nil {
		return "", 0, putFailure(op, err)
	}
	ph.finish()
	if len(ph.sums) > maxParts {
		return "", 0, glasshouse.Errorf(op, glasshouse.ErrConflict, "source grew from %d to %d bytes while it was read", size, n)
	}
	ref := glasshouse.RefFromSum(sum)
	final := key(ref)
	exists, err := s.bucket.Exists(ctx, final)
	if err != nil {
		return "", 0, glasshouse.E(op, kindOf(err), err, "check for existing blob")
	}
	if exists {
		s.log.Debug("put duplicate", "ref", ref, "size", n)
		return ref, n, nil
	}
	d := s.direct
	objKey := d.prefix + final
	if len(ph.sums) == 1 {
		_, err := d.client.PutObject(ctx, &s3.PutObjectInput{
			Bucket: aws.String(d.bucket), Key: aws.String(objKey), ContentType: aws.String("application/octet-stream"),
			Body: io.NewSectionReader(f, off, n), ContentLength: aws.Int64(n),
		}, presetPayloadHash(ph.sums[0]))
		if err != nil {
			return "", 0, directFailure(op, fmt.Errorf("put object: %w", err))
		}
		s.log.Debug("put", "ref", ref, "size", n, "parts", 1)
		return ref, n, nil
	}
	if err := d.multipart(ctx, objKey, f, off, n, partSize, ph.sums); err != nil {
		return "", 0, directFailure(op, err)
	}
	s.log.Debug("put", "ref", ref, "size", n, "parts", len(ph.sums), "part_size", partSize)
	return ref, n, nil
}

// directFailure wraps a failed direct upload; a server that found a part's
// bytes differ from the SHA-256 of the hash pass means the file changed
// while it was being stored (ErrConflict).
func directFailure(op string, err error) error {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		switch ae.ErrorCode() {
		case "XAmzContentSHA256Mismatch", "BadDigest":
			return glasshouse.E(op, glasshouse.ErrConflict, err, "source file changed while it was stored")
		}
	}
	return putFailure(op, err)
}

// multipart uploads [off, off+n) of f to objKey in parts of partSize whose
// SHA-256 are sums, FileUploadConcurrency at a time, and completes the
// upload; on any failure it aborts it, so nothing appears under objKey.
func (d *s3Direct) multipart(ctx context.Context, objKey string, f io.ReaderAt, off, n, partSize int64, sums []string) (err error) {
	cmu, err := d.client.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{
		Bucket: aws.String(d.bucket), Key: aws.String(objKey), ContentType: aws.String("application/octet-stream"),
	}, func(o *s3.Options) { o.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired })
	if err != nil {
		return fmt.Errorf("create multipart upload: %w", err)
	}
	defer func() {
		if err == nil {
			return
		}
		actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		defer cancel()
		if _, aerr := d.client.AbortMultipartUpload(actx, &s3.AbortMultipartUploadInput{
			Bucket: aws.String(d.bucket), Key: aws.String(objKey), UploadId: cmu.UploadId,
		}); aerr != nil {
			err = fmt.Errorf("%w (and aborting the upload failed: %v)", err, aerr)
		}
	}()

	pctx, cancel := context.WithCancel(ctx)
	defer cancel()
	parts := make([]types.CompletedPart, len(sums))
	next := make(chan int)
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		firstErr error
	)
	for range min(FileUploadConcurrency, len(sums)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				start := int64(i) * partSize
				length := min(partSize, n-start)
				num := aws.Int32(int32(i + 1))
				out, err := d.client.UploadPart(pctx, &s3.UploadPartInput{
					Bucket: aws.String(d.bucket), Key: aws.String(objKey), UploadId: cmu.UploadId, PartNumber: num,
					Body: io.NewSectionReader(f, off+start, length), ContentLength: aws.Int64(length),
				}, presetPayloadHash(sums[i]))
				if err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = fmt.Errorf("upload part %d of %d: %w", i+1, len(sums), err)
					}
					mu.Unlock()
					cancel()
					continue
				}
				parts[i] = types.CompletedPart{ETag: out.ETag, PartNumber: num}
			}
		}()
	}
feed:
	for i := range sums {
		select {
		case next <- i:
		case <-pctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	if firstErr != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return firstErr
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	_, err = d.client.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{
		Bucket: aws.String(d.bucket), Key: aws.String(objKey), UploadId: cmu.UploadId,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: parts},
	}, func(o *s3.Options) { o.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired })
	if err != nil {
		return fmt.Errorf("complete multipart upload: %w", err)
	}
	return nil
}
