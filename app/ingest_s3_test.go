package app_test

import (
	"context"
	"crypto/sha256"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"github.com/glasshouse/glasshouse"
	"github.com/glasshouse/glasshouse/app"
	"github.com/glasshouse/glasshouse/internal/s3test"
)

// TestIngestFileOnS3 ingests a local file (as the CLI and tus uploads do)
// into an S3 store under an upload limit: one byte over the limit is
// refused as too large and stores nothing; at the limit the asset is
// stored under the file's SHA-256 and probed through the object store.
func TestIngestFileOnS3(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	video, _, _ := smallMedia(t, dir)
	p := filepath.Join(dir, "clip.mp4")
	if err := os.WriteFile(p, video, 0o600); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(video)
	want := glasshouse.RefFromSum(sum[:])
	bucket := s3test.NewBucketURL(t)
	for _, c := range []struct {
		limit int64
		ok    bool
	}{{int64(len(video)) - 1, false}, {int64(len(video)), true}} {
		a, err := app.Open(ctx, app.Config{
			DataDir: filepath.Join(dir, "data"), BlobsURL: bucket, MaxUploadBytes: c.limit,
			Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
		})
		if err != nil {
			t.Fatal(err)
		}
		f, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		as, _, err := a.Ingest(ctx, actor, "clip.mp4", "", f)
		f.Close()
		if !c.ok {
			if !errors.Is(err, glasshouse.ErrTooLarge) {
				t.Errorf("limit %d: Ingest of %d bytes: %v, want ErrTooLarge", c.limit, len(video), err)
			}
			if _, err := a.Blobs().Stat(ctx, want); !errors.Is(err, glasshouse.ErrNotExist) {
				t.Errorf("limit %d: blob after a refused upload: %v, want ErrNotExist", c.limit, err)
			}
		} else {
			if err != nil {
				t.Fatalf("limit %d: Ingest: %v", c.limit, err)
			}
			if as.Hash != want || as.Size != int64(len(video)) || as.Kind != glasshouse.KindVideo || as.Probe == nil || as.Thumb == "" {
				t.Errorf("limit %d: asset hash %s size %d kind %s probe %v thumb %q; want %s, %d bytes, a probed video with a thumbnail",
					c.limit, as.Hash, as.Size, as.Kind, as.Probe != nil, as.Thumb, want, len(video))
			}
			if n, err := a.Blobs().Stat(ctx, want); err != nil || n != int64(len(video)) {
				t.Errorf("limit %d: Stat = %d, %v", c.limit, n, err)
			}
		}
		a.Close()
	}
}
