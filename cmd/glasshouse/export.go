package main

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/glasshouse/glasshouse"
)

func cmdExport(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "export", "[flags] ASSET-ID")
	var b backendFlags
	b.register(fs)
	format := fs.String("format", "vtt", "vtt or srt (captions from the transcript), json or csv (all insights)")
	out := fs.String("out", "", "file to write (default stdout)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return exitError{code: 2, msg: "give one asset id"}
	}
	a, err := openApp(ctx, e, b)
	if err != nil {
		return err
	}
	defer a.Close()
	c, err := a.Export(ctx, b.actor(), glasshouse.AssetID(fs.Arg(0)), *format)
	if err != nil {
		return err
	}
	defer c.Close()
	w := e.stdout
	if *out != "" {
		f, err := os.Create(*out)
		if err != nil {
			return err
		}
		defer f.Close()
		w = f
	}
	if _, err := io.Copy(w, c); err != nil {
		return fmt.Errorf("write %s: %w", *format, err)
	}
	return nil
}
