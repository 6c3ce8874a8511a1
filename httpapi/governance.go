package httpapi

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"time"

	"github.com/glasshouse/glasshouse"
)

// Governance is what the retention, legal hold, deletion record, policy and
// usage routes need. A Service that does not implement it answers those
// routes with 503 unavailable.
type Governance interface {
	SetRetention(ctx context.Context, actor glasshouse.Actor, r glasshouse.RetentionRule) (*glasshouse.RetentionRule, error)
	DeleteRetention(ctx context.Context, actor glasshouse.Actor, all bool, collection string) error
	RetentionRules(ctx context.Context, actor glasshouse.Actor) ([]glasshouse.RetentionRule, error)
	SetHold(ctx context.Context, actor glasshouse.Actor, scope, target, reason string) (*glasshouse.Hold, error)
	ReleaseHold(ctx context.Context, actor glasshouse.Actor, scope, target string) error
	Holds(ctx context.Context, actor glasshouse.Actor) ([]glasshouse.Hold, error)
	DeletionRecords(ctx context.Context, actor glasshouse.Actor, from, to time.Time) ([]glasshouse.DeletionRecord, error)
	Usage(ctx context.Context, actor glasshouse.Actor, from, to time.Time) (*glasshouse.Usage, error)
	OperatorUsage(ctx context.Context, actor glasshouse.Actor, from, to time.Time) (*glasshouse.OperatorUsage, error)
	Policy(ctx context.Context, actor glasshouse.Actor) (*glasshouse.Policy, error)
	TenantPolicy(ctx context.Context, tenant glasshouse.TenantID) (*glasshouse.Policy, error)
	SetPolicy(ctx context.Context, actor glasshouse.Actor, p glasshouse.Policy) (*glasshouse.Policy, error)
}

func (a *api) gov(w http.ResponseWriter, r *http.Request, op string) (Governance, bool) {
	g, ok := a.svc.(Governance)
	if !ok {
		a.writeError(w, r, op, glasshouse.Errorf(op, glasshouse.ErrUnavailable, "this server has no retention, policy or usage support"))
	}
	return g, ok
}

// decodeBody reads a JSON body of at most 64 KiB into v, refusing unknown fields.
func (a *api) decodeBody(w http.ResponseWriter, r *http.Request, op, shape string, v any) bool {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		a.writeError(w, r, op, glasshouse.Errorf(op, glasshouse.ErrInvalid, "body must be JSON %s: %v", shape, err))
		return false
	}
	return true
}

// period reads from= and to= (YYYY-MM-DD, UTC; default the last 30 days).
func period(r *http.Request, op string) (from, to time.Time, err error) {
	q := r.URL.Query()
	now := time.Now().UTC()
	to, err = parseDay(q.Get("to"), now)
	if err != nil {
		return
	}
	from, err = parseDay(q.Get("from"), to.AddDate(0, 0, -29))
	if err != nil {
		return
	}
	if to.Before(from) {
		err = glasshouse.Errorf(op, glasshouse.ErrInvalid, "to (%s) is before from (%s)", to.Format(time.DateOnly), from.Format(time.DateOnly))
	} else if to.Sub(from) > 3660*24*time.Hour {
		err = glasshouse.Errorf(op, glasshouse.ErrInvalid, "period longer than ten years")
	}
	return
}

func parseDay(s string, def time.Time) (time.Time, error) {
	if s == "" {
		return def.UTC().Truncate(24 * time.Hour), nil
	}
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return time.Time{}, glasshouse.Errorf("date", glasshouse.ErrInvalid, "date %q: want YYYY-MM-DD", truncate(s, 40))
	}
	return t, nil
}

func wantCSV(r *http.Request, op string) (bool, error) {
	switch f := r.URL.Query().Get("format"); f {
	case "", "json":
		return false, nil
	case "csv":
		return true, nil
	default:
		return false, glasshouse.Errorf(op, glasshouse.ErrInvalid, "format must be json or csv, not %q", truncate(f, 20))
	}
}

func (a *api) usage(w http.ResponseWriter, r *http.Request) {
	const op = "usage"
	g, ok := a.gov(w, r, op)
	if !ok {
		return
	}
	from, to, err := period(r, op)
	if err == nil {
		var csvOut bool
		if csvOut, err = wantCSV(r, op); err == nil {
			var u *glasshouse.Usage
			if u, err = g.Usage(r.Context(), actorFrom(r), from, to); err == nil {
				if csvOut {
					writeUsageCSV(w, "usage-"+u.From+"-"+u.To+".csv", []*glasshouse.Usage{u})
				} else {
					writeJSON(w, http.StatusOK, u)
				}
				return
			}
		}
	}
	a.writeError(w, r, op, err)
}

func (a *api) operatorUsage(w http.ResponseWriter, r *http.Request) {
	const op = "operator usage"
	g, ok := a.gov(w, r, op)
	if !ok {
		return
	}
	from, to, err := period(r, op)
	if err == nil {
		var csvOut bool
		if csvOut, err = wantCSV(r, op); err == nil {
			var u *glasshouse.OperatorUsage
			if u, err = g.OperatorUsage(r.Context(), actorFrom(r), from, to); err == nil {
				if csvOut {
					all := append([]*glasshouse.Usage{u.Total}, u.Tenants...)
					writeUsageCSV(w, "usage-all-"+u.From+"-"+u.To+".csv", all)
				} else {
					writeJSON(w, http.StatusOK, u)
				}
				return
			}
		}
	}
	a.writeError(w, r, op, err)
}

func writeUsageCSV(w http.ResponseWriter, filename string, us []*glasshouse.Usage) {
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="`+filename+`"`)
	_ = glasshouse.WriteUsageCSV(w, us...)
}

func (a *api) retentionRules(w http.ResponseWriter, r *http.Request) {
	g, ok := a.gov(w, r, "retention")
	if !ok {
		return
	}
	rules, err := g.RetentionRules(r.Context(), actorFrom(r))
	if err != nil {
		a.writeError(w, r, "retention", err)
		return
	}
	writeJSON(w, http.StatusOK, rules)
}

func (a *api) setRetention(w http.ResponseWriter, r *http.Request) {
	const op = "set retention"
	g, ok := a.gov(w, r, op)
	if !ok {
		return
	}
	var body struct {
		All        bool   `json:"all"`
		Collection string `json:"collection"`
		Days       int    `json:"days"`
	}
	if !a.decodeBody(w, r, op, `{"collection": "...", "days": N} or {"all": true, "days": N}`, &body) {
		return
	}
	rule, err := g.SetRetention(r.Context(), actorFrom(r), glasshouse.RetentionRule{All: body.All, Collection: body.Collection, Days: body.Days})
	if err != nil {
		a.writeError(w, r, op, err)
		return
	}
	writeJSON(w, http.StatusOK, rule)
}

func (a *api) deleteRetention(w http.ResponseWriter, r *http.Request) {
	const op = "delete retention"
	g, ok := a.gov(w, r, op)
	if !ok {
		return
	}
	q := r.URL.Query()
	all := q.Get("all") == "true"
	if !all && !q.Has("collection") {
		a.writeError(w, r, op, glasshouse.Errorf(op, glasshouse.ErrInvalid, "name the rule: ?collection=NAME or ?all=true"))
		return
	}
	if err := g.DeleteRetention(r.Context(), actorFrom(r), all, q.Get("collection")); err != nil {
		a.writeError(w, r, op, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (a *api) holds(w http.ResponseWriter, r *http.Request) {
	g, ok := a.gov(w, r, "holds")
	if !ok {
		return
	}
	hs, err := g.Holds(r.Context(), actorFrom(r))
	if err != nil {
		a.writeError(w, r, "holds", err)
		return
	}
	writeJSON(w, http.StatusOK, hs)
}

func (a *api) setHold(w http.ResponseWriter, r *http.Request) {
	const op = "set legal hold"
	g, ok := a.gov(w, r, op)
	if !ok {
		return
	}
	var body struct {
		Scope  string `json:"scope"`
		Target string `json:"target"`
		Reason string `json:"reason"`
	}
	if !a.decodeBody(w, r, op, `{"scope": "asset"|"collection", "target": "...", "reason": "..."}`, &body) {
		return
	}
	if body.Scope == glasshouse.HoldAsset {
		id, err := parseAssetID(body.Target)
		if err != nil {
			a.writeError(w, r, op, err)
			return
		}
		body.Target = string(id)
	}
	h, err := g.SetHold(r.Context(), actorFrom(r), body.Scope, body.Target, body.Reason)
	if err != nil {
		a.writeError(w, r, op, err)
		return
	}
	writeJSON(w, http.StatusOK, h)
}

func (a *api) releaseHold(w http.ResponseWriter, r *http.Request) {
	const op = "release legal hold"
	g, ok := a.gov(w, r, op)
	if !ok {
		return
	}
	q := r.URL.Query()
	scope, target := q.Get("scope"), q.Get("target")
	if scope != glasshouse.HoldAsset && scope != glasshouse.HoldCollection || !q.Has("target") {
		a.writeError(w, r, op, glasshouse.Errorf(op, glasshouse.ErrInvalid, "name the hold: ?scope=asset|collection&target=..."))
		return
	}
	if scope == glasshouse.HoldAsset {
		target = strings.ToLower(target)
	}
	if err := g.ReleaseHold(r.Context(), actorFrom(r), scope, target); err != nil {
		a.writeError(w, r, op, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (a *api) deletions(w http.ResponseWriter, r *http.Request) {
	const op = "deletion records"
	g, ok := a.gov(w, r, op)
	if !ok {
		return
	}
	from, to, err := period(r, op)
	if err != nil {
		a.writeError(w, r, op, err)
		return
	}
	recs, err := g.DeletionRecords(r.Context(), actorFrom(r), from, to)
	if err != nil {
		a.writeError(w, r, op, err)
		return
	}
	writeJSON(w, http.StatusOK, recs)
}

func (a *api) policy(w http.ResponseWriter, r *http.Request) {
	g, ok := a.gov(w, r, "policy")
	if !ok {
		return
	}
	p, err := g.Policy(r.Context(), actorFrom(r))
	if err != nil {
		a.writeError(w, r, "policy", err)
		return
	}
	writeJSON(w, http.StatusOK, p)
}

func tenantParam(r *http.Request, op string) (glasshouse.TenantID, error) {
	t := r.PathValue("tenant")
	if t == "" || len(t) > 128 || strings.ContainsFunc(t, func(c rune) bool { return c < 0x21 || c == 0x7f }) {
		return "", glasshouse.Errorf(op, glasshouse.ErrInvalid, "malformed tenant %q", truncate(t, 40))
	}
	return glasshouse.TenantID(t), nil
}

func (a *api) tenantPolicy(w http.ResponseWriter, r *http.Request) {
	const op = "tenant policy"
	g, ok := a.gov(w, r, op)
	if !ok {
		return
	}
	t, err := tenantParam(r, op)
	if err == nil {
		var p *glasshouse.Policy
		if p, err = g.TenantPolicy(r.Context(), t); err == nil {
			writeJSON(w, http.StatusOK, p)
			return
		}
	}
	a.writeError(w, r, op, err)
}

func (a *api) setTenantPolicy(w http.ResponseWriter, r *http.Request) {
	const op = "set tenant policy"
	g, ok := a.gov(w, r, op)
	if !ok {
		return
	}
	t, err := tenantParam(r, op)
	if err != nil {
		a.writeError(w, r, op, err)
		return
	}
	var body struct {
		QuotaBytes int64    `json:"quota_bytes"`
		Analyzers  []string `json:"analyzers"`
	}
	if !a.decodeBody(w, r, op, `{"quota_bytes": N, "analyzers": ["probe", ...] or null}`, &body) {
		return
	}
	p, err := g.SetPolicy(r.Context(), actorFrom(r), glasshouse.Policy{Tenant: t, QuotaBytes: body.QuotaBytes, Analyzers: body.Analyzers})
	if err != nil {
		a.writeError(w, r, op, err)
		return
	}
	writeJSON(w, http.StatusOK, p)
}
