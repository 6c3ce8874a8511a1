// Command ensure builds the S3 test server (versitygw) into the cache
// folder if it is not there yet; scripts/setup.sh runs it.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"

	"github.com/glasshouse/glasshouse/internal/s3test"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if p, err := s3test.Binary(); err == nil {
		fmt.Println("setup: S3 test server present:", p)
		return
	}
	fmt.Println("setup: building the S3 test server", s3test.Module+"@"+s3test.Version, "(a few minutes, once)")
	p, err := s3test.Ensure(ctx)
	if err != nil {
		fmt.Fprintln(os.Stderr, "setup:", err)
		os.Exit(1)
	}
	fmt.Println("setup: S3 test server built:", p)
}
