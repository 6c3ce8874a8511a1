package main

import (
	"context"
	"time"

	"github.com/glasshouse/glasshouse/app"
)

// cmdWorker runs analysis workers only, against the same data folder or
// backend URLs as a `serve --no-workers` elsewhere.
func cmdWorker(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "worker", "[flags]")
	var b backendFlags
	b.register(fs)
	workers := fs.Int("workers", 1, "analysis jobs run at once (each analyzer uses every core inside)")
	lease := fs.Duration("lease", 2*time.Minute, "job lease; a job whose worker stops heart-beating is re-run after this")
	if err := parse(fs, args); err != nil {
		return err
	}
	set := buildAnalyzers(e.log, b)
	defer set.close()
	cfg := b.config()
	cfg.Logger = e.log
	cfg.Workers, cfg.Lease = *workers, *lease
	cfg.Analyzers, cfg.Derived, cfg.Unavailable = set.analyzers, set.derived, set.unavailable
	cfg.Redactor = set.redactor
	// Other workers may hold leases: never requeue running jobs at start.
	cfg.SoleWorker = false
	a, err := app.Open(ctx, cfg)
	if err != nil {
		return err
	}
	defer a.Close()
	for _, u := range set.unavailable {
		e.log.Warn("analyzer disabled", "analyzer", u.Name, "problem", u.Model.Problem)
	}
	e.log.Info("glasshouse worker running", "analyzers", len(set.analyzers), "workers", *workers)
	return a.Run(ctx)
}
