package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"

	"github.com/glasshouse/glasshouse/app"
	"github.com/glasshouse/glasshouse/audit"
	"github.com/glasshouse/glasshouse/postgres"
	"github.com/glasshouse/glasshouse/sqlite"
)

func cmdAudit(ctx context.Context, e *env, args []string) error {
	if len(args) == 0 || (args[0] != "verify" && args[0] != "export") {
		fmt.Fprintln(e.stderr, "Usage: glasshouse audit verify [flags]   prove the hash chain is intact")
		fmt.Fprintln(e.stderr, "       glasshouse audit export [flags]   write the log as JSON lines (stdout or --out)")
		return exitError{code: 2}
	}
	sub := args[0]
	fs := newFlagSet(e, "audit "+sub, "[flags]")
	var b backendFlags
	b.register(fs)
	asJSON := fs.Bool("json", false, "verify: print the report as JSON")
	out := fs.String("out", "", "export: file to write (default stdout)")
	if err := parse(fs, args[1:]); err != nil {
		return err
	}
	cfg := b.config()
	dsn := cfg.DBURL
	if dsn == "" {
		dsn = "sqlite://" + absJoin(b.data, "glasshouse.db")
	}
	if _, err := os.Stat(absJoin(b.data, "glasshouse.db")); cfg.DBURL == "" && err != nil {
		return fmt.Errorf("no glasshouse database in %s", b.data)
	}
	var db interface {
		audit.EventSource
		Close() error
	}
	var err error
	if app.IsPostgres(dsn) {
		db, err = postgres.Open(ctx, dsn, e.log)
	} else {
		db, err = sqlite.Open(ctx, dsn, e.log)
	}
	if err != nil {
		return err
	}
	defer db.Close()
	switch sub {
	case "verify":
		rep, err := audit.Verify(ctx, db)
		if err != nil {
			return err
		}
		if *asJSON {
			enc := json.NewEncoder(e.stdout)
			enc.SetIndent("", "  ")
			enc.Encode(rep)
		} else if rep.OK {
			fmt.Fprintf(e.stdout, "OK: %d events, chain head %s\n", rep.Events, rep.Head)
		} else {
			fmt.Fprintf(e.stdout, "BROKEN at event %d: %s (%d events intact before it, last good hash %s)\n", rep.FirstBad, rep.Problem, rep.Events, rep.Head)
		}
		if !rep.OK {
			return exitError{code: 1}
		}
		return nil
	default:
		w := e.stdout
		if *out != "" {
			f, err := os.Create(*out)
			if err != nil {
				return err
			}
			defer f.Close()
			w = f
		}
		head, err := audit.Export(ctx, db, w)
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stderr, "chain head %s\n", head)
		return nil
	}
}
