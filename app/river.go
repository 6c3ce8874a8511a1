package app

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/glasshouse/glasshouse/postgres"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
)

// runRiver is Run on PostgreSQL: a River client fetches analyzer jobs (up to
// Workers at once) and its worker calls processJob, the same per-job
// handler as the lease loop. River's retry policy (attempt⁴ seconds of
// backoff, then discarded at MaxAttempts) replaces Nack; a worker that dies
// stops heart-beating its lease, and every live worker periodically returns
// such jobs to the queue (postgres.RequeueExpired), so another one re-runs
// them. A worker that is alive but stopped heart-beating (paused, a long GC,
// a network stall) cannot spoil the re-run: the job is queued again as a
// new River row and the old row cancelled, so River's completer of the
// stale worker finds nothing running to finalise, and results are written
// only under a held lease (postgres.PutResultLeased), so the stale run
// stores nothing and records no failure.
func (a *App) runRiver(ctx context.Context, db *postgres.DB) error {
	if n, err := a.EnqueueMissing(ctx); err != nil {
		a.log.Warn("enqueue analyses for new analyzer versions", "err", err)
	} else if n > 0 {
		a.log.Info("queued analyses for assets that lack the current analyzer versions", "jobs", n)
	}
	workers := river.NewWorkers()
	if err := river.AddWorkerSafely(workers, &riverWorker{a: a, db: db}); err != nil {
		return fmt.Errorf("worker: %w", err)
	}
	client, err := river.NewClient(riverpgxv5.New(db.Pool()), &river.Config{
		Logger:  a.log.With("component", "river"),
		Queues:  map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: a.cfg.Workers}},
		Workers: workers,
		// Analyses run as long as they need; liveness is the lease
		// heartbeat, not a timeout.
		JobTimeout: -1,
		// Lost workers are found by their leases (RequeueExpired); River's
		// own rescuer is only a backstop for a job that died before its
		// lease was stamped.
		RescueStuckJobsAfter: 6 * time.Hour,
		// Finished jobs are the record of what ran (uniqueness, job
		// lists, AssetsWithoutJob): never delete them.
		CompletedJobRetentionPeriod: -1,
		DiscardedJobRetentionPeriod: -1,
		CancelledJobRetentionPeriod: -1,
		FetchPollInterval:           500 * time.Millisecond,
		// River fetches again at most every FetchCooldown (default
		// 100 ms, i.e. 10 jobs/s per idle slot); short analyses would
		// wait on it.
		FetchCooldown: 5 * time.Millisecond,
	})
	if err != nil {
		return fmt.Errorf("worker: river client: %w", err)
	}
	// Start retries while the database is unreachable.
	for {
		err := client.Start(ctx)
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			return nil
		}
		a.log.Warn("start river client; retrying", "err", err)
		sleep(ctx, 2*time.Second)
	}
	a.log.Info("river worker started", "workers", a.cfg.Workers)
	t := time.NewTicker(max(a.cfg.Lease/3, 100*time.Millisecond))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
			defer cancel()
			if err := client.StopAndCancel(stopCtx); err != nil {
				a.log.Warn("stop river client", "err", err)
			}
			return nil
		case <-t.C:
			if n, err := db.RequeueExpired(ctx); err != nil {
				if ctx.Err() == nil {
					a.log.Warn("requeue jobs of lost workers", "err", err)
				}
			} else if n > 0 {
				a.log.Info("requeued jobs whose worker stopped heart-beating", "jobs", n)
			}
		}
	}
}

// riverWorker runs analyzer jobs for River.
type riverWorker struct {
	river.WorkerDefaults[postgres.AnalyzeArgs]
	a  *App
	db *postgres.DB
}

// Work stamps a lease on the job (heartbeat, progress, lost-worker
// detection), runs processJob and lets River retry on failure.
func (w *riverWorker) Work(ctx context.Context, job *river.Job[postgres.AnalyzeArgs]) error {
	a := w.a
	log := a.log.With("job", job.ID, "kind", job.Args.Analyzer, "asset", job.Args.Asset, "attempt", job.Attempt)
	l, err := w.db.StampLease(ctx, job.ID, a.cfg.Lease)
	if err != nil {
		return fmt.Errorf("lease job %d: %w", job.ID, err)
	}
	start := time.Now()
	err = a.processJob(ctx, l)
	if ctx.Err() != nil {
		// Shutting down: run it again later without using up an attempt.
		return river.JobSnooze(time.Second)
	}
	if errors.Is(err, errNoAnalyzer) {
		log.Warn("analyzer not available here; snoozing", "err", err)
		return river.JobSnooze(time.Minute)
	}
	if err == nil {
		_ = w.db.SetProgress(ctx, l, 1)
		log.Info("job done", "took", time.Since(start).Round(time.Millisecond))
		return nil
	}
	if errors.Is(err, errLeaseLost) {
		// This worker stopped heart-beating (paused, stalled) and another
		// one runs the job now, as a new River row (RequeueExpired
		// cancelled this one), and its result was not stored. Record
		// nothing; River's completer leaves the cancelled row as it is.
		log.Warn("lease lost: the job was taken over; dropping this run's outcome", "err", err)
		return river.JobCancel(err)
	}
	log.Warn("job failed", "err", err)
	if job.Attempt >= job.MaxAttempts {
		a.recordFailure(context.WithoutCancel(ctx), l.Job, start, err)
	}
	return err
}
