package postgres

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"

	"github.com/glasshouse/glasshouse"
	"github.com/glasshouse/glasshouse/redact"
)

var _ redact.Store = (*DB)(nil)

// GetPlan returns the stored redaction plan of the asset.
func (db *DB) GetPlan(ctx context.Context, tenant glasshouse.TenantID, asset glasshouse.AssetID) (*redact.Plan, error) {
	const op = "postgres.GetPlan"
	var js string
	var rev, upd int64
	err := db.r.QueryRowContext(ctx, `SELECT plan, revision, updated FROM gh_redact_plans WHERE tenant = ? AND asset = ?`,
		string(tenant), string(asset)).Scan(&js, &rev, &upd)
	if err != nil {
		return nil, mapErr(op, err, "redaction plan of "+string(asset))
	}
	var p redact.Plan
	if err := json.Unmarshal([]byte(js), &p); err != nil {
		return nil, glasshouse.E(op, glasshouse.ErrCorrupt, err, "decode plan")
	}
	p.Tenant, p.Asset, p.Revision, p.Updated = tenant, asset, rev, fromNS(upd)
	return &p, nil
}

// PutPlan stores p if the stored revision is p.Revision (0: none yet), and
// advances p.Revision; ErrConflict otherwise. ErrNotExist if the asset is
// not the tenant's. The asset row is locked (FOR SHARE) so a concurrent
// DeleteAsset cannot slip between the check and the write.
func (db *DB) PutPlan(ctx context.Context, p *redact.Plan) error {
	const op = "postgres.PutPlan"
	if p == nil || p.Tenant == "" || p.Asset == "" {
		return glasshouse.Errorf(op, glasshouse.ErrInvalid, "plan needs a tenant and an asset")
	}
	now := db.now().UTC()
	next := p.Revision + 1
	cp := *p
	cp.Revision, cp.Updated = next, now
	js, err := json.Marshal(&cp)
	if err != nil {
		return glasshouse.E(op, glasshouse.ErrInvalid, err, "encode plan")
	}
	err = db.writeTx(ctx, op, func(tx *Tx) error {
		var owner string
		err := tx.QueryRowContext(ctx, `SELECT tenant FROM gh_assets WHERE id = ? FOR SHARE`, string(p.Asset)).Scan(&owner)
		if err != nil || owner != string(p.Tenant) {
			if err == nil || errors.Is(err, sql.ErrNoRows) {
				return glasshouse.Errorf(op, glasshouse.ErrNotExist, "asset %s not found", p.Asset)
			}
			return mapErr(op, err, "asset "+string(p.Asset))
		}
		var res sql.Result
		if p.Revision == 0 {
			res, err = tx.ExecContext(ctx, `INSERT INTO gh_redact_plans (asset, tenant, plan, revision, updated) VALUES (?, ?, ?, ?, ?)
				ON CONFLICT (asset) DO NOTHING`, string(p.Asset), string(p.Tenant), string(js), next, toNS(now))
		} else {
			res, err = tx.ExecContext(ctx, `UPDATE gh_redact_plans SET plan = ?, revision = ?, updated = ? WHERE asset = ? AND tenant = ? AND revision = ?`,
				string(js), next, toNS(now), string(p.Asset), string(p.Tenant), p.Revision)
		}
		if err != nil {
			return mapErr(op, err, "store plan")
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return glasshouse.Errorf(op, glasshouse.ErrConflict, "the plan of %s was changed by someone else (revision %d is not the latest): reload it", p.Asset, p.Revision)
		}
		return nil
	})
	if err != nil {
		return err
	}
	p.Revision, p.Updated = next, now
	return nil
}

// CreateRender stores a new render.
func (db *DB) CreateRender(ctx context.Context, r *redact.Render) error {
	const op = "postgres.CreateRender"
	if r == nil || r.ID == "" || r.Tenant == "" || r.Source == "" || r.Plan == nil {
		return glasshouse.Errorf(op, glasshouse.ErrInvalid, "render needs an id, a tenant, a source and a plan")
	}
	if r.State == "" {
		r.State = redact.StateQueued
	}
	plan, err := json.Marshal(r.Plan)
	if err != nil {
		return glasshouse.E(op, glasshouse.ErrInvalid, err, "encode plan")
	}
	now := db.now().UTC()
	_, err = db.r.ExecContext(ctx, `INSERT INTO gh_redactions (`+renderCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		r.ID, string(r.Tenant), string(r.Source), string(r.SourceHash), string(r.Output), string(r.OutputHash), r.State, r.Error,
		string(plan), r.Requester, nullJSON(r.Manifest), toNS(now), toNS(now))
	if err != nil {
		return mapErr(op, err, "render "+r.ID)
	}
	r.Created, r.Updated = now, now
	return nil
}

// UpdateRender stores the outcome fields of r.
func (db *DB) UpdateRender(ctx context.Context, r *redact.Render) error {
	const op = "postgres.UpdateRender"
	if r == nil || r.ID == "" || r.Tenant == "" {
		return glasshouse.Errorf(op, glasshouse.ErrInvalid, "render needs an id and a tenant")
	}
	switch r.State {
	case redact.StateQueued, redact.StateRunning, redact.StateDone, redact.StateFailed:
	default:
		return glasshouse.Errorf(op, glasshouse.ErrInvalid, "unknown render state %q", r.State)
	}
	if r.Manifest != nil && !json.Valid(r.Manifest) {
		return glasshouse.Errorf(op, glasshouse.ErrInvalid, "manifest is not JSON")
	}
	now := db.now().UTC()
	res, err := db.r.ExecContext(ctx, `UPDATE gh_redactions SET state = ?, error = ?, output = ?, output_hash = ?, manifest = ?, updated = ?
		WHERE id = ? AND tenant = ?`, r.State, r.Error, string(r.Output), string(r.OutputHash), nullJSON(r.Manifest), toNS(now), r.ID, string(r.Tenant))
	if err != nil {
		return mapErr(op, err, "render "+r.ID)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return glasshouse.Errorf(op, glasshouse.ErrNotExist, "render %s not found", r.ID)
	}
	r.Updated = now
	return nil
}

const renderCols = `id, tenant, source, source_hash, output, output_hash, state, error, plan, requester, manifest, created, updated`

func scanRender(sc interface{ Scan(...any) error }) (*redact.Render, error) {
	var r redact.Render
	var tenant, source, sh, out, oh, plan string
	var man sql.NullString
	var created, updated int64
	if err := sc.Scan(&r.ID, &tenant, &source, &sh, &out, &oh, &r.State, &r.Error, &plan, &r.Requester, &man, &created, &updated); err != nil {
		return nil, err
	}
	r.Tenant, r.Source, r.SourceHash = glasshouse.TenantID(tenant), glasshouse.AssetID(source), glasshouse.Ref(sh)
	r.Output, r.OutputHash = glasshouse.AssetID(out), glasshouse.Ref(oh)
	r.Created, r.Updated = fromNS(created), fromNS(updated)
	r.Plan = new(redact.Plan)
	if err := json.Unmarshal([]byte(plan), r.Plan); err != nil {
		return nil, glasshouse.E("postgres.render", glasshouse.ErrCorrupt, err, "decode plan of render "+r.ID)
	}
	if man.Valid {
		r.Manifest = json.RawMessage(man.String)
	}
	if r.State == redact.StateDone {
		r.Progress = 1
	}
	return &r, nil
}

// GetRender returns the tenant's render id.
func (db *DB) GetRender(ctx context.Context, tenant glasshouse.TenantID, id string) (*redact.Render, error) {
	const op = "postgres.GetRender"
	r, err := scanRender(db.r.QueryRowContext(ctx, `SELECT `+renderCols+` FROM gh_redactions WHERE tenant = ? AND id = ?`, string(tenant), id))
	if err != nil {
		return nil, mapErr(op, err, "render "+id)
	}
	return r, nil
}

// Renders lists the renders of source, newest first.
func (db *DB) Renders(ctx context.Context, tenant glasshouse.TenantID, source glasshouse.AssetID) ([]*redact.Render, error) {
	const op = "postgres.Renders"
	rows, err := db.r.QueryContext(ctx, `SELECT `+renderCols+` FROM gh_redactions WHERE tenant = ? AND source = ? ORDER BY created DESC, id DESC`,
		string(tenant), string(source))
	if err != nil {
		return nil, mapErr(op, err, "")
	}
	defer rows.Close()
	out := []*redact.Render{}
	for rows.Next() {
		r, err := scanRender(rows)
		if err != nil {
			return nil, mapErr(op, err, "")
		}
		out = append(out, r)
	}
	return out, mapErr(op, rows.Err(), "")
}

func nullJSON(b json.RawMessage) any {
	if len(b) == 0 {
		return nil
	}
	return string(b)
}
