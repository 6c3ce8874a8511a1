package app

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/glasshouse/glasshouse"
)

// DeleteAsset deletes an asset at a user's request: its results, jobs,
// index entries and (unless another asset uses them) its blobs, thumbnails
// and keyframes. A deletion record (what, when, who, why) and the audit
// event are written in the same transaction as the deletion. An asset under
// legal hold, or in a collection under legal hold, is refused with
// ErrConflict naming the hold.
func (a *App) DeleteAsset(ctx context.Context, actor glasshouse.Actor, id glasshouse.AssetID) error {
	return a.deleteAsset(ctx, actor, id, glasshouse.DeletedByUser, nil)
}

func (a *App) deleteAsset(ctx context.Context, actor glasshouse.Actor, id glasshouse.AssetID, reason string, extra map[string]any) error {
	as, err := a.db.GetAsset(ctx, actor.Tenant, id)
	if err != nil {
		return err
	}
	detail := map[string]any{"name": as.Name, "hash": as.Hash, "size": as.Size, "reason": reason}
	for k, v := range extra {
		detail[k] = v
	}
	ev := glasshouse.NewEvent(actor, "delete", string(id), detail)
	orphans, err := a.db.DeleteAsset(ctx, actor.Tenant, id, ev)
	if err != nil {
		return err
	}
	if err := a.index.Delete(ctx, id); err != nil {
		a.log.Error("delete index entries", "asset", id, "err", err)
	}
	for _, ref := range orphans {
		a.mu.Lock()
		busy := a.pending[ref] > 0
		a.mu.Unlock()
		if busy {
			continue
		}
		if err := a.blobs.Delete(ctx, ref); err != nil && !errors.Is(err, glasshouse.ErrNotExist) {
			a.log.Error("delete blob", "ref", ref, "err", err)
		}
	}
	return nil
}

// ---------------------------------------------------------------------------
// Retention

// SetRetention sets the rule for a collection, or the tenant-wide rule
// (r.All), of the actor's tenant.
func (a *App) SetRetention(ctx context.Context, actor glasshouse.Actor, r glasshouse.RetentionRule) (*glasshouse.RetentionRule, error) {
	const op = "set retention"
	if r.Days <= 0 || r.Days > 100*366 {
		return nil, glasshouse.Errorf(op, glasshouse.ErrInvalid, "days must be between 1 and %d, not %d", 100*366, r.Days)
	}
	if r.All {
		r.Collection = ""
	} else if err := ValidCollection(r.Collection); err != nil {
		return nil, err
	}
	r.Tenant, r.SetBy = actor.Tenant, actor.User
	ev := glasshouse.NewEvent(actor, "retention_set", "", map[string]any{"all": r.All, "collection": r.Collection, "days": r.Days})
	if err := a.db.SetRetention(ctx, r, ev); err != nil {
		return nil, err
	}
	r.Updated = time.Now().UTC()
	return &r, nil
}

// DeleteRetention removes a rule.
func (a *App) DeleteRetention(ctx context.Context, actor glasshouse.Actor, all bool, collection string) error {
	ev := glasshouse.NewEvent(actor, "retention_delete", "", map[string]any{"all": all, "collection": collection})
	return a.db.DeleteRetention(ctx, actor.Tenant, all, collection, ev)
}

// RetentionRules lists the rules of the actor's tenant.
func (a *App) RetentionRules(ctx context.Context, actor glasshouse.Actor) ([]glasshouse.RetentionRule, error) {
	return a.db.RetentionRules(ctx, actor.Tenant)
}

// SweepResult says what one retention sweep did.
type SweepResult struct {
	Due     int      `json:"due"`     // assets past their retention
	Deleted int      `json:"deleted"` // of those, deleted
	Held    int      `json:"held"`    // kept by a legal hold
	Failed  int      `json:"failed"`  // other errors (logged)
	Errors  []string `json:"errors,omitempty"`
}

// SweepRetention deletes every asset of every tenant that its retention
// rule says is due at now, as the system actor, with reason "retention".
// Assets under legal hold stay (counted in Held).
func (a *App) SweepRetention(ctx context.Context, now time.Time) (*SweepResult, error) {
	due, err := a.db.DueAssets(ctx, now)
	if err != nil {
		return nil, fmt.Errorf("retention sweep: %w", err)
	}
	res := &SweepResult{Due: len(due)}
	for _, d := range due {
		if ctx.Err() != nil {
			return res, ctx.Err()
		}
		rule := "collection"
		if d.All {
			rule = "tenant"
		}
		err := a.deleteAsset(ctx, glasshouse.System(d.Tenant), d.ID, glasshouse.DeletedByRetention,
			map[string]any{"rule": rule, "days": d.Days})
		switch {
		case err == nil:
			res.Deleted++
		case errors.Is(err, glasshouse.ErrConflict):
			res.Held++
		case errors.Is(err, glasshouse.ErrNotExist):
			// deleted meanwhile
		default:
			res.Failed++
			if len(res.Errors) < 10 {
				res.Errors = append(res.Errors, fmt.Sprintf("%s: %v", d.ID, err))
			}
			a.log.Error("retention delete", "asset", d.ID, "tenant", d.Tenant, "err", err)
		}
	}
	if res.Due > 0 {
		a.log.Info("retention sweep", "due", res.Due, "deleted", res.Deleted, "held", res.Held, "failed", res.Failed)
	}
	return res, nil
}

// RunRetention sweeps every interval until ctx ends.
func (a *App) RunRetention(ctx context.Context, interval time.Duration) {
	if interval <= 0 {
		return
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if _, err := a.SweepRetention(ctx, time.Now()); err != nil && ctx.Err() == nil {
			a.log.Error("retention sweep", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// ---------------------------------------------------------------------------
// Legal holds

// SetHold places a legal hold on an asset or a collection of the actor's
// tenant.
func (a *App) SetHold(ctx context.Context, actor glasshouse.Actor, scope, target, reason string) (*glasshouse.Hold, error) {
	const op = "set legal hold"
	reason = strings.TrimSpace(reason)
	if reason == "" {
		return nil, glasshouse.Errorf(op, glasshouse.ErrInvalid, "a legal hold needs a reason (e.g. the matter or case number)")
	}
	if len(reason) > 1024 {
		return nil, glasshouse.Errorf(op, glasshouse.ErrInvalid, "reason longer than 1024 bytes")
	}
	switch scope {
	case glasshouse.HoldAsset:
		if _, err := a.db.GetAsset(ctx, actor.Tenant, glasshouse.AssetID(target)); err != nil {
			return nil, err
		}
	case glasshouse.HoldCollection:
		if err := ValidCollection(target); err != nil {
			return nil, err
		}
	default:
		return nil, glasshouse.Errorf(op, glasshouse.ErrInvalid, "hold scope must be asset or collection, not %q", scope)
	}
	h := glasshouse.Hold{Tenant: actor.Tenant, Scope: scope, Target: target, Reason: reason, SetBy: actor.User}
	ev := glasshouse.NewEvent(actor, "hold_set", target, map[string]any{"scope": scope, "reason": reason})
	if err := a.db.SetHold(ctx, h, ev); err != nil {
		return nil, err
	}
	h.Since = time.Now().UTC()
	return &h, nil
}

// ReleaseHold lifts a legal hold.
func (a *App) ReleaseHold(ctx context.Context, actor glasshouse.Actor, scope, target string) error {
	ev := glasshouse.NewEvent(actor, "hold_release", target, map[string]any{"scope": scope})
	return a.db.ReleaseHold(ctx, actor.Tenant, scope, target, ev)
}

// Holds lists the legal holds of the actor's tenant.
func (a *App) Holds(ctx context.Context, actor glasshouse.Actor) ([]glasshouse.Hold, error) {
	return a.db.Holds(ctx, actor.Tenant)
}

// DeletionRecords lists the tenant's deletion records in [from, to].
func (a *App) DeletionRecords(ctx context.Context, actor glasshouse.Actor, from, to time.Time) ([]glasshouse.DeletionRecord, error) {
	return a.db.DeletionRecords(ctx, actor.Tenant, from, to.Add(24*time.Hour))
}

// ---------------------------------------------------------------------------
// Policy

// Policy returns the limits of the actor's tenant.
func (a *App) Policy(ctx context.Context, actor glasshouse.Actor) (*glasshouse.Policy, error) {
	return a.db.Policy(ctx, actor.Tenant)
}

// TenantPolicy returns any tenant's limits (operator); ErrNotExist for a
// tenant that does not exist.
func (a *App) TenantPolicy(ctx context.Context, tenant glasshouse.TenantID) (*glasshouse.Policy, error) {
	if err := a.tenantExists(ctx, tenant); err != nil {
		return nil, err
	}
	return a.db.Policy(ctx, tenant)
}

// tenantExists: the default tenant always does (the embedded mode has no
// tenant table rows until sign-in is set up); others must have been created.
func (a *App) tenantExists(ctx context.Context, t glasshouse.TenantID) error {
	if t == glasshouse.DefaultTenant {
		return nil
	}
	if _, err := a.db.GetTenant(ctx, t); err != nil {
		if errors.Is(err, glasshouse.ErrNotExist) {
			return glasshouse.Errorf("policy", glasshouse.ErrNotExist, "no tenant %q", t)
		}
		return err
	}
	return nil
}

// SetPolicy sets a tenant's limits (operator). Analyzer names must be ones
// this server knows.
func (a *App) SetPolicy(ctx context.Context, actor glasshouse.Actor, p glasshouse.Policy) (*glasshouse.Policy, error) {
	const op = "set policy"
	if p.Tenant == "" {
		return nil, glasshouse.Errorf(op, glasshouse.ErrInvalid, "no tenant named")
	}
	if err := a.tenantExists(ctx, p.Tenant); err != nil {
		return nil, err
	}
	if p.QuotaBytes < 0 {
		return nil, glasshouse.Errorf(op, glasshouse.ErrInvalid, "quota_bytes must be >= 0 (0: no quota), not %d", p.QuotaBytes)
	}
	known := a.analyzerNames()
	if p.Analyzers != nil {
		seen := map[string]bool{}
		clean := []string{}
		for _, n := range p.Analyzers {
			if !contains(known, n) {
				return nil, glasshouse.Errorf(op, glasshouse.ErrInvalid, "unknown analyzer %q (known: %s)", n, strings.Join(known, ", "))
			}
			if !seen[n] {
				seen[n] = true
				clean = append(clean, n)
			}
		}
		p.Analyzers = clean
	}
	p.SetBy = actor.User
	ev := glasshouse.NewEvent(glasshouse.Actor{Tenant: p.Tenant, User: actor.User, Remote: actor.Remote}, "policy_set", string(p.Tenant),
		map[string]any{"quota_bytes": p.QuotaBytes, "analyzers": p.Analyzers, "operator_tenant": actor.Tenant})
	if err := a.db.SetPolicy(ctx, &p, ev); err != nil {
		return nil, err
	}
	return a.db.Policy(ctx, p.Tenant)
}

func (a *App) analyzerNames() []string {
	var out []string
	for _, an := range a.cfg.Analyzers {
		out = append(out, an.Name())
	}
	for _, an := range a.derived {
		out = append(out, an.Name())
	}
	for _, u := range a.cfg.Unavailable {
		out = append(out, u.Name)
	}
	return out
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

func skippedRun(an glasshouse.Analyzer, p *glasshouse.Policy) glasshouse.AnalyzerRun {
	return glasshouse.AnalyzerRun{Name: an.Name(), Version: an.Version(), State: glasshouse.JobSkipped, Started: time.Now().UTC(),
		Error: fmt.Sprintf("skipped: the tenant's policy does not allow analyzer %s (allowed: %s)", an.Name(), strings.Join(p.Analyzers, ", "))}
}

// ---------------------------------------------------------------------------
// Usage

// ParseDay parses YYYY-MM-DD (UTC); empty gives def.
func ParseDay(s string, def time.Time) (time.Time, error) {
	if s == "" {
		return def.UTC().Truncate(24 * time.Hour), nil
	}
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return time.Time{}, glasshouse.Errorf("usage", glasshouse.ErrInvalid, "date %q: want YYYY-MM-DD", s)
	}
	return t, nil
}

// Usage returns the actor's tenant's usage report for the days from..to
// and records that it was read.
func (a *App) Usage(ctx context.Context, actor glasshouse.Actor, from, to time.Time) (*glasshouse.Usage, error) {
	u, err := a.db.UsageReport(ctx, actor.Tenant, from, to)
	if err != nil {
		return nil, err
	}
	if err := a.audit(ctx, actor, "usage_read", "", map[string]any{"from": u.From, "to": u.To}); err != nil {
		return nil, err
	}
	return u, nil
}

// OperatorUsage returns every tenant's figures and the totals, never names
// of content.
func (a *App) OperatorUsage(ctx context.Context, actor glasshouse.Actor, from, to time.Time) (*glasshouse.OperatorUsage, error) {
	total, err := a.db.UsageReport(ctx, "", from, to)
	if err != nil {
		return nil, err
	}
	out := &glasshouse.OperatorUsage{From: total.From, To: total.To, Total: total, Tenants: []*glasshouse.Usage{}}
	ts, err := a.db.Tenants(ctx)
	if err != nil {
		return nil, err
	}
	for _, t := range ts {
		u, err := a.db.UsageReport(ctx, t, from, to)
		if err != nil {
			return nil, err
		}
		out.Tenants = append(out.Tenants, u)
	}
	if err := a.audit(ctx, actor, "usage_read_all", "", map[string]any{"from": out.From, "to": out.To, "tenants": len(ts)}); err != nil {
		return nil, err
	}
	return out, nil
}
