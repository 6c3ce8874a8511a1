package app

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/glasshouse/glasshouse"
	"github.com/glasshouse/glasshouse/postgres"
)

// Run runs analyzer jobs until ctx is done. In SoleWorker mode it first
// requeues jobs left running by a process that died.
func (a *App) Run(ctx context.Context) error {
	if len(a.analyzers) == 0 && a.cfg.Redactor == nil {
		<-ctx.Done()
		return nil
	}
	if pg, ok := a.db.(*postgres.DB); ok {
		return a.runRiver(ctx, pg)
	}
	if a.cfg.SoleWorker {
		if _, err := a.db.ResetRunning(ctx); err != nil {
			return fmt.Errorf("worker: requeue interrupted jobs: %w", err)
		}
	}
	if n, err := a.EnqueueMissing(ctx); err != nil {
		a.log.Warn("enqueue analyses for new analyzer versions", "err", err)
	} else if n > 0 {
		a.log.Info("queued analyses for assets that lack the current analyzer versions", "jobs", n)
	}
	kinds := a.jobKinds()
	sort.Strings(kinds)
	slots := make(chan struct{}, a.cfg.Workers)
	var wg sync.WaitGroup
	defer wg.Wait()
	idle := 200 * time.Millisecond
	for {
		select {
		case <-ctx.Done():
			return nil
		case slots <- struct{}{}:
		}
		leases, err := a.db.Claim(ctx, kinds, 1, a.cfg.Lease)
		if err != nil {
			<-slots
			if ctx.Err() != nil {
				return nil
			}
			a.log.Warn("claim jobs", "err", err)
			sleep(ctx, 2*time.Second)
			continue
		}
		if len(leases) == 0 {
			<-slots
			sleep(ctx, idle)
			if idle < 2*time.Second {
				idle *= 2
			}
			continue
		}
		idle = 200 * time.Millisecond
		l := leases[0]
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-slots }()
			a.runJob(ctx, l)
		}()
	}
}

// RunPending runs queued jobs until none is due, then returns (used by the
// CLI's `ingest --analyze` and by tests).
func (a *App) RunPending(ctx context.Context) error {
	kinds := a.jobKinds()
	for {
		leases, err := a.db.Claim(ctx, kinds, 1, a.cfg.Lease)
		if err != nil {
			return err
		}
		if len(leases) == 0 {
			return nil
		}
		a.runJob(ctx, leases[0])
	}
}

// jobKinds are the job kinds this process runs: its analyzers, and
// redaction renders when a Redactor is set.
func (a *App) jobKinds() []string {
	kinds := make([]string, 0, len(a.analyzers)+1)
	for k := range a.analyzers {
		kinds = append(kinds, k)
	}
	if a.cfg.Redactor != nil {
		kinds = append(kinds, RedactJobKind)
	}
	return kinds
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// runJob runs one leased job of the lease loop: processJob, then Ack, or
// Nack with exponential backoff (the embedded queue's retry policy).
func (a *App) runJob(ctx context.Context, l *glasshouse.Lease) {
	job := l.Job
	log := a.log.With("job", job.ID, "kind", job.Kind, "asset", job.Asset, "attempt", job.Attempts)
	start := time.Now()
	err := a.processJob(ctx, l)
	if ctx.Err() != nil {
		// Shutting down: leave the job to be re-run (lease expiry or ResetRunning).
		return
	}
	if errors.Is(err, errLeaseLost) {
		log.Warn("lease lost: the job was taken over; dropping this run's outcome", "err", err)
		return
	}
	if err == nil {
		if err := a.db.Ack(context.WithoutCancel(ctx), l); err != nil {
			log.Warn("ack", "err", err)
		}
		log.Info("job done", "took", time.Since(start).Round(time.Millisecond))
		return
	}
	retry := time.Duration(1<<min(job.Attempts, 8)) * 5 * time.Second
	if errors.Is(err, errNoAnalyzer) {
		retry = time.Minute
	}
	log.Warn("job failed", "err", err)
	if err := a.db.Nack(context.WithoutCancel(ctx), l, retry, err); err != nil {
		log.Warn("nack", "err", err)
	}
	if job.Attempts >= job.MaxAttempts && job.MaxAttempts > 0 {
		a.recordFailure(context.WithoutCancel(ctx), job, start, err)
	}
}

var errNoAnalyzer = errors.New("analyzer not available in this process")

// errLeaseLost: the job's lease expired while this worker ran it (it was
// paused or stalled), so another worker may be running it now. The stale
// run's outcome is dropped: no Ack or Nack, no failure recorded, no result
// stored (fencedResults).
var errLeaseLost = errors.New("lease lost")

// fencedResults is a catalog that stores a job's result only while the
// job's lease is still held (postgres.DB); a worker that lost its lease
// gets ErrConflict and writes nothing.
type fencedResults interface {
	PutResultLeased(ctx context.Context, l *glasshouse.Lease, extend time.Duration, r *glasshouse.Result, ev glasshouse.AuditEvent) error
}

// recordFailure records an analyzer run that gave up (its attempts used up).
func (a *App) recordFailure(ctx context.Context, job glasshouse.Job, start time.Time, err error) {
	if job.Kind == RedactJobKind {
		return // the render records its own failure
	}
	name, version := job.Kind, job.Version
	if an, ok := a.analyzers[job.Kind]; ok {
		name, version = an.Name(), an.Version()
	}
	_ = a.db.RecordRun(ctx, job.Tenant, job.Asset, glasshouse.AnalyzerRun{
		Name: name, Version: version, State: glasshouse.JobFailed, Started: start, Error: err.Error(),
		DurationMS: time.Since(start).Milliseconds(),
	})
}

// processJob is the per-job work that every queue runs, the lease loop
// (runJob) and River (riverWorker): it heart-beats the lease, runs the
// analyzer and the derived analyzers, and stores results, index segments and
// audit events. It returns nil when the job is done (or its asset was
// deleted meanwhile: nothing to do), the failure otherwise; a lost lease
// cancels the work.
func (a *App) processJob(ctx context.Context, l *glasshouse.Lease) error {
	job := l.Job
	an, ok := a.analyzers[job.Kind]
	if job.Kind == RedactJobKind && a.cfg.Redactor != nil {
		an, ok = redactRunner{a}, true
	}
	if !ok {
		return fmt.Errorf("job %d: %w: %q", job.ID, errNoAnalyzer, job.Kind)
	}
	log := a.log.With("job", job.ID, "kind", job.Kind, "asset", job.Asset)
	// The tenant's policy may have changed since the job was queued.
	if p, err := a.db.Policy(ctx, job.Tenant); err == nil && !p.AllowsAnalyzer(job.Kind) {
		if err := a.db.RecordRun(ctx, job.Tenant, job.Asset, skippedRun(an, p)); err != nil && !errors.Is(err, glasshouse.ErrNotExist) {
			log.Warn("record skipped analyzer", "err", err)
		}
		log.Info("job skipped by policy")
		return nil
	}
	jctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var lost atomic.Bool
	var hb sync.WaitGroup
	hb.Add(1)
	go func() {
		defer hb.Done()
		t := time.NewTicker(a.cfg.Lease / 3)
		defer t.Stop()
		for {
			select {
			case <-jctx.Done():
				return
			case <-t.C:
				if err := a.db.Extend(jctx, l, a.cfg.Lease); err != nil {
					if jctx.Err() == nil && errors.Is(err, glasshouse.ErrConflict) {
						a.log.Warn("lease lost; stopping job", "job", job.ID, "err", err)
						lost.Store(true)
						cancel()
						return
					}
					// Database unreachable: keep working and keep trying;
					// the lease may outlive the outage.
					a.log.Warn("extend lease", "job", job.ID, "err", err)
				}
			}
		}
	}()
	err := a.analyze(jctx, an, l)
	cancel()
	hb.Wait()
	if lost.Load() && !errors.Is(err, errLeaseLost) {
		err = fmt.Errorf("job %d: %w (%v)", job.ID, errLeaseLost, err)
	}
	if errors.Is(err, errLeaseLost) {
		return err
	}
	if err != nil && errors.Is(err, glasshouse.ErrNotExist) {
		// Asset deleted meanwhile: nothing to do.
		return nil
	}
	return err
}

func (a *App) analyze(ctx context.Context, an glasshouse.Analyzer, l *glasshouse.Lease) error {
	if _, ok := an.(redactRunner); ok {
		return a.runRedactJob(ctx, l)
	}
	job := l.Job
	as, err := a.db.GetAsset(ctx, job.Tenant, job.Asset)
	if err != nil {
		return err
	}
	res, err := a.runAnalyzer(ctx, an, as, l, nil)
	if err != nil {
		return err
	}
	// Derived analyzers (keywords) read what is stored now.
	policy, err := a.db.Policy(ctx, as.Tenant)
	if err != nil {
		return err
	}
	for _, d := range a.derived {
		if !d.Accepts(as.Kind) {
			continue
		}
		if !policy.AllowsAnalyzer(d.Name()) {
			if err := a.db.RecordRun(ctx, as.Tenant, as.ID, skippedRun(d, policy)); err != nil {
				a.log.Warn("record skipped analyzer", "analyzer", d.Name(), "err", err)
			}
			continue
		}
		prior, err := a.insights(ctx, as)
		if err != nil {
			return err
		}
		if _, err := a.runAnalyzer(ctx, d, as, nil, prior); err != nil {
			a.log.Warn("derived analyzer failed", "analyzer", d.Name(), "asset", as.ID, "err", err)
		}
	}
	_ = res
	return nil
}

// runAnalyzer runs an on as and stores its result, index segments and audit
// event. l may be nil (derived analyzers run inline).
func (a *App) runAnalyzer(ctx context.Context, an glasshouse.Analyzer, as *glasshouse.Asset, l *glasshouse.Lease, prior *glasshouse.Insights) (*glasshouse.Result, error) {
	path, cleanup, err := a.mediaPath(ctx, as)
	if err != nil {
		return nil, err
	}
	defer cleanup()
	work, err := os.MkdirTemp("", "glasshouse-job-*")
	if err != nil {
		return nil, fmt.Errorf("analyze: workdir: %w", err)
	}
	defer os.RemoveAll(work)
	var last time.Time
	progress := func(f float64) {
		if l == nil || time.Since(last) < time.Second {
			return
		}
		last = time.Now()
		_ = a.db.SetProgress(ctx, l, f)
	}
	start := time.Now().UTC()
	res, err := an.Analyze(ctx, glasshouse.Input{Asset: as, Path: path, WorkDir: work, Blobs: a.blobs, Progress: progress, Prior: prior})
	if err != nil {
		return nil, fmt.Errorf("analyze %s: %w", an.Name(), err)
	}
	if res == nil {
		res = &glasshouse.Result{}
	}
	res.Asset, res.Tenant = as.ID, as.Tenant
	res.Run.Name, res.Run.Version, res.Run.State = an.Name(), an.Version(), glasshouse.JobDone
	if res.Run.Started.IsZero() {
		res.Run.Started = start
	}
	if res.Run.DurationMS == 0 {
		res.Run.DurationMS = time.Since(start).Milliseconds()
	}
	ev := glasshouse.NewEvent(glasshouse.System(as.Tenant), "analyze", string(as.ID), map[string]any{
		"analyzer": an.Name(), "version": an.Version(), "model": res.Run.Model, "model_sha256": res.Run.ModelSHA256,
		"duration_ms": res.Run.DurationMS,
	})
	if f, ok := a.db.(fencedResults); ok && l != nil {
		// Written only while this worker still holds the job: a stale
		// worker (paused past its lease) must not store a second result.
		if err := f.PutResultLeased(ctx, l, a.cfg.Lease, res, ev); err != nil {
			if errors.Is(err, glasshouse.ErrConflict) {
				return nil, fmt.Errorf("analyze %s: store result: %w: %w", an.Name(), errLeaseLost, err)
			}
			return nil, fmt.Errorf("analyze %s: store result: %w", an.Name(), err)
		}
	} else if err := a.db.PutResult(ctx, res, ev); err != nil {
		return nil, fmt.Errorf("analyze %s: store result: %w", an.Name(), err)
	}
	if err := a.indexResult(ctx, as, an.Name(), &res.Insights); err != nil {
		return nil, fmt.Errorf("analyze %s: index: %w", an.Name(), err)
	}
	a.deleteOrphans(ctx)
	return res, nil
}

// EnqueueMissing queues a job for every asset that has never had one of an
// analyzer's current version (a new analyzer, or a version bump: the new
// result then replaces the old one). It returns the number of jobs queued.
func (a *App) EnqueueMissing(ctx context.Context) (int, error) {
	total := 0
	for _, an := range a.cfg.Analyzers {
		var kinds []glasshouse.MediaKind
		for _, k := range []glasshouse.MediaKind{glasshouse.KindImage, glasshouse.KindAudio, glasshouse.KindVideo} {
			if an.Accepts(k) {
				kinds = append(kinds, k)
			}
		}
		for {
			jobs, err := a.db.AssetsWithoutJob(ctx, an.Name(), an.Version(), kinds, 500)
			if err != nil {
				return total, err
			}
			if len(jobs) == 0 {
				break
			}
			for i := range jobs {
				jobs[i].MaxAttempts = a.cfg.MaxAttempts
			}
			if err := a.db.Enqueue(ctx, jobs...); err != nil {
				return total, err
			}
			total += len(jobs)
		}
	}
	return total, nil
}

// deleteOrphans removes blobs that only a replaced result referenced (old
// keyframes after a re-run), unless something uses them again.
func (a *App) deleteOrphans(ctx context.Context) {
	refs, err := a.db.TakeOrphans(ctx)
	if err != nil {
		a.log.Warn("collect orphaned blobs", "err", err)
		return
	}
	for _, ref := range refs {
		a.mu.Lock()
		busy := a.pending[ref] > 0
		a.mu.Unlock()
		if busy {
			continue
		}
		if used, err := a.db.BlobInUse(ctx, ref); err != nil || used {
			continue
		}
		if err := a.blobs.Delete(ctx, ref); err != nil && !errors.Is(err, glasshouse.ErrNotExist) {
			a.log.Warn("delete orphaned blob", "ref", ref, "err", err)
		}
	}
}
