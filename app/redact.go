package app

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/glasshouse/glasshouse"
	"github.com/glasshouse/glasshouse/redact"
)

// RedactJobKind is the queue job kind of a render; the job's Version is
// the render id (so every render is its own job).
const RedactJobKind = "redact"

// Redactor renders redacted copies (redact.Renderer).
type Redactor interface {
	Render(ctx context.Context, in redact.Input) (string, *redact.Manifest, error)
}

func (a *App) redactStore(op string) (redact.Store, error) {
	if a.plans == nil {
		return nil, glasshouse.Errorf(op, glasshouse.ErrUnavailable, "this database backend keeps no redaction plans")
	}
	return a.plans, nil
}

// RedactionPlan returns the asset's saved plan, or the default one (every
// detected face on, Revision 0) when none is saved. Audited as a view.
func (a *App) RedactionPlan(ctx context.Context, actor glasshouse.Actor, id glasshouse.AssetID) (*redact.Plan, error) {
	const op = "redaction plan"
	st, err := a.redactStore(op)
	if err != nil {
		return nil, err
	}
	as, err := a.db.GetAsset(ctx, actor.Tenant, id)
	if err != nil {
		return nil, err
	}
	p, err := a.plan(ctx, st, as)
	if err != nil {
		return nil, err
	}
	if err := a.audit(ctx, actor, "view_redaction_plan", string(id), nil); err != nil {
		return nil, err
	}
	return p, nil
}

func (a *App) plan(ctx context.Context, st redact.Store, as *glasshouse.Asset) (*redact.Plan, error) {
	p, err := st.GetPlan(ctx, as.Tenant, as.ID)
	if err == nil {
		return p, nil
	}
	if !errors.Is(err, glasshouse.ErrNotExist) {
		return nil, err
	}
	if as.Kind != glasshouse.KindImage && as.Kind != glasshouse.KindVideo {
		return nil, glasshouse.Errorf("redaction plan", glasshouse.ErrUnsupported, "redaction handles images and videos, not %s", as.Kind)
	}
	ins, err := a.insights(ctx, as)
	if err != nil {
		return nil, err
	}
	return redact.Draft(as, ins), nil
}

// SaveRedactionPlan checks and stores p for the asset. p.Revision must be
// the revision it was based on (0 for the first save): a plan changed by
// someone else meanwhile is refused with ErrConflict.
func (a *App) SaveRedactionPlan(ctx context.Context, actor glasshouse.Actor, id glasshouse.AssetID, p *redact.Plan) (*redact.Plan, error) {
	const op = "save redaction plan"
	st, err := a.redactStore(op)
	if err != nil {
		return nil, err
	}
	if p == nil {
		return nil, glasshouse.Errorf(op, glasshouse.ErrInvalid, "no plan")
	}
	as, err := a.db.GetAsset(ctx, actor.Tenant, id)
	if err != nil {
		return nil, err
	}
	if err := p.Validate(as); err != nil {
		return nil, err
	}
	if err := st.PutPlan(ctx, p); err != nil {
		return nil, err
	}
	if err := a.audit(ctx, actor, "redaction_plan", string(id), map[string]any{
		"revision": p.Revision, "regions": len(p.Regions), "audio_cuts": len(p.Audio), "faces": p.Faces, "fill": p.Settings.Fill,
	}); err != nil {
		return nil, err
	}
	return p, nil
}

// StartRedaction queues a render of the asset with plan (nil: the saved
// plan, or the default one). It returns the queued render; the worker does
// the work, with progress on the job.
func (a *App) StartRedaction(ctx context.Context, actor glasshouse.Actor, id glasshouse.AssetID, plan *redact.Plan) (*redact.Render, error) {
	return a.newRender(ctx, actor, id, plan, true)
}

// RedactNow renders the asset with plan (nil: the saved or default plan)
// in this process, without the queue (the CLI), reporting progress.
func (a *App) RedactNow(ctx context.Context, actor glasshouse.Actor, id glasshouse.AssetID, plan *redact.Plan, progress func(float64)) (*redact.Render, error) {
	r, err := a.newRender(ctx, actor, id, plan, false)
	if err != nil {
		return nil, err
	}
	return a.RunRedaction(ctx, actor.Tenant, r.ID, progress)
}

func (a *App) newRender(ctx context.Context, actor glasshouse.Actor, id glasshouse.AssetID, plan *redact.Plan, queue bool) (*redact.Render, error) {
	const op = "start redaction"
	st, err := a.redactStore(op)
	if err != nil {
		return nil, err
	}
	if a.cfg.Redactor == nil {
		return nil, glasshouse.Errorf(op, glasshouse.ErrUnavailable, "redaction is not set up in this process")
	}
	as, err := a.db.GetAsset(ctx, actor.Tenant, id)
	if err != nil {
		return nil, err
	}
	if plan == nil {
		if plan, err = a.plan(ctx, st, as); err != nil {
			return nil, err
		}
	}
	if err := plan.Validate(as); err != nil {
		return nil, err
	}
	r := &redact.Render{ID: newID(), Tenant: as.Tenant, Source: as.ID, SourceHash: as.Hash, State: redact.StateQueued, Plan: plan, Requester: actor.User}
	if err := st.CreateRender(ctx, r); err != nil {
		return nil, err
	}
	job := glasshouse.Job{Tenant: as.Tenant, Asset: as.ID, Kind: RedactJobKind, Version: r.ID, MaxAttempts: 2}
	if !queue {
		// run by the caller
	} else if err := a.db.Enqueue(ctx, job); err != nil {
		r.State, r.Error = redact.StateFailed, "could not queue: "+err.Error()
		_ = st.UpdateRender(context.WithoutCancel(ctx), r)
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	if err := a.audit(ctx, actor, "redact", string(id), map[string]any{"render": r.ID, "source_hash": as.Hash, "fill": plan.Settings.Fill,
		"faces": plan.Faces, "regions": len(plan.Regions), "audio_cuts": len(plan.Audio)}); err != nil {
		return nil, err
	}
	return r, nil
}

// Redaction returns a render with the progress of its job.
func (a *App) Redaction(ctx context.Context, actor glasshouse.Actor, rid string) (*redact.Render, error) {
	st, err := a.redactStore("redaction")
	if err != nil {
		return nil, err
	}
	r, err := st.GetRender(ctx, actor.Tenant, rid)
	if err != nil {
		return nil, err
	}
	a.fillProgress(ctx, r)
	return r, nil
}

// Redactions lists the renders made from the asset, newest first.
func (a *App) Redactions(ctx context.Context, actor glasshouse.Actor, id glasshouse.AssetID) ([]*redact.Render, error) {
	st, err := a.redactStore("redactions")
	if err != nil {
		return nil, err
	}
	if _, err := a.db.GetAsset(ctx, actor.Tenant, id); err != nil {
		return nil, err
	}
	rs, err := st.Renders(ctx, actor.Tenant, id)
	if err != nil {
		return nil, err
	}
	for _, r := range rs {
		a.fillProgress(ctx, r)
	}
	return rs, nil
}

func (a *App) fillProgress(ctx context.Context, r *redact.Render) {
	if r.State == redact.StateDone || r.State == redact.StateFailed {
		return
	}
	jobs, err := a.db.Jobs(ctx, r.Tenant, r.Source)
	if err != nil {
		return
	}
	for _, j := range jobs {
		if j.Kind == RedactJobKind && j.Version == r.ID {
			r.Progress = j.Progress
			if j.State == glasshouse.JobRunning {
				r.State = redact.StateRunning
			}
			if j.LastError != "" && r.Error == "" {
				r.Error = j.LastError
			}
		}
	}
}

// RedactionManifest opens the manifest of a finished render (JSON);
// audited as a download.
func (a *App) RedactionManifest(ctx context.Context, actor glasshouse.Actor, rid string) (*glasshouse.Content, error) {
	r, err := a.Redaction(ctx, actor, rid)
	if err != nil {
		return nil, err
	}
	if len(r.Manifest) == 0 {
		return nil, glasshouse.Errorf("redaction manifest", glasshouse.ErrNotExist, "render %s has no manifest yet (state %s)", rid, r.State)
	}
	var buf bytes.Buffer
	if err := json.Indent(&buf, r.Manifest, "", "  "); err != nil {
		return nil, glasshouse.E("redaction manifest", glasshouse.ErrCorrupt, err, "")
	}
	buf.WriteByte('\n')
	if err := a.audit(ctx, actor, "download", string(r.Source), map[string]any{"what": "redaction manifest", "render": rid}); err != nil {
		return nil, err
	}
	return &glasshouse.Content{ReadSeekCloser: nopCloser{bytes.NewReader(buf.Bytes())}, Size: int64(buf.Len()),
		MediaType: "application/json", Name: "redaction-" + rid + ".json"}, nil
}

// RunRedaction renders the queued render rid now (the worker calls it for
// a job; the CLI calls it directly). The copy is ingested into the source's
// collection as a new asset, its note naming the original and its hash; the
// original is not touched. progress may be nil.
func (a *App) RunRedaction(ctx context.Context, tenant glasshouse.TenantID, rid string, progress func(float64)) (*redact.Render, error) {
	return a.runRedaction(ctx, tenant, rid, progress, nil)
}

// runRedaction is RunRedaction; held (may be nil) is asked, before the
// redacted copy is stored, whether this worker still holds the job's lease,
// so that a worker paused past its lease does not store a second copy.
func (a *App) runRedaction(ctx context.Context, tenant glasshouse.TenantID, rid string, progress func(float64), held func(context.Context) error) (*redact.Render, error) {
	const op = "redact"
	st, err := a.redactStore(op)
	if err != nil {
		return nil, err
	}
	if a.cfg.Redactor == nil {
		return nil, glasshouse.Errorf(op, glasshouse.ErrUnavailable, "redaction is not set up in this process")
	}
	r, err := st.GetRender(ctx, tenant, rid)
	if err != nil {
		return nil, err
	}
	if r.State == redact.StateDone {
		return r, nil
	}
	fail := func(err error) (*redact.Render, error) {
		r.State, r.Error = redact.StateFailed, err.Error()
		if uerr := st.UpdateRender(context.WithoutCancel(ctx), r); uerr != nil {
			a.log.Warn("record failed render", "render", rid, "err", uerr)
		}
		return r, err
	}
	src, err := a.db.GetAsset(ctx, tenant, r.Source)
	if err != nil {
		return fail(fmt.Errorf("%s: source asset: %w", op, err))
	}
	if src.Hash != r.SourceHash {
		return fail(glasshouse.Errorf(op, glasshouse.ErrConflict, "the source's content changed since the render was asked for"))
	}
	r.State, r.Error = redact.StateRunning, ""
	if err := st.UpdateRender(ctx, r); err != nil {
		return nil, err
	}
	path, cleanup, err := a.localPath(ctx, src.Hash)
	if err != nil {
		return fail(fmt.Errorf("%s: %w", op, err))
	}
	defer cleanup()
	work, err := os.MkdirTemp("", "glasshouse-redact-*")
	if err != nil {
		return fail(fmt.Errorf("%s: workdir: %w", op, err))
	}
	defer os.RemoveAll(work)
	start := time.Now()
	out, man, err := a.cfg.Redactor.Render(ctx, redact.Input{Asset: src, Path: path, Plan: r.Plan, OutDir: work, Progress: progress})
	if err != nil {
		if ctx.Err() != nil {
			return nil, err // shutting down: the job runs again
		}
		return fail(err)
	}
	if held != nil {
		if err := held(ctx); err != nil {
			return nil, err // another worker renders it now: leave the render to it
		}
	}
	f, err := os.Open(out)
	if err != nil {
		return fail(fmt.Errorf("%s: %w", op, err))
	}
	defer f.Close()
	actor := glasshouse.Actor{Tenant: tenant, User: r.Requester}
	if actor.User == "" {
		actor = glasshouse.System(tenant)
	}
	name := out[strings.LastIndexByte(out, '/')+1:]
	copyAs, _, err := a.Ingest(ctx, actor, name, src.Collection, f)
	if err != nil {
		return fail(fmt.Errorf("%s: store the redacted copy: %w", op, err))
	}
	if copyAs.Hash == src.Hash {
		return fail(glasshouse.Errorf(op, glasshouse.ErrConflict, "the redacted copy is identical to the original"))
	}
	note := fmt.Sprintf("Redacted copy of %s (%s), redaction %s.", src.Name, src.Hash, r.ID)
	if copyAs.Note == "" {
		copyAs.Note = note
		ev := glasshouse.NewEvent(glasshouse.System(tenant), "edit", string(copyAs.ID), map[string]any{"note": note})
		if err := a.db.PatchAsset(ctx, copyAs, ev); err != nil {
			a.log.Warn("note on redacted copy", "asset", copyAs.ID, "err", err)
		} else if err := a.indexNameAndNote(ctx, copyAs); err != nil {
			a.log.Warn("index redacted copy note", "asset", copyAs.ID, "err", err)
		}
	}
	man.Render = r.ID
	man.Output = redact.FileRef{Asset: copyAs.ID, Name: copyAs.Name, Hash: copyAs.Hash, Size: copyAs.Size}
	mj, err := json.Marshal(man)
	if err != nil {
		return fail(fmt.Errorf("%s: manifest: %w", op, err))
	}
	r.State, r.Output, r.OutputHash, r.Manifest, r.Error, r.Progress = redact.StateDone, copyAs.ID, copyAs.Hash, mj, "", 1
	if err := st.UpdateRender(context.WithoutCancel(ctx), r); err != nil {
		return nil, err
	}
	if _, err := a.db.Append(context.WithoutCancel(ctx), glasshouse.NewEvent(glasshouse.System(tenant), "redacted", string(src.ID), map[string]any{
		"render": r.ID, "source_hash": src.Hash, "output": copyAs.ID, "output_hash": copyAs.Hash,
		"faces": len(man.Faces), "regions": len(man.Regions), "audio_cuts": len(man.Audio), "models": man.Models,
		"duration_ms": time.Since(start).Milliseconds(),
	})); err != nil {
		a.log.Warn("audit redaction", "render", rid, "err", err)
	}
	return r, nil
}

// runRedactJob runs a leased redact job: progress onto the job, failures
// retried while attempts last, then recorded on the render.
func (a *App) runRedactJob(ctx context.Context, l *glasshouse.Lease) error {
	var last time.Time
	progress := func(f float64) {
		if time.Since(last) < time.Second {
			return
		}
		last = time.Now()
		_ = a.db.SetProgress(ctx, l, f)
	}
	held := func(ctx context.Context) error {
		if err := a.db.Extend(ctx, l, a.cfg.Lease); err != nil {
			if errors.Is(err, glasshouse.ErrConflict) {
				return fmt.Errorf("redact: %w: %w", errLeaseLost, err)
			}
			return err
		}
		return nil
	}
	_, err := a.runRedaction(ctx, l.Job.Tenant, l.Job.Version, progress, held)
	return err
}

// redactRunner lets runJob treat a render like an analyzer job (lease
// heartbeat, retries with backoff); analyze sends it to runRedactJob.
type redactRunner struct{ a *App }

func (redactRunner) Name() string                      { return RedactJobKind }
func (redactRunner) Version() string                   { return "" }
func (redactRunner) Accepts(glasshouse.MediaKind) bool { return false }
func (redactRunner) Analyze(context.Context, glasshouse.Input) (*glasshouse.Result, error) {
	return nil, glasshouse.Errorf("redact", glasshouse.ErrInvalid, "not an analyzer")
}
