package blobstore

import (
	"context"
	"crypto/sha256"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/glasshouse/glasshouse"
	"github.com/glasshouse/glasshouse/blobstore/blobstoretest"
	"github.com/glasshouse/glasshouse/internal/s3test"
)

func TestPartSize(t *testing.T) {
	for _, c := range []struct {
		size, want int64
		ok         bool
	}{
		{0, MinFilePartSize, true},
		{1 << 30, MinFilePartSize, true},
		{MinFilePartSize * maxParts, MinFilePartSize, true},
		{MinFilePartSize*maxParts + 1, MinFilePartSize + 1<<20, true},
		{48 << 30, MinFilePartSize, true},
		{1 << 40, 105 << 20, true}, // 1 TiB: ceil(2^40/10^4) = 104.86 MiB
		{5 << 40, 525 << 20, true}, // S3's largest object, 5 TiB
		{maxPartSize * maxParts, maxPartSize, true},
		{maxPartSize*maxParts + 1, maxPartSize + 1<<20, false},
	} {
		got, ok := PartSize(c.size)
		if got != c.want || ok != c.ok {
			t.Errorf("PartSize(%d) = %d, %v; want %d, %v", c.size, got, ok, c.want, c.ok)
		}
		if ok && (c.size+got-1)/got > maxParts {
			t.Errorf("PartSize(%d) = %d needs %d parts, more than %d", c.size, got, (c.size+got-1)/got, maxParts)
		}
		if got%(1<<20) != 0 {
			t.Errorf("PartSize(%d) = %d is not a whole number of MiB", c.size, got)
		}
	}
}

// changingFile reads its bytes honestly sequentially (the store's hash pass)
// but flips one byte when read at an offset (the upload): the file changed
// between the two reads.
type changingFile struct {
	*os.File
	flipAt int64
}

func (f changingFile) ReadAt(p []byte, off int64) (int, error) {
	n, err := f.File.ReadAt(p, off)
	if f.flipAt >= off && f.flipAt < off+int64(n) {
		p[f.flipAt-off] ^= 0xff
	}
	return n, err
}

// TestS3FileChangedDuringUpload checks that the direct upload of a file is
// verified by hash: the server rejects a part whose bytes differ from those
// the store hashed, Put fails, nothing is stored under either content's
// address and no multipart upload is left behind. One single-request put,
// one multipart put with the change in its last part.
func TestS3FileChangedDuringUpload(t *testing.T) {
	ctx := context.Background()
	s := openT(t, s3test.NewBucketURL(t))
	defer s.Close()
	if s.direct == nil {
		t.Fatal("s3:// store has no direct file upload")
	}
	for _, size := range []int{1 << 20, 2*MinFilePartSize + 1234} {
		b := blobstoretest.Bytes(uint64(size), size)
		p := filepath.Join(t.TempDir(), "f")
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		fh, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		flip := int64(size - 5)
		_, _, err = s.Put(ctx, changingFile{fh, flip})
		fh.Close()
		if err == nil {
			t.Fatalf("%d bytes: Put of a file that changed during the upload succeeded", size)
		}
		t.Logf("%d bytes: %v", size, err)
		if !errors.Is(err, glasshouse.ErrConflict) {
			t.Errorf("%d bytes: Put error %v is not ErrConflict", size, err)
		}
		changed := append([]byte(nil), b...)
		changed[flip] ^= 0xff
		for _, c := range [][]byte{b, changed} {
			sum := sha256.Sum256(c)
			if _, err := s.Stat(ctx, glasshouse.RefFromSum(sum[:])); !errors.Is(err, glasshouse.ErrNotExist) {
				t.Errorf("%d bytes: Stat after the failed put: %v, want ErrNotExist", size, err)
			}
		}
		out, err := s.direct.client.ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: aws.String(s.direct.bucket)})
		if err != nil {
			t.Fatal(err)
		}
		if len(out.Uploads) != 0 {
			t.Errorf("%d bytes: %d multipart uploads left behind", size, len(out.Uploads))
		}
	}
}
