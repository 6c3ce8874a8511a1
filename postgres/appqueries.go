package postgres

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/glasshouse/glasshouse"
)

// BlobOwner returns an asset of tenant that references ref as its original,
// thumbnail, poster or a result blob; ErrNotExist if the tenant has none, so
// a tenant cannot open another tenant's blobs by guessing hashes.
func (db *DB) BlobOwner(ctx context.Context, tenant glasshouse.TenantID, ref glasshouse.Ref) (glasshouse.AssetID, error) {
	const op = "postgres.BlobOwner"
	var id string
	err := db.r.QueryRowContext(ctx, `
		SELECT id FROM gh_assets WHERE tenant = ?1 AND (hash = ?2 OR thumb = ?2 OR poster = ?2)
		UNION ALL
		SELECT b.asset FROM gh_result_blobs b JOIN gh_assets a ON a.id = b.asset
		WHERE a.tenant = ?1 AND b.ref = ?2
		LIMIT 1`, string(tenant), string(ref)).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return "", glasshouse.Errorf(op, glasshouse.ErrNotExist, "blob %s not found", ref)
	}
	if err != nil {
		return "", mapErr(op, err, "find blob owner")
	}
	return glasshouse.AssetID(id), nil
}

// AssetsWithoutJob returns up to limit assets of the given kinds that have
// no job of analyzer kind at version: what must be (re-)run after an
// analyzer is added or its version bumped.
func (db *DB) AssetsWithoutJob(ctx context.Context, kind, version string, mediaKinds []glasshouse.MediaKind, limit int) ([]glasshouse.Job, error) {
	const op = "postgres.AssetsWithoutJob"
	if len(mediaKinds) == 0 {
		return nil, nil
	}
	args := []any{kind, version}
	q := `SELECT a.id, a.tenant FROM gh_assets a WHERE a.kind IN (`
	for i, k := range mediaKinds {
		if i > 0 {
			q += ","
		}
		q += fmt.Sprintf("?%d", len(args)+1)
		args = append(args, string(k))
	}
	q += `) AND NOT EXISTS (SELECT 1 FROM river_job j WHERE j.kind = 'glasshouse_analyze' AND j.args->>'asset' = a.id AND j.args->>'kind' = ?1 AND j.args->>'version' = ?2) LIMIT ` + fmt.Sprint(limit)
	rows, err := db.r.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, mapErr(op, err, "query")
	}
	defer rows.Close()
	var jobs []glasshouse.Job
	for rows.Next() {
		var id, tenant string
		if err := rows.Scan(&id, &tenant); err != nil {
			return nil, mapErr(op, err, "scan")
		}
		jobs = append(jobs, glasshouse.Job{Tenant: glasshouse.TenantID(tenant), Asset: glasshouse.AssetID(id), Kind: kind, Version: version})
	}
	return jobs, mapErr(op, rows.Err(), "rows")
}

// PatchAsset stores the note, collection and legal hold of an asset and
// appends ev in the same transaction.
func (db *DB) PatchAsset(ctx context.Context, a *glasshouse.Asset, ev glasshouse.AuditEvent) error {
	const op = "postgres.PatchAsset"
	return db.writeTx(ctx, op, func(tx *Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE gh_assets SET note = ?, collection = ?, legal_hold = ? WHERE tenant = ? AND id = ?`,
			a.Note, a.Collection, boolInt(a.LegalHold), string(a.Tenant), string(a.ID))
		if err != nil {
			return mapErr(op, err, "asset "+string(a.ID))
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return glasshouse.Errorf(op, glasshouse.ErrNotExist, "asset %s not found", a.ID)
		}
		_, err = db.appendTx(ctx, tx, op, ev)
		return err
	})
}
