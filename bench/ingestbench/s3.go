package main

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/glasshouse/glasshouse/blobstore"
	"github.com/glasshouse/glasshouse/internal/s3test"
	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// benchS3 ingests media into S3 (blobs) + SQLite with the glasshouse binary,
// and uploads the same file with minio-go's FPutObject to the same server,
// twice each in alternation; it prints the throughput ratio.
func benchS3(ctx context.Context, bin, scratch, media string, n int64) {
	srv, err := s3test.Start()
	if err != nil {
		fail(err)
	}
	defer srv.Stop()
	for _, kv := range s3test.Env() {
		k, v, _ := strings.Cut(kv, "=")
		os.Setenv(k, v)
	}
	bucket, err := srv.NewBucket(ctx)
	if err != nil {
		fail(err)
	}
	u, _ := url.Parse(srv.Endpoint)
	mc, err := minio.New(u.Host, &minio.Options{Creds: credentials.NewStaticV4(s3test.AccessKey, s3test.SecretKey, ""), Secure: false, Region: s3test.Region})
	if err != nil {
		fail(err)
	}
	name := strings.TrimPrefix(strings.SplitN(bucket, "?", 2)[0], "s3://")
	var ing, base, put []time.Duration
	var rss int64
	for i := range 2 {
		// The blob store's Put alone, in this process: the upload part of
		// ingest, without the media checks and the CLI start.
		pb, err := srv.NewBucket(ctx)
		if err != nil {
			fail(err)
		}
		put = append(put, timePut(ctx, pb, media))
		start := time.Now()
		if _, err := mc.FPutObject(ctx, name, fmt.Sprintf("minio-%d", i), media, minio.PutObjectOptions{ContentType: "application/octet-stream"}); err != nil {
			fail(fmt.Errorf("minio FPutObject: %w", err))
		}
		base = append(base, time.Since(start))
		// A fresh bucket each time, so the blob is not a duplicate.
		b, err := srv.NewBucket(ctx)
		if err != nil {
			fail(err)
		}
		d, r := ingest(ctx, bin, filepath.Join(scratch, fmt.Sprintf("data-%d", i)), media, "--blobs", b)
		ing = append(ing, d)
		rss = max(rss, r)
	}
	mean := func(ds []time.Duration) time.Duration { return (ds[0] + ds[1]) / 2 }
	mb := float64(n) / (1 << 20)
	fmt.Printf("%-40s %8s %10s\n", "run (mean of 2, alternated)", "seconds", "MiB/s")
	fmt.Printf("%-40s %8.2f %10.1f\n", "minio-go FPutObject to versitygw", mean(base).Seconds(), mb/mean(base).Seconds())
	fmt.Printf("%-40s %8.2f %10.1f\n", "glasshouse blobstore.Put of the file", mean(put).Seconds(), mb/mean(put).Seconds())
	fmt.Printf("%-40s %8.2f %10.1f\n", "glasshouse ingest (s3:// + sqlite)", mean(ing).Seconds(), mb/mean(ing).Seconds())
	fmt.Printf("throughput ratio blobstore.Put/minio-go: %.2f\n", mean(base).Seconds()/mean(put).Seconds())
	fmt.Printf("throughput ratio ingest/minio-go: %.2f (1.0 = as fast as the S3 client's own upload)\n", mean(base).Seconds()/mean(ing).Seconds())
	fmt.Printf("peak RSS of glasshouse ingest (children included): %.1f MiB\n", float64(rss)/1024)
	part, _ := blobstore.PartSize(n)
	fmt.Printf("ingest = SHA-256 pass over the file + multipart upload straight to the content address (%d MiB parts, %d in flight, each signed with its SHA-256) + probe, decode check of head and tail, thumbnail and poster through a presigned URL + catalog/audit rows\n",
		part>>20, blobstore.FileUploadConcurrency)
}

// timePut stores media in the bucket at bucketURL with blobstore.Put from
// the open file, as the CLI does, and returns how long it took.
func timePut(ctx context.Context, bucketURL, media string) time.Duration {
	s, err := blobstore.Open(ctx, bucketURL, nil)
	if err != nil {
		fail(err)
	}
	defer s.Close()
	f, err := os.Open(media)
	if err != nil {
		fail(err)
	}
	defer f.Close()
	start := time.Now()
	if _, _, err := s.Put(ctx, f); err != nil {
		fail(fmt.Errorf("blobstore.Put: %w", err))
	}
	return time.Since(start)
}
