// Command glasshouse is a self-hosted archive for images, audio and video
// that knows what is inside them, and keeps its own use on the record.
//
// Usage: glasshouse <command> [flags]; run `glasshouse help` for the list.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
)

type command struct {
	name, summary string
	run           func(ctx context.Context, env *env, args []string) error
}

// env carries the process's outside world, so commands have no globals.
type env struct {
	stdout, stderr io.Writer
	stdin          io.Reader
	log            *slog.Logger
}

func commands() []command {
	return []command{
		{"serve", "run the HTTP API, web UI and analysis workers", cmdServe},
		{"worker", "run analysis workers only (next to `serve --no-workers`)", cmdWorker},
		{"migrate", "copy an embedded data folder to PostgreSQL + S3 (--to-db, --to-blobs)", cmdMigrate},
		{"ingest", "store files or folders (into a data folder or a running server)", cmdIngest},
		{"search", "search transcripts, on-screen text, labels and keywords", cmdSearch},
		{"show", "show an asset and its insights", cmdShow},
		{"redact", "render a publishable copy with faces, chosen boxes and words removed", cmdRedact},
		{"export", "write captions (WebVTT, SRT) or insights (JSON, CSV) of an asset", cmdExport},
		{"audit", "verify or export the hash-chained audit log", cmdAudit},
		{"status", "show analyzers, models and job counts", cmdStatus},
		{"user", "add, list, change or disable users (in a data folder)", cmdUser},
		{"tenant", "add or list tenants", cmdTenant},
		{"token", "create, list or revoke API tokens", cmdToken},
		{"usage", "usage report: stored bytes per day, media hours, analyses, searches, exports (table, JSON, CSV)", cmdUsage},
		{"retention", "list, set and remove retention rules; sweep once", cmdRetention},
		{"hold", "place, release and list legal holds", cmdHold},
		{"policy", "show or set a tenant's storage quota and allowed analyzers", cmdPolicy},
		{"eval", "measure analyzer accuracy against ground truth", cmdEval},
		{"version", "print the version", cmdVersion},
	}
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	level := logLevel()
	if len(args) > 0 && args[0] != "serve" && args[0] != "worker" && level == slog.LevelInfo {
		level = slog.LevelWarn // one-shot commands print results, not start-up chatter
	}
	e := &env{stdout: stdout, stderr: stderr, stdin: stdin, log: slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))}
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		usage(stderr)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	for _, c := range commands() {
		if c.name == args[0] {
			err := c.run(ctx, e, args[1:])
			if err == nil {
				return 0
			}
			var ee exitError
			if errors.As(err, &ee) {
				if ee.msg != "" {
					fmt.Fprintln(stderr, "glasshouse "+c.name+": "+ee.msg)
				}
				return ee.code
			}
			fmt.Fprintf(stderr, "glasshouse %s: %v\n", c.name, err)
			return 1
		}
	}
	fmt.Fprintf(stderr, "glasshouse: unknown command %q\n\n", args[0])
	usage(stderr)
	return 2
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "glasshouse: an accountable archive for images, audio and video")
	fmt.Fprintln(w, "\nUsage: glasshouse <command> [flags]\n\nCommands:")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-8s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w, "\nRun `glasshouse <command> -h` for a command's flags.")
}

func logLevel() slog.Level {
	if os.Getenv("GLASSHOUSE_DEBUG") != "" {
		return slog.LevelDebug
	}
	return slog.LevelInfo
}

// exitError ends the process with a code (and an optional message).
type exitError struct {
	code int
	msg  string
}

func (e exitError) Error() string { return e.msg }
