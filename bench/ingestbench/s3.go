package main

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

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
	var ing, base []time.Duration
	var rss int64
	for i := range 2 {
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
	fmt.Printf("%-40s %8.2f %10.1f\n", "glasshouse ingest (s3:// + sqlite)", mean(ing).Seconds(), mb/mean(ing).Seconds())
	fmt.Printf("throughput ratio ingest/minio-go: %.2f (1.0 = as fast as the S3 client's own upload)\n", mean(base).Seconds()/mean(ing).Seconds())
	fmt.Printf("peak RSS of glasshouse ingest (children included): %.1f MiB\n", float64(rss)/1024)
	fmt.Println("ingest = sniff + decode check (ffprobe/ffmpeg) + streamed SHA-256 + multipart upload (5 MiB parts) + server-side copy to the content address + thumbnail + catalog/audit rows")
}
